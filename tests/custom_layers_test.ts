import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { BilinearResize, FrozenModel } from "../lib/models/custom_layers.ts";
import { loadModel, saveModel } from "../lib/models/model_io.ts";

await tf.setBackend("cpu");

Deno.test("tfjs' own resizing layer still reports a broken output shape (why BilinearResize exists)", () => {
  const input = tf.input({ shape: [64, 64, 3] });
  const out = tf.layers.resizing({ height: 224, width: 224 }).apply(input) as tf.SymbolicTensor;
  // If this starts failing, tfjs fixed Resizing and BilinearResize could be retired.
  assert.deepEqual(out.shape, [224, 224, 64]);
});

Deno.test("BilinearResize keeps the batch and channel dimensions of its output shape", () => {
  const input = tf.input({ shape: [64, 48, 3] });
  const out = new BilinearResize({ height: 224, width: 200 }).apply(input) as tf.SymbolicTensor;
  assert.deepEqual(out.shape, [null, 224, 200, 3]);
  assert.throws(() => new BilinearResize({ height: 0, width: 3 }), /positive integer height/);
});

Deno.test("BilinearResize matches tf.image.resizeBilinear with half-pixel centres", () => {
  const x = tf.randomUniform([2, 5, 7, 3], 0, 1, "float32", 11);
  const layer = new BilinearResize({ height: 9, width: 4 });
  const got = (layer.apply(x) as tf.Tensor).arraySync();
  const want = tf.image.resizeBilinear(x as tf.Tensor4D, [9, 4], false, true).arraySync();
  assert.deepEqual(got, want);
  // Upscaling a constant image keeps it constant.
  const ones = (layer.apply(tf.ones([1, 5, 7, 3])) as tf.Tensor).dataSync();
  assert.ok(ones.every((v) => Math.abs(v - 1) < 1e-6));
});

function tinyBnModel(): { base: FrozenModel; model: tf.LayersModel } {
  const baseInput = tf.input({ shape: [4, 4, 2] });
  let y = tf.layers.conv2d({ filters: 3, kernelSize: 1, name: "c" }).apply(
    baseInput,
  ) as tf.SymbolicTensor;
  y = tf.layers.batchNormalization({ name: "bn" }).apply(y) as tf.SymbolicTensor;
  const base = new FrozenModel({ inputs: baseInput, outputs: y, name: "frozen" });
  const input = tf.input({ shape: [4, 4, 2] });
  let z = base.apply(input) as tf.SymbolicTensor;
  z = tf.layers.flatten().apply(z) as tf.SymbolicTensor;
  z = tf.layers.dense({ units: 1, activation: "sigmoid", name: "head" }).apply(
    z,
  ) as tf.SymbolicTensor;
  return { base, model: tf.model({ inputs: input, outputs: z }) };
}

Deno.test("a FrozenModel has no trainable weights and marks every layer non-trainable", () => {
  const { base, model } = tinyBnModel();
  assert.equal(base.trainable, false);
  assert.ok(base.layers.every((l) => !l.trainable));
  assert.equal(base.trainableWeights.length, 0);
  assert.deepEqual(model.trainableWeights.map((w) => w.originalName), ["head/kernel", "head/bias"]);
});

Deno.test("fit leaves a FrozenModel's weights and BatchNormalization statistics untouched", async () => {
  const { base, model } = tinyBnModel();
  const before = base.getWeights().map((w) => w.arraySync());
  const headBefore = model.getLayer("head").getWeights()[0].arraySync();
  model.compile({ optimizer: tf.train.sgd(0.5), loss: "binaryCrossentropy" });
  const x = tf.randomUniform([8, 4, 4, 2], 0, 5, "float32", 5);
  const y = tf.tensor2d([[0], [1], [0], [1], [0], [1], [0], [1]]);
  await model.fit(x, y, { epochs: 2, batchSize: 4, verbose: 0 });
  assert.deepEqual(base.getWeights().map((w) => w.arraySync()), before);
  assert.notDeepEqual(model.getLayer("head").getWeights()[0].arraySync(), headBefore);
  tf.dispose([x, y]);
});

Deno.test("without FrozenModel, tfjs' fit moves a non-trainable BatchNormalization's statistics", async () => {
  // The control for the test above: plain tf.model + trainable = false is not enough in tfjs.
  const baseInput = tf.input({ shape: [4, 4, 2] });
  const bn = tf.layers.batchNormalization({ name: "bn" });
  const base = tf.model({ inputs: baseInput, outputs: bn.apply(baseInput) as tf.SymbolicTensor });
  base.trainable = false;
  const input = tf.input({ shape: [4, 4, 2] });
  let z = base.apply(input) as tf.SymbolicTensor;
  z = tf.layers.flatten().apply(z) as tf.SymbolicTensor;
  z = tf.layers.dense({ units: 1, activation: "sigmoid" }).apply(z) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: z });
  const movingMean = () => bn.getWeights()[2].dataSync().slice();
  const before = movingMean();
  model.compile({ optimizer: "sgd", loss: "binaryCrossentropy" });
  const x = tf.randomUniform([4, 4, 4, 2], 0, 5, "float32", 5);
  await model.fit(x, tf.tensor2d([[0], [1], [0], [1]]), { epochs: 1, verbose: 0 });
  assert.notDeepEqual(movingMean(), before);
  x.dispose();
});

Deno.test("BilinearResize and FrozenModel survive saveModel and loadModel", async () => {
  const dir = await Deno.makeTempDir({ prefix: "custom_layers_test_" });
  try {
    const { base } = tinyBnModel(); // takes [4, 4, 2]
    const input = tf.input({ shape: [3, 3, 2] });
    let y = new BilinearResize({ height: 4, width: 4 }).apply(input) as tf.SymbolicTensor;
    y = base.apply(y) as tf.SymbolicTensor;
    y = tf.layers.flatten().apply(y) as tf.SymbolicTensor;
    y = tf.layers.dense({ units: 1 }).apply(y) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: y });
    await saveModel(model, `${dir}/m`);
    const json = await Deno.readTextFile(`${dir}/m/model.json`);
    assert.ok(json.includes('"class_name":"BilinearResize"'));
    assert.ok(json.includes('"class_name":"FrozenModel"'));
    const { model: loaded } = await loadModel(`${dir}/m`);
    const x = tf.randomUniform([2, 3, 3, 2]);
    assert.deepEqual(
      (loaded.predict(x) as tf.Tensor).dataSync(),
      (model.predict(x) as tf.Tensor).dataSync(),
    );
    const frozen = loaded.getLayer("frozen");
    assert.ok(frozen instanceof FrozenModel);
    assert.equal(frozen.trainableWeights.length, 0);
    assert.equal(loaded.trainableWeights.length, 2);
    x.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
