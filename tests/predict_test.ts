import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import {
  accuracyOf,
  classScores,
  collectImages,
  confusionMatrix,
  formatAccuracyLine,
  formatClassScores,
  formatConfusionMatrix,
  formatPredictionTable,
  inputSpecFromMetadata,
  PredictError,
  predictImages,
} from "../lib/models/predict.ts";

import { makeTestFolder, rows } from "./prediction_fixtures.ts";

await tf.setBackend("cpu");
tf.env().set("PROD", true);

/** A "model" that outputs the mean pixel value: bright images are planes. */
function brightnessModel(): tf.LayersModel {
  const input = tf.input({ shape: [8, 8, 3] });
  const pooled = tf.layers.globalAveragePooling2d({}).apply(input) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 1, useBias: false, kernelInitializer: "ones" }).apply(
    pooled,
  ) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  model.layers[2].setWeights([tf.fill([3, 1], 1 / 3)]);
  return model;
}

const spec = {
  classNames: ["cars", "planes"],
  targetSize: [8, 8] as [number, number],
  interpolation: "nearest" as const,
  rescale: 1 / 255,
};

Deno.test("a folder with class subfolders gives true classes, and predictions are scored", async () => {
  const root = await makeTestFolder();
  const list = await collectImages([root], spec.classNames);
  assert.deepEqual(list.trueClasses, [0, 0, 0, 1, 1]);
  assert.deepEqual(list.names, [
    "cars/0.png",
    "cars/1.png",
    "cars/2.png",
    "planes/0.png",
    "planes/1.png",
  ]);
  const model = brightnessModel();
  const rows = await predictImages(model, list, spec, { batchSize: 2 });
  assert.equal(rows.length, 5);
  assert.ok(Math.abs(rows[0].probability - 20 / 255) < 1e-5);
  assert.deepEqual(rows.map((r) => r.predictedLabel), ["cars", "cars", "cars", "planes", "planes"]);
  assert.equal(formatAccuracyLine(rows), "correctly predicted 5 out of 5 images (100%)");
  assert.deepEqual(confusionMatrix(rows), [[3, 0], [0, 2]]);
  model.dispose();
  await Deno.remove(root, { recursive: true });
});

Deno.test("single files have no true class; the summary says so", async () => {
  const root = await makeTestFolder();
  const list = await collectImages([join(root, "planes", "0.png")], spec.classNames);
  const model = brightnessModel();
  const rows = await predictImages(model, list, spec);
  assert.equal(rows[0].trueClass, null);
  assert.equal(rows[0].correct, null);
  assert.equal(formatAccuracyLine(rows), "predicted 1 images (true classes unknown)");
  model.dispose();
  await Deno.remove(root, { recursive: true });
});

Deno.test("missing paths, non-image files and empty folders are clear errors", async () => {
  const root = await Deno.makeTempDir();
  await Deno.writeTextFile(join(root, "notes.txt"), "x");
  await assert.rejects(
    collectImages([join(root, "nope")], ["a", "b"]),
    (e) => e instanceof PredictError && /does not exist/.test(e.message),
  );
  await assert.rejects(
    collectImages([join(root, "notes.txt")], ["a", "b"]),
    /is not an image file/,
  );
  await assert.rejects(collectImages([root], ["a", "b"]), /holds no images/);
  await assert.rejects(collectImages([], ["a", "b"]), /No images given/);
  await Deno.remove(root, { recursive: true });
});

Deno.test("the summary line, accuracy, table and confusion matrix read like the article", () => {
  assert.equal(formatAccuracyLine(rows), "correctly predicted 2 out of 3 images (67%)");
  assert.deepEqual(accuracyOf(rows), { correct: 2, total: 3, accuracy: 2 / 3 });
  const table = formatPredictionTable(rows, "planes").split("\n");
  assert.equal(table[0], "file          P(planes)  predicted  true    correct");
  assert.equal(table[3], "cars/b.jpg    0.7000     planes     cars    NO");
  assert.equal(
    formatConfusionMatrix(confusionMatrix(rows), ["cars", "planes"]).split("\n")[1].replace(
      /\s+/g,
      " ",
    ),
    "cars 1 1",
  );
});

