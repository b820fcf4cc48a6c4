import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  checkClassWeight,
  classWeightBalanced,
  ClassWeightError,
  createWeightedTrainStep,
} from "../lib/training/class_weight.ts";
import { createDataParallelTrainStep } from "../lib/training/parallel.ts";
import type { LabeledBatch } from "../lib/training/fit.ts";

await tf.setBackend("cpu");
tf.env().set("PROD", true);

function model(seed: number, units = 1): tf.Sequential {
  const m = tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [3, 3, 2] }),
      tf.layers.dense({
        units: 4,
        activation: "relu",
        kernelInitializer: tf.initializers.glorotUniform({ seed }),
      }),
      tf.layers.dense({
        units,
        activation: units === 1 ? "sigmoid" : "softmax",
        kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }),
      }),
    ],
  });
  m.compile({
    optimizer: tf.train.adam(0.05),
    loss: units === 1 ? "binaryCrossentropy" : "categoricalCrossentropy",
    metrics: ["accuracy"],
  });
  return m;
}

function batch(n: number, seed: number, classes = 2): LabeledBatch {
  let s = seed;
  const rand = () => (s = (s * 1664525 + 1013904223) % 4294967296) / 4294967296;
  const xs = Float32Array.from({ length: n * 18 }, rand);
  const labels = Array.from({ length: n }, (_, i) => (i % 5 === 0 ? 1 : 0) % classes);
  const ys = classes === 2 ? Float32Array.from(labels) : Float32Array.from(
    labels.flatMap((l) => Array.from({ length: classes }, (_, c) => +(c === l))),
  );
  return { xs, ys, size: n, shape: [n, 3, 3, 2] };
}

function weightsOf(m: tf.LayersModel): number[] {
  return m.getWeights().flatMap((w) => [...w.dataSync()]);
}

function maxDiff(a: number[], b: number[]): number {
  return Math.max(...a.map((v, i) => Math.abs(v - b[i])));
}

Deno.test("balanced weights are n / (classes * count), as scikit-learn's compute_class_weight", () => {
  assert.deepEqual(classWeightBalanced([0, 0, 0, 1], 2), [4 / 6, 2]);
  assert.deepEqual(classWeightBalanced([0, 1, 2, 2], 3), [4 / 3, 4 / 3, 4 / 6]);
  assert.throws(() => classWeightBalanced([0, 0], 2), /class 1 has none/);
});

Deno.test("class weights are checked against the model's classes", () => {
  const m = model(1);
  assert.deepEqual(checkClassWeight([1, 3], m), [1, 3]);
  assert.throws(() => checkClassWeight([1], m), ClassWeightError);
  assert.throws(
    () => checkClassWeight([1, -2], m),
    /classWeight must hold 2 finite weights >= 0 \(one per class of the model's 1-unit output\), got \[1, -2\]/,
  );
  assert.throws(() => checkClassWeight([1, NaN], m), ClassWeightError);
  m.dispose();
});

Deno.test("with every weight 1 the weighted step is model.trainOnBatch", async () => {
  const a = model(3), b = model(3);
  const step = createWeightedTrainStep(a, [1, 1]);
  for (let i = 0; i < 3; i++) {
    const data = batch(10, i);
    const r = await step(data);
    const xs = tf.tensor4d(data.xs, [10, 3, 3, 2]);
    const ys = tf.tensor2d(data.ys!, [10, 1]);
    const out = await b.trainOnBatch(xs, ys) as number[];
    tf.dispose([xs, ys]);
    assert.ok(Math.abs(r.loss - out[0]) < 1e-5, `loss ${r.loss} vs trainOnBatch ${out[0]}`);
    assert.ok(Math.abs(r.accuracy - out[1]) < 1e-6);
  }
  assert.ok(maxDiff(weightsOf(a), weightsOf(b)) < 1e-5);
  a.dispose();
  b.dispose();
});

Deno.test("class weights train like tfjs' own fit(classWeight) on the same batches", async () => {
  for (const units of [1, 3]) {
    const classes = units === 1 ? 2 : 3;
    const ours = model(5, units), theirs = model(5, units);
    const weight = units === 1 ? [0.5, 4] : [0.5, 4, 1];
    const step = createWeightedTrainStep(ours, weight);
    for (let i = 0; i < 3; i++) {
      const data = batch(10, 10 + i, classes);
      await step(data);
      const xs = tf.tensor4d(data.xs, [10, 3, 3, 2]);
      const ys = tf.tensor2d(data.ys!, [10, units]);
      await theirs.fit(xs, ys, {
        batchSize: 10,
        epochs: 1,
        shuffle: false,
        verbose: 0,
        classWeight: Object.fromEntries(weight.map((w, c) => [c, w])),
      });
      tf.dispose([xs, ys]);
    }
    const diff = maxDiff(weightsOf(ours), weightsOf(theirs));
    assert.ok(diff < 1e-5, `${units}-unit output: weights differ by ${diff}`);
    ours.dispose();
    theirs.dispose();
  }
});

Deno.test("the weighted step leaks no tensors", async () => {
  const m = model(9);
  const step = createWeightedTrainStep(m, [1, 2]);
  await step(batch(6, 1)); // creates Adam's moments
  const before = tf.memory().numTensors;
  await step(batch(6, 2));
  await step(batch(6, 3));
  assert.equal(tf.memory().numTensors, before);
  m.dispose();
});

Deno.test("the data-parallel step weighs classes the same way", async () => {
  const single = model(7), split = model(7);
  const weight = [0.25, 3];
  const step = createWeightedTrainStep(single, weight);
  const parallel = await createDataParallelTrainStep(split, { workers: 1, classWeight: weight });
  try {
    for (let i = 0; i < 2; i++) {
      const data = batch(9, 20 + i);
      const a = await step(data);
      const b = await parallel.step({ ...data, xs: data.xs.slice(), ys: data.ys!.slice() });
      assert.ok(Math.abs(a.loss - b.loss) < 1e-5, `loss ${a.loss} vs ${b.loss}`);
    }
  } finally {
    await parallel.close();
  }
  assert.ok(maxDiff(weightsOf(single), weightsOf(split)) < 1e-5);
  single.dispose();
  split.dispose();
});
