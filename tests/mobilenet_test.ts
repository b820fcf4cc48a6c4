import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { createMobileNetBase, MobileNetError } from "../lib/models/mobilenet.ts";
import type { PretrainedBase } from "../lib/models/base.ts";
import { loadModel, saveModel } from "../lib/models/model_io.ts";
import { EMBEDDED_MOBILENET_DIR } from "../lib/models/bases.ts";

// wasm runs the real MobileNet's inference several times faster than cpu.
await tf.setBackend("wasm");

/** A MobileNet-v1-shaped chain (conv, BN, relu6, depthwise, ...) whose last block has the real one's names. */
function tinyMobileNet(side = 16): tf.LayersModel {
  const input = tf.input({ shape: [side, side, 3], name: "input_1" });
  let x = tf.layers.conv2d({
    filters: 4,
    kernelSize: 3,
    strides: 2,
    padding: "same",
    useBias: false,
    name: "conv1",
  })
    .apply(input) as tf.SymbolicTensor;
  const bnRelu = (prefix: string) => {
    x = tf.layers.batchNormalization({
      name: `${prefix}_bn`,
      movingMeanInitializer: tf.initializers.constant({ value: -0.05 }),
      betaInitializer: tf.initializers.constant({ value: 0.1 }),
      movingVarianceInitializer: tf.initializers.constant({ value: 0.25 }),
    }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.activation({ activation: "relu6", name: `${prefix}_relu` }).apply(
      x,
    ) as tf.SymbolicTensor;
  };
  bnRelu("conv1");
  x = tf.layers.depthwiseConv2d({
    kernelSize: 3,
    padding: "same",
    useBias: false,
    name: "conv_dw_13",
  })
    .apply(x) as tf.SymbolicTensor;
  bnRelu("conv_dw_13");
  x = tf.layers.conv2d({ filters: 8, kernelSize: 1, useBias: false, name: "conv_pw_13" }).apply(
    x,
  ) as tf.SymbolicTensor;
  bnRelu("conv_pw_13");
  x = tf.layers.globalAveragePooling2d({ name: "global_average_pooling2d_1" }).apply(
    x,
  ) as tf.SymbolicTensor;
  x = tf.layers.dense({ units: 5, activation: "softmax", name: "act_softmax" }).apply(
    x,
  ) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: x });
}

/** input -> preprocessor -> frozen base -> Flatten -> Dense(1, sigmoid), as the transfer model. */
function transferModel(base: PretrainedBase): tf.LayersModel {
  const input = tf.input({ shape: base.inputShape });
  let x: tf.SymbolicTensor = input;
  for (const layer of base.preprocessor) x = layer.apply(x) as tf.SymbolicTensor;
  x = base.model.apply(x) as tf.SymbolicTensor;
  x = tf.layers.flatten().apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ units: 1, activation: "sigmoid", name: "head" }).apply(
    x,
  ) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: x });
}

