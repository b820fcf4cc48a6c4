import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { createBaselineModel } from "../lib/models/baseline.ts";
import { countParams } from "../lib/models/summary.ts";

Deno.test("the baseline CNN has the article's layers, shapes and 813,217 parameters", () => {
  const model = createBaselineModel({ seed: 1 });
  try {
    assert.deepEqual(
      model.layers.map((l) => [l.name, l.getClassName(), l.outputShape, l.countParams()]),
      [
        ["conv2d", "Conv2D", [null, 62, 62, 32], 896],
        ["max_pooling2d", "MaxPooling2D", [null, 31, 31, 32], 0],
        ["conv2d_1", "Conv2D", [null, 29, 29, 32], 9248],
        ["max_pooling2d_1", "MaxPooling2D", [null, 14, 14, 32], 0],
        ["flatten", "Flatten", [null, 6272], 0],
        ["dense", "Dense", [null, 128], 802944],
        ["dense_1", "Dense", [null, 1], 129],
      ],
    );
    assert.deepEqual(countParams(model), { total: 813217, trainable: 813217, nonTrainable: 0 });
  } finally {
    model.dispose();
  }
});

Deno.test("the same seed gives the same initial weights; another seed does not", () => {
  const [a, b, c] = [1, 1, 2].map((seed) => createBaselineModel({ seed, compile: false }));
  try {
    const w = (m: tf.LayersModel) => Array.from(m.getWeights()[0].dataSync().slice(0, 20));
    assert.deepEqual(w(a), w(b));
    assert.notDeepEqual(w(a), w(c));
  } finally {
    [a, b, c].forEach((m) => m.dispose());
  }
});

Deno.test("more than two classes end in Dense(classes, softmax) with categorical cross-entropy", () => {
  const model = createBaselineModel({ classes: 3, seed: 1 });
  const out = model.layers.at(-1)!;
  assert.deepEqual(out.outputShape, [null, 3]);
  assert.equal(out.getConfig().activation, "softmax");
  assert.equal(model.loss, "categoricalCrossentropy");
  assert.equal(model.countParams(), 813_217 + 2 * 129, "two more units of 128 weights + bias");
  const two = createBaselineModel({ classes: 2, seed: 1 });
  assert.equal(two.loss, "binaryCrossentropy");
  assert.deepEqual(two.layers.at(-1)!.outputShape, [null, 1]);
  assert.throws(
    () => createBaselineModel({ classes: 1 }),
    /classes must be a whole number of at least 2/,
  );
  assert.throws(() => createBaselineModel({ classes: 2.5 }), /got 2.5/);
  model.dispose();
  two.dispose();
});