/** A 3-class "model": softmax over (dark, mid, bright) evidence from the mean pixel value. */
function threeClassModel(): tf.LayersModel {
  const input = tf.input({ shape: [8, 8, 3] });
  const pooled = tf.layers.globalAveragePooling2d({}).apply(input) as tf.SymbolicTensor;
  const dense = tf.layers.dense({ units: 3, activation: "softmax" });
  const out = dense.apply(pooled) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  // logits: dark -> class 0, bright -> class 2 (mean m in 0..1 per channel, summed over 3).
  const w = [[-10, 0, 10], [-10, 0, 10], [-10, 0, 10]].map((r) => r.map((v) => v / 3));
  dense.setWeights([tf.tensor2d(w), tf.tensor1d([5, 0, -5])]);
  return model;
}

Deno.test("a 3-class softmax model: every class's probability, the top class, a 3x3 matrix", async () => {
  const root = await makeTestFolder(); // cars (dark) x3, planes (bright) x2
  const names = ["cars", "mid", "planes"];
  const list = await collectImages([root], names);
  assert.deepEqual(list.trueClasses, [0, 0, 0, 2, 2]);
  const model = threeClassModel();
  const spec3 = { ...spec, classNames: names };
  const rows = await predictImages(model, list, spec3);
  for (const r of rows) {
    assert.equal(r.probabilities.length, 3);
    assert.ok(Math.abs(r.probabilities.reduce((a, b) => a + b, 0) - 1) < 1e-5);
    assert.equal(r.topProbability, Math.max(...r.probabilities));
    assert.equal(r.probability, r.topProbability);
  }
  assert.deepEqual(rows.map((r) => r.predictedLabel), ["cars", "cars", "cars", "planes", "planes"]);
  const matrix = confusionMatrix(rows);
  assert.deepEqual(matrix, [[3, 0, 0], [0, 0, 0], [0, 0, 2]]);
  const scores = classScores(matrix, names);
  assert.deepEqual(scores.map((s) => [s.precision, s.recall, s.support]), [
    [1, 1, 3],
    [Number.NaN, Number.NaN, 0],
    [1, 1, 2],
  ]);
  assert.match(formatClassScores(scores), /^class\s+precision\s+recall\s+images\ncars\s+1\.000/);
  assert.match(formatClassScores(scores), /mid\s+-\s+-\s+0/);
  const table = formatPredictionTable(rows, names);
  assert.match(table.split("\n")[0], /^file\s+P\(cars\)\s+P\(mid\)\s+P\(planes\)\s+predicted/);
  model.dispose();
  await Deno.remove(root, { recursive: true });
});

Deno.test("binary rows carry both classes' probabilities; the table reads as before", () => {
  const table = formatPredictionTable(rows, ["cars", "planes"]);
  assert.equal(table, formatPredictionTable(rows, "planes"));
  assert.match(table.split("\n")[2], /^cars\/a\.jpg\s+0\.1000\s+cars\s+cars\s+yes$/);
});

Deno.test("inputSpecFromMetadata: K class names for a K-unit output, else a clear refusal", () => {
  const model = (units: number) =>
    tf.sequential({
      layers: [
        tf.layers.flatten({ inputShape: [8, 8, 3] }),
        tf.layers.dense({ units, activation: units === 1 ? "sigmoid" : "softmax" }),
      ],
    });
  const three = model(3);
  const spec3 = inputSpecFromMetadata({ classNames: ["a", "b", "c"] }, three, "m/model.json");
  assert.deepEqual(spec3.classNames, ["a", "b", "c"]);
  assert.throws(
    () => inputSpecFromMetadata({ classNames: ["a", "b"] }, three, "m/model.json"),
    (e) => e instanceof PredictError && /outputs 3 class probabilities/.test(e.message),
  );
  assert.throws(
    () => inputSpecFromMetadata({ classNames: ["a", "a", "b"] }, three, "m/model.json"),
    (e) => e instanceof PredictError && /3 distinct names/.test(e.message),
  );
  assert.throws(
    () => inputSpecFromMetadata({}, three, "m/model.json"),
    (e) => e instanceof PredictError && /no classNames/.test(e.message),
  );
  const one = model(1);
  assert.deepEqual(inputSpecFromMetadata({}, one).classNames, ["cars", "planes"]);
  assert.throws(
    () => inputSpecFromMetadata({ classNames: ["a", "b", "c"] }, one, "m/model.json"),
    (e) => e instanceof PredictError && /binary classifier/.test(e.message),
  );
  three.dispose();
  one.dispose();
});