async function withTinyWeights(fn: (weights: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mobilenet_test_" });
  try {
    await saveModel(tinyMobileNet(), join(dir, "tiny"));
    await fn(join(dir, "tiny"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function predictions(model: tf.LayersModel, x: tf.Tensor): Float32Array {
  return tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync() as Float32Array);
}

Deno.test("the base is cut at the feature layer, frozen, and shares the loaded weights", async () => {
  await withTinyWeights(async (weights) => {
    const base = await createMobileNetBase({
      weights,
      inputShape: [8, 8, 3],
      resizeTo: 16,
      featureLayer: "conv_pw_13_relu",
    });
    assert.equal(base.name, "mobilenet");
    assert.deepEqual(base.inputShape, [8, 8, 3]);
    assert.equal(base.weightsSource, weights);
    assert.deepEqual(base.model.inputs[0].shape, [null, 16, 16, 3]);
    assert.deepEqual(base.model.outputs[0].shape, [null, 8, 8, 8]);
    assert.equal(base.model.layers.at(-1)?.name, "conv_pw_13_relu");
    assert.ok(base.model.layers.every((l) => !l.trainable));
    assert.equal(base.model.trainableWeights.length, 0);
    // Same conv1 kernel as the file.
    const { model: full } = await loadModel(weights);
    assert.deepEqual(
      base.model.getLayer("conv1").getWeights()[0].arraySync(),
      full.getLayer("conv1").getWeights()[0].arraySync(),
    );
  });
});

Deno.test("the preprocessor resizes bilinearly to resizeTo and maps [0, 1] to [-1, 1]", async () => {
  await withTinyWeights(async (weights) => {
    const base = await createMobileNetBase({ weights, inputShape: [8, 8, 3], resizeTo: 16 });
    assert.deepEqual(base.preprocessor.map((l) => l.getClassName()), [
      "BilinearResize",
      "Rescaling",
    ]);
    assert.match(
      base.preprocessing,
      /^resize 8x8 -> 16x16 \(bilinear.*then x \* 2 - 1 to \[-1, 1\]/,
    );
    const x = tf.tensor4d([0, 0.5, 1, 0.25], [1, 2, 2, 1]).tile([1, 4, 4, 3]);
    let y = x;
    for (const layer of base.preprocessor) y = layer.apply(y) as tf.Tensor4D;
    assert.deepEqual(y.shape, [1, 16, 16, 3]);
    const v = y.dataSync();
    assert.ok(Math.min(...v) >= -1 - 1e-6 && Math.max(...v) <= 1 + 1e-6);
    const quarter = tf.tidy(() => {
      let z = tf.fill([1, 8, 8, 3], 0.25);
      for (const layer of base.preprocessor) z = layer.apply(z) as tf.Tensor;
      return z.dataSync();
    });
    assert.ok(quarter.every((q) => Math.abs(q + 0.5) < 1e-6), "0.25 maps to -0.5");
    const same = await createMobileNetBase({ weights, inputShape: [16, 16, 3], resizeTo: 16 });
    assert.deepEqual(same.preprocessor.map((l) => l.getClassName()), ["Rescaling"]);
    const native = await createMobileNetBase({ weights, inputShape: [8, 8, 3], resizeTo: null });
    assert.deepEqual(native.model.outputs[0].shape, [null, 4, 4, 8]);
    tf.dispose([x, y]);
  });
});

Deno.test("training the transfer model changes only the head, not the base or its BN statistics", async () => {
  await withTinyWeights(async (weights) => {
    const base = await createMobileNetBase({ weights, inputShape: [8, 8, 3], resizeTo: 16 });
    const model = transferModel(base);
    const before = base.model.getWeights().map((w) => w.dataSync().slice());
    const headBefore = model.getLayer("head").getWeights()[0].dataSync().slice();
    model.compile({ optimizer: tf.train.sgd(0.1), loss: "binaryCrossentropy" });
    const x = tf.randomUniform([4, 8, 8, 3], 0, 1, "float32", 2);
    const y = tf.tensor2d([[0], [1], [0], [1]]);
    await model.fit(x, y, { epochs: 1, batchSize: 4, verbose: 0 });
    assert.deepEqual(base.model.getWeights().map((w) => w.dataSync()), before);
    assert.notDeepEqual(model.getLayer("head").getWeights()[0].dataSync(), headBefore);
    tf.dispose([x, y]);
  });
});

Deno.test("the whole transfer model saves and reloads with identical predictions", async () => {
  await withTinyWeights(async (weights) => {
    const base = await createMobileNetBase({ weights, inputShape: [8, 8, 3], resizeTo: 16 });
    const model = transferModel(base);
    const out = `${weights}-transfer`;
    await saveModel(model, out, { metadata: { base: base.name } });
    const { model: loaded, metadata } = await loadModel(out);
    assert.deepEqual(metadata, { base: "mobilenet" });
    const x = tf.randomUniform([2, 8, 8, 3], 0, 1, "float32", 9);
    assert.deepEqual(predictions(loaded, x), predictions(model, x));
    assert.equal(loaded.trainableWeights.length, 2);
    x.dispose();
  });
});

Deno.test("an unknown feature layer or a non-chain model gives MobileNetError", async () => {
  await withTinyWeights(async (weights) => {
    await assert.rejects(
      () => createMobileNetBase({ weights, featureLayer: "conv_pw_99_relu" }),
      (err: unknown) =>
        err instanceof MobileNetError && /no layer "conv_pw_99_relu"/.test(err.message) &&
        /conv_pw_13_relu/.test(err.message),
    );
    await assert.rejects(
      () => createMobileNetBase({ weights, inputShape: [8, 8, 1] as [number, number, number] }),
      /inputShape must be \[height, width, 3\]/,
    );
    const input = tf.input({ shape: [4, 4, 3] });
    const a = tf.layers.conv2d({ filters: 3, kernelSize: 1, name: "a" }).apply(
      input,
    ) as tf.SymbolicTensor;
    const b = tf.layers.add({ name: "b" }).apply([a, input]) as tf.SymbolicTensor;
    await saveModel(tf.model({ inputs: input, outputs: b }), `${weights}-residual`);
    await assert.rejects(
      () => createMobileNetBase({ weights: `${weights}-residual`, featureLayer: "b", resizeTo: 4 }),
      /only chain models/,
    );
  });
});

Deno.test({
  name: "the embedded MobileNet v1 0.25 base gives finite 7x7x256 features and saves whole",
  fn: async () => {
    const base = await createMobileNetBase({ weights: EMBEDDED_MOBILENET_DIR });
    assert.deepEqual(base.model.outputs[0].shape, [null, 7, 7, 256]);
    assert.ok(base.model.layers.every((l) => !l.trainable));
    assert.equal(base.model.trainableWeights.length, 0);
    assert.equal(base.model.countParams(), 218544);

    const x = tf.randomUniform([2, 64, 64, 3], 0, 1, "float32", 4);
    const features = tf.tidy(() => {
      let y = x as tf.Tensor;
      for (const layer of base.preprocessor) y = layer.apply(y) as tf.Tensor;
      return base.model.predict(y) as tf.Tensor;
    });
    assert.deepEqual(features.shape, [2, 7, 7, 256]);
    const values = features.dataSync();
    assert.ok(values.every(Number.isFinite));
    assert.ok(Math.max(...values) > 0 && Math.max(...values) <= 6, "relu6 output range");

    const model = transferModel(base);
    const dir = await Deno.makeTempDir({ prefix: "mobilenet_test_real_" });
    try {
      await saveModel(model, join(dir, "transfer"));
      const { model: loaded } = await loadModel(join(dir, "transfer"));
      assert.deepEqual(predictions(loaded, x), predictions(model, x));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
    tf.dispose([x, features]);
  },
});
