import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { initBackend } from "../lib/training/runtime.ts";
import { experimentConfig, FINE_TUNE_LEARNING_RATE } from "../lib/config.ts";
import { createArticleFlows, trainTransfer } from "../lib/training/experiment.ts";
import { fineTune, FineTuneError, topBlockLayers } from "../lib/training/fine_tune.ts";
import type { PretrainedBase } from "../lib/models/base.ts";
import { FrozenModel } from "../lib/models/custom_layers.ts";
import { silentReporter } from "../lib/training/progress.ts";
import { createDataParallelTrainStep } from "../lib/training/parallel.ts";
import { makeArticleLayout, withTempDir } from "./fixtures.ts";

await initBackend("wasm", { log: null, skipProbe: true });

/** A two-block MobileNet v1 in miniature (depthwise, BN, ReLU6, pointwise, BN, ReLU6) x 2. */
function tinyMobileNet(): PretrainedBase {
  const input = tf.input({ shape: [16, 16, 3] });
  let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, name: "conv1" }).apply(
    input,
  ) as tf.SymbolicTensor;
  for (const i of [1, 2]) {
    x = tf.layers.depthwiseConv2d({
      kernelSize: 3,
      padding: "same",
      useBias: false,
      name: `conv_dw_${i}`,
    }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.batchNormalization({ name: `conv_dw_${i}_bn` }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.reLU({ maxValue: 6, name: `conv_dw_${i}_relu` }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.conv2d({ filters: 4, kernelSize: 1, useBias: false, name: `conv_pw_${i}` })
      .apply(x) as tf.SymbolicTensor;
    x = tf.layers.batchNormalization({ name: `conv_pw_${i}_bn` }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.reLU({ maxValue: 6, name: `conv_pw_${i}_relu` }).apply(x) as tf.SymbolicTensor;
  }
  return {
    name: "mobilenet",
    inputShape: [16, 16, 3],
    preprocessor: [tf.layers.rescaling({ scale: 2, offset: -1, name: "mobilenet_preprocess" })],
    preprocessing: "x * 2 - 1",
    model: new FrozenModel({ inputs: input, outputs: x, name: "mobilenet_base" }),
    weightsSource: "random",
  };
}

const config = experimentConfig({
  quick: true,
  epochs: 2,
  stepsPerEpoch: 2,
  batchSize: 4,
  targetSize: [16, 16],
});

async function flowsIn(dir: string) {
  const data = await makeArticleLayout(join(dir, "data"), {
    train: { cars: 6, planes: 6 },
    val: { cars: 2, planes: 2 },
    test: { cars: 1, planes: 1 },
  });
  return await createArticleFlows(data, config, { log: () => {} });
}

const weightsOf = (base: PretrainedBase, name: string) =>
  base.model.getLayer(name).getWeights().map((w) => Array.from(w.dataSync()));

Deno.test("topBlockLayers: MobileNet's last depthwise/pointwise pair, VGG16's block5 convs", () => {
  const base = tinyMobileNet();
  assert.deepEqual(topBlockLayers(base), ["conv_dw_2", "conv_pw_2"]);
  const input = tf.input({ shape: [8, 8, 3] });
  let x = input as tf.SymbolicTensor;
  for (const name of ["block4_conv1", "block5_conv1", "block5_conv2", "block5_pool"]) {
    x = (name.endsWith("pool")
      ? tf.layers.maxPooling2d({ poolSize: 2, name })
      : tf.layers.conv2d({ filters: 2, kernelSize: 1, name })).apply(x) as tf.SymbolicTensor;
  }
  const vgg = { name: "vgg16", model: tf.model({ inputs: input, outputs: x }) };
  assert.deepEqual(topBlockLayers(vgg), ["block5_conv1", "block5_conv2"]);
  const other = { name: "tiny", model: tf.model({ inputs: input, outputs: input }) };
  assert.throws(() => topBlockLayers(other), /no block5_conv\* \(VGG16\) or conv_dw_N/);
});

Deno.test("fineTune trains the top block (not BN, not lower blocks) and restore() undoes it", async () => {
  await withTempDir(async (dir) => {
    const flows = await flowsIn(dir);
    const base = tinyMobileNet();
    const transfer = await trainTransfer(base, flows, config, {
      reporter: silentReporter(),
      log: () => {},
    });
    const before = {
      dw2: weightsOf(base, "conv_dw_2"),
      pw2: weightsOf(base, "conv_pw_2"),
      bn2: weightsOf(base, "conv_pw_2_bn"),
      dw1: weightsOf(base, "conv_dw_1"),
    };
    const lines: string[] = [];
    const tuned = await fineTune(transfer.model, base, flows, {
      epochs: 2,
      learningRate: 1e-2,
      reporter: silentReporter(),
      log: (l) => lines.push(l),
    });
    assert.deepEqual(tuned.unfrozen, ["conv_dw_2", "conv_pw_2"]);
    assert.match(
      lines.join("\n"),
      /Fine-tuning conv_dw_2, conv_pw_2 of mobilenet .*Adam 0\.01, 2 epochs/,
    );
    assert.equal(tuned.fit.history.epoch.length, 2);
    assert.ok(Number.isFinite(tuned.fit.history.history.val_loss[1]));
    // The unfrozen convolutions moved; BN (weights and moving statistics) and block 1 did not.
    assert.notDeepEqual(weightsOf(base, "conv_dw_2"), before.dw2);
    assert.notDeepEqual(weightsOf(base, "conv_pw_2"), before.pw2);
    assert.deepEqual(weightsOf(base, "conv_pw_2_bn"), before.bn2);
    assert.deepEqual(weightsOf(base, "conv_dw_1"), before.dw1);
    const trainable = tuned.model.trainableWeights.map((w) => w.originalName);
    assert.ok(trainable.includes("conv_dw_2/depthwise_kernel"));
    assert.ok(!trainable.some((n) => n.startsWith("conv_pw_2_bn") || n.startsWith("conv_dw_1")));
    tuned.restore();
    assert.deepEqual(weightsOf(base, "conv_dw_2"), before.dw2);
    assert.deepEqual(weightsOf(base, "conv_pw_2"), before.pw2);
    assert.equal(base.model.trainableWeights.length, 0, "frozen again after restore()");
    tuned.restore(); // a second call is harmless
    transfer.model.dispose();
  });
});

Deno.test("fineTune on two threads (a Worker replica) gives finite losses and moves the block", async () => {
  await withTempDir(async (dir) => {
    const flows = await flowsIn(dir);
    const base = tinyMobileNet();
    const transfer = await trainTransfer(base, flows, config, {
      reporter: silentReporter(),
      log: () => {},
    });
    const before = weightsOf(base, "conv_dw_2");
    const tuned = await fineTune(transfer.model, base, flows, {
      epochs: 1,
      learningRate: 1e-2,
      reporter: silentReporter(),
      log: () => {},
      trainStep: (m) => createDataParallelTrainStep(m, { workers: 1 }),
    });
    assert.ok(tuned.fit.history.history.loss.every(Number.isFinite));
    assert.notDeepEqual(weightsOf(base, "conv_dw_2"), before);
    tuned.restore();
    transfer.model.dispose();
  });
});

Deno.test("fineTune refuses unknown layers, weightless layers, bad settings, foreign models", async () => {
  await withTempDir(async (dir) => {
    const flows = await flowsIn(dir);
    const base = tinyMobileNet();
    const transfer = await trainTransfer(base, flows, config, {
      reporter: silentReporter(),
      log: () => {},
    });
    const quiet = { reporter: silentReporter(), log: () => {} };
    await assert.rejects(
      () => fineTune(transfer.model, base, flows, { ...quiet, layers: ["block5_conv1"] }),
      /no layer "block5_conv1"; pass names from its summary, e.g. conv_dw_2, conv_pw_2/,
    );
    await assert.rejects(
      () => fineTune(transfer.model, base, flows, { ...quiet, layers: ["conv_dw_2_relu"] }),
      /"conv_dw_2_relu" .* has no weights to train/,
    );
    await assert.rejects(
      () => fineTune(transfer.model, base, flows, { ...quiet, epochs: 0 }),
      (e: unknown) => e instanceof FineTuneError && /got epochs 0/.test(e.message),
    );
    const other = tinyMobileNet();
    await assert.rejects(
      () => fineTune(transfer.model, other, flows, quiet),
      /does not contain the mobilenet base/,
    );
    assert.equal(base.model.trainableWeights.length, 0, "still frozen after refusals");
    assert.equal(FINE_TUNE_LEARNING_RATE, 1e-5);
    transfer.model.dispose();
  });
});
