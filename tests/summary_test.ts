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

Deno.test("maxLayers keeps the first and last layers and the whole model's counts", () => {
  const model = createBaselineModel({ compile: false }); // 7 layers
  try {
    const full = summarize(model);
    const short = summarize(model, { maxLayers: 4 });
    const rows = (text: string) =>
      text.split("\n").filter((l) => /^\w+ \(\w+/.test(l) && !l.startsWith("Layer "));
    assert.deepEqual(rows(short).map((l) => l.split(" ")[0]), [
      "conv2d",
      "max_pooling2d",
      "dense",
      "dense_1",
    ]);
    assert.ok(short.includes("... 3 more layers (leave out maxLayers to see them) ..."));
    assert.equal(rows(full).length, 7);
    assert.ok(short.endsWith(full.slice(full.indexOf("Total params:"))), "same totals");
    assert.equal(summarize(model, { maxLayers: 7 }), full, "no cut when every layer fits");
    assert.throws(
      () => summarize(model, { maxLayers: 1 }),
      /maxLayers must be .* at least 2 \(got 1\)/,
    );
  } finally {
    model.dispose();
  }
});
