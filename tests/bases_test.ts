import assert from "node:assert/strict";
import { BaseOptionsError, createBase } from "../lib/models/bases.ts";

Deno.test("MobileNet without weights is refused with what to pass", async () => {
  await assert.rejects(
    createBase({ base: "mobilenet" }),
    (e: unknown) => e instanceof BaseOptionsError && /--weights DIR/.test(e.message),
  );
});

Deno.test("VGG16 with weights none is Keras' weights=None: the architecture, frozen, randomly initialised", async () => {
  const base = await createBase({ base: "vgg16", weights: "none" });
  try {
    assert.equal(base.name, "vgg16");
    assert.deepEqual(base.model.outputs[0].shape, [null, 2, 2, 512]);
    assert.equal(base.model.countParams(), 14714688);
    assert.equal(base.model.trainableWeights.length, 0);
    assert.match(base.weightsSource, /none/);
  } finally {
    base.model.dispose();
  }
});

Deno.test("an unknown base name is refused", async () => {
  await assert.rejects(
    createBase({ base: "resnet" as "vgg16" }),
    /Unknown base "resnet"/,
  );
});
