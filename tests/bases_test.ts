import assert from "node:assert/strict";
import { DownloadError } from "../lib/data/download.ts";
import {
  BaseOptionsError,
  createBase,
  EMBEDDED_MOBILENET_DIR,
  resolveBase,
} from "../lib/models/bases.ts";
import { closedPortUrl } from "./data_fixtures.ts";

const VGG16_FILE = "/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5";

Deno.test("MobileNet without weights is the embedded MobileNet v1 0.25; weights none is refused", async () => {
  const base = await createBase({ base: "mobilenet" });
  try {
    assert.equal(base.name, "mobilenet");
    assert.equal(base.weightsSource, EMBEDDED_MOBILENET_DIR);
    assert.deepEqual(base.model.outputs[0].shape, [null, 7, 7, 256]);
  } finally {
    base.model.dispose();
  }
  await assert.rejects(
    createBase({ base: "mobilenet", weights: "none" }),
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

Deno.test("the default base is VGG16 when its weights can be had, else the embedded MobileNet, said so", async () => {
  const lines: string[] = [];
  const url = closedPortUrl(VGG16_FILE);
  const cacheDir = await Deno.makeTempDir();
  try {
    const { base, choice } = await resolveBase({
      defaultVgg16Weights: url,
      cacheDir,
      log: (l) => lines.push(l),
    });
    try {
      assert.equal(base.name, "mobilenet");
      assert.equal(base.weightsSource, EMBEDDED_MOBILENET_DIR);
      assert.equal(choice.requested, "default");
      assert.equal(choice.used, "mobilenet");
      assert.match(choice.fallbackReason ?? "", /^Could not download/);
      assert.match(
        choice.summary,
        /^mobilenet \(the embedded MobileNet v1 0\.25, ImageNet weights\) in place of the default VGG16/,
      );
      const log = lines.join("\n");
      assert.match(log, /VGG16's ImageNet weights cannot be had/);
      assert.match(log, /Using the MobileNet v1 0\.25 embedded in the repository instead/);
      assert.match(log, /--weights PATH/);
    } finally {
      base.model.dispose();
    }
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("a base asked for by name never falls back", async () => {
  const url = closedPortUrl(VGG16_FILE);
  const cacheDir = await Deno.makeTempDir();
  try {
    // --base vgg16 --weights URL, and --weights URL alone (VGG16's file): the download error
    for (const base of ["vgg16", undefined] as const) {
      await assert.rejects(
        resolveBase({ base, weights: url, cacheDir, log: () => {} }),
        (e: unknown) => e instanceof DownloadError && e.message.includes(url),
      );
    }
    const { base, choice } = await resolveBase({ base: "mobilenet", log: () => {} });
    try {
      assert.deepEqual([choice.requested, choice.used, choice.fallbackReason], [
        "mobilenet",
        "mobilenet",
        undefined,
      ]);
      assert.equal(choice.weights, EMBEDDED_MOBILENET_DIR);
    } finally {
      base.model.dispose();
    }
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }
});
