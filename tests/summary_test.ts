import assert from "node:assert/strict";
import { createBaselineModel } from "../lib/models/baseline.ts";
import { countParams, formatCount, summarize } from "../lib/models/summary.ts";

Deno.test("the summary prints Keras' table with the totals", () => {
  const model = createBaselineModel({ compile: false });
  try {
    const text = summarize(model);
    const lines = text.split("\n");
    assert.equal(lines[0], 'Model: "sequential"');
    assert.equal(
      lines[2].trimEnd(),
      "Layer (type)                 Output Shape              Param #",
    );
    assert.equal(lines[4].trimEnd(), "conv2d (Conv2D)              (None, 62, 62, 32)        896");
    assert.ok(lines.includes("max_pooling2d_1 (MaxPooling2D(None, 14, 14, 32)        0         "));
    assert.ok(
      text.includes("Total params: 813,217\nTrainable params: 813,217\nNon-trainable params: 0"),
    );
    assert.equal(formatCount(14714688), "14,714,688");
  } finally {
    model.dispose();
  }
});

Deno.test("frozen layers count as non-trainable parameters", () => {
  const model = createBaselineModel({ compile: false });
  try {
    model.layers[0].trainable = false;
    assert.deepEqual(countParams(model), { total: 813217, trainable: 812321, nonTrainable: 896 });
  } finally {
    model.dispose();
  }
});
