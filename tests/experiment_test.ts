import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { initBackend } from "../lib/training/runtime.ts";
import { experimentConfig } from "../lib/config.ts";
import {
  classModeFor,
  composeTransferModel,
  createArticleFlows,
  extractFeatures,
  extractTransferFeatures,
  FeatureExtractionStopped,
  featureExtractor,
  trainBaseline,
  trainTransfer,
} from "../lib/training/experiment.ts";
import type { PretrainedBase } from "../lib/models/base.ts";
import { loadModel, saveModel } from "../lib/models/model_io.ts";
import { silentReporter } from "../lib/training/progress.ts";
import { makeArticleLayout, withTempDir } from "./fixtures.ts";

await initBackend("wasm", { log: null, skipProbe: true });

/** A small frozen conv base, standing in for VGG16 in fast tests. */
function tinyBase(): PretrainedBase {
  const input = tf.input({ shape: [16, 16, 3] });
  const conv = tf.layers.conv2d({ filters: 4, kernelSize: 3, activation: "relu", trainable: false })
    .apply(input) as tf.SymbolicTensor;
  const pooled = tf.layers.maxPooling2d({ poolSize: 2, trainable: false }).apply(
    conv,
  ) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: pooled, name: "tiny_base" });
  return {
    name: "tiny",
    inputShape: [16, 16, 3],
    preprocessor: [],
    preprocessing: "none",
    model,
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

async function fixtureFlows(dir: string) {
  const data = await makeArticleLayout(join(dir, "data"), {
    train: { cars: 6, planes: 6 },
    val: { cars: 2, planes: 2 },
    test: { cars: 1, planes: 1 },
  });
  const lines: string[] = [];
  const flows = await createArticleFlows(data, config, { log: (l) => lines.push(l) });
  return { flows, lines };
}

Deno.test("the article's flows print Keras' Found lines and carry the input preparation", async () => {
  await withTempDir(async (dir) => {
    const { flows, lines } = await fixtureFlows(dir);
    assert.deepEqual(lines, [
      "Found 12 images belonging to 2 classes.",
      "Found 4 images belonging to 2 classes.",
    ]);
    assert.deepEqual(flows.inputSpec, {
      classNames: ["cars", "planes"],
      targetSize: [16, 16],
      interpolation: "nearest",
      rescale: 1 / 255,
    });
  });
});

Deno.test("feature extraction covers every image of one pass with its label", async () => {
  await withTempDir(async (dir) => {
    const { flows } = await fixtureFlows(dir);
    const base = tinyBase();
    const { features, labels, shape } = await extractFeatures(featureExtractor(base), flows.val);
    assert.deepEqual(shape, [7, 7, 4]);
    assert.equal(features.length, 4 * 7 * 7 * 4);
    assert.deepEqual(Array.from(labels).sort(), [0, 0, 1, 1]);
  });
});

Deno.test("an aborted signal stops feature extraction before the next batch, saying how far it got", async () => {
  await withTempDir(async (dir) => {
    const { flows } = await fixtureFlows(dir);
    const extractor = featureExtractor(tinyBase());
    const controller = new AbortController();
    let batches = 0;
    const predict = async (xs: Float32Array, shape: readonly number[]) => {
      batches++;
      controller.abort(); // the Stop button during the first batch
      const out = tf.tidy(() => extractor.predict(tf.tensor(xs, [...shape])) as tf.Tensor);
      const data = await out.data() as Float32Array;
      out.dispose();
      return data;
    };
    const error = await extractFeatures(extractor, flows.train, predict, controller.signal)
      .then(() => null, (e) => e);
    assert.ok(error instanceof FeatureExtractionStopped, String(error));
    assert.match(error.message, /after \d+ of 12 images of .*training_set: nothing was trained/);
    assert.equal(batches, 1);
  });
});

for (const mode of ["features", "augmented"] as const) {
  Deno.test(`transfer learning in ${mode} mode trains only the head and saves a whole image model`, async () => {
    await withTempDir(async (dir) => {
      const { flows } = await fixtureFlows(dir);
      const base = tinyBase();
      const frozenBefore = base.model.getWeights().map((w) => Array.from(w.dataSync()));
      const lines: string[] = [];
      const result = await trainTransfer(base, flows, config, {
        mode,
        reporter: silentReporter(),
        log: (l) => lines.push(l),
      });
      assert.equal(result.fit.history.history.loss.length, 2);
      assert.ok(result.fit.history.history.val_accuracy.every(Number.isFinite));
      assert.deepEqual(base.model.getWeights().map((w) => Array.from(w.dataSync())), frozenBefore);
      assert.equal(result.model.inputs[0].shape.join(","), ",16,16,3");
      assert.equal(
        result.model.trainableWeights.length,
        4,
        "only the head's two Dense layers (kernel and bias each) train",
      );
      if (mode === "features") assert.ok(lines.some((l) => l.startsWith("Features ready")));
      else assert.ok(lines.some((l) => l.includes("end to end")));
      const x = tf.randomUniform([2, 16, 16, 3]);
      const before = result.model.predict(x) as tf.Tensor;
      await saveModel(result.model, join(dir, "m"));
      const { model } = await loadModel(join(dir, "m"));
      const after = model.predict(x) as tf.Tensor;
      assert.deepEqual(Array.from(after.dataSync()), Array.from(before.dataSync()));
      tf.dispose([x, before, after]);
      model.dispose();
    });
  });
}

Deno.test("composing base and head shares their weights", () => {
  const base = tinyBase();
  const head = tf.sequential({
    layers: [tf.layers.flatten({ inputShape: [7, 7, 4] }), tf.layers.dense({ units: 1 })],
  });
  const model = composeTransferModel(base, head);
  assert.equal(model.countParams(), base.model.countParams() + head.countParams());
  head.layers[1].setWeights([tf.ones([196, 1]), tf.zeros([1])]);
  const x = tf.randomUniform([1, 16, 16, 3]);
  const viaModel = (model.predict(x) as tf.Tensor).dataSync()[0];
  const viaParts = (base.model.predict(x) as tf.Tensor).sum().dataSync()[0];
  assert.ok(Math.abs(viaModel - viaParts) < 1e-4 * Math.max(1, Math.abs(viaParts)));
});

async function threeClassFlows(dir: string, settings = {}) {
  const data = await makeArticleLayout(join(dir, "data3"), {
    train: { birds: 4, cats: 4, dogs: 4 },
    val: { birds: 2, cats: 2, dogs: 2 },
    test: { birds: 1, cats: 1, dogs: 1 },
  });
  const lines: string[] = [];
  const flows = await createArticleFlows(data, config, { log: (l) => lines.push(l), ...settings });
  return { flows, lines, data };
}

Deno.test("three class folders give categorical flows and one-hot feature labels", async () => {
  await withTempDir(async (dir) => {
    const { flows, lines } = await threeClassFlows(dir);
    assert.deepEqual(lines, [
      "Found 12 images belonging to 3 classes.",
      "Found 6 images belonging to 3 classes.",
    ]);
    assert.equal(flows.numClasses, 3);
    assert.equal(flows.train.classMode, "categorical");
    assert.equal(classModeFor(2), "binary");
    assert.deepEqual(flows.inputSpec.classNames, ["birds", "cats", "dogs"]);
    const { labels } = await extractFeatures(featureExtractor(tinyBase()), flows.val);
    assert.equal(labels.length, 6 * 3);
    const rows = Array.from({ length: 6 }, (_, i) => Array.from(labels.slice(i * 3, i * 3 + 3)));
    for (const r of rows) assert.deepEqual([...r].sort(), [0, 0, 1]);
    // The validation flow shuffles, so compare the classes seen, not their order.
    assert.deepEqual(rows.map((r) => r.indexOf(1)).sort(), [0, 0, 1, 1, 2, 2]);
  });
});

Deno.test("validationSplit cuts one folder of class folders into Keras' two subsets", async () => {
  await withTempDir(async (dir) => {
    const data = await makeArticleLayout(join(dir, "d"), {
      train: { birds: 5, cats: 5, dogs: 5 },
      val: { birds: 1, cats: 1, dogs: 1 },
      test: { birds: 1, cats: 1, dogs: 1 },
    });
    const lines: string[] = [];
    const flows = await createArticleFlows(join(data, "training_set"), config, {
      validationSplit: 0.2,
      log: (l) => lines.push(l),
    });
    assert.deepEqual(lines, [
      "Found 12 images belonging to 3 classes.",
      "Found 3 images belonging to 3 classes.",
    ]);
    assert.equal(flows.validationSplit, 0.2);
    const train = new Set(flows.train.files);
    assert.ok(flows.val.files.every((f) => !train.has(f)), "no image in both subsets");
    // Features mode re-reads the training subset only, not the validation images.
    const result = await trainTransfer(tinyBase(), flows, config, {
      reporter: silentReporter(),
      log: (l) => lines.push(l),
    });
    assert.ok(lines.filter((l) => l === "Found 12 images belonging to 3 classes.").length >= 2);
    result.model.dispose();
  });
});

for (const mode of ["features", "augmented"] as const) {
  Deno.test(`a 3-class transfer model in ${mode} mode ends in a softmax over 3`, async () => {
    await withTempDir(async (dir) => {
      const { flows } = await threeClassFlows(dir);
      const result = await trainTransfer(tinyBase(), flows, config, {
        mode,
        reporter: silentReporter(),
        log: () => {},
      });
      assert.equal(result.fit.history.history.loss.length, 2);
      assert.ok(result.fit.history.history.loss.every(Number.isFinite));
      assert.deepEqual(result.model.outputs[0].shape, [null, 3]);
      const y = tf.tidy(() => result.model.predict(tf.randomUniform([2, 16, 16, 3])) as tf.Tensor);
      const sums = await y.sum(1).data();
      for (const s of sums) assert.ok(Math.abs(s - 1) < 1e-5);
      y.dispose();
      result.model.dispose();
    });
  });
}

Deno.test("trainBaseline on 3 classes, weighted by class_weight", async () => {
  await withTempDir(async (dir) => {
    const { flows } = await threeClassFlows(dir);
    const result = await trainBaseline(flows, config, {
      reporter: silentReporter(),
      classWeight: [1, 2, 3],
    });
    assert.deepEqual(result.model.outputs[0].shape, [null, 3]);
    assert.ok(result.fit.history.history.loss.every(Number.isFinite));
    result.model.dispose();
    await assert.rejects(
      trainBaseline(flows, config, { reporter: silentReporter(), classWeight: [1, 2] }),
      /classWeight must hold 3 finite weights/,
    );
  });
});

Deno.test("one class folder is refused before any Found line, naming the folder", async () => {
  await withTempDir(async (dir) => {
    const data = await makeArticleLayout(join(dir, "one"), {
      train: { cats: 3 },
      val: { cats: 1 },
      test: { cats: 1 },
    });
    const lines: string[] = [];
    await assert.rejects(
      createArticleFlows(data, config, { log: (l) => lines.push(l) }),
      /training_set has 1 class folder\(s\) \(cats\); a classifier needs at least 2/,
    );
    assert.deepEqual(lines, []);
  });
});

Deno.test("extracted features are reused across seeds: the base does not run again", async () => {
  await withTempDir(async (dir) => {
    const { flows } = await fixtureFlows(dir);
    const base = tinyBase();
    const lines: string[] = [];
    const log = (l: string) => lines.push(l);
    const features = await extractTransferFeatures(base, flows, config, { log });
    assert.equal(features.train.labels.length, 12);
    assert.equal(features.val.labels.length, 4);
    const extracting = lines.filter((l) => l.startsWith("Extracting")).length;
    assert.equal(extracting, 2);
    const again = await trainTransfer(base, flows, { ...config, seed: 7 }, {
      features,
      reporter: silentReporter(),
      log,
    });
    assert.equal(lines.filter((l) => l.startsWith("Extracting")).length, extracting);
    assert.equal(again.featureSeconds, 0);
    assert.equal(again.features, features);
    assert.equal(again.fit.history.epoch.length, config.epochs);
    again.model.dispose();
  });
});
