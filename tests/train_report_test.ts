import assert from "node:assert/strict";
import { renderTrainReport } from "../lib/report/train_report.ts";
import type { TrainMetrics } from "../lib/report/metrics.ts";
import { diagnoseFit } from "../lib/training/diagnose.ts";
import { experimentConfig } from "../lib/config.ts";
import type { History } from "../lib/training/history.ts";

function metrics(overrides: Partial<TrainMetrics> = {}): TrainMetrics {
  const history: History = {
    epoch: [0, 1],
    history: {
      loss: [1.1, 0.6],
      accuracy: [0.4, 0.8],
      val_loss: [1.0, 0.7],
      val_accuracy: [0.5, 0.75],
    },
  };
  return {
    generatedAt: "2026-12-01T00:00:00.000Z",
    command: "deno task train --data shapes",
    backend: { name: "wasm", reason: "test", threads: 2 },
    dataset: {
      dir: "/data/shapes",
      layout: "the article's layout in /data/shapes (training_set/, val_set/, test/)",
      classNames: ["circles", "squares", "tri|angles"],
      classMode: "categorical",
      validationSplit: null,
      train: 120,
      val: 30,
      test: 15,
    },
    config: experimentConfig({ quick: false, epochs: 2 }),
    classWeight: null,
    base: null,
    timings: { totalSeconds: 12, peakRssMiB: 500 },
    model: {
      params: { total: 813_475, trainable: 813_475, nonTrainable: 0 },
      history,
      epochSeconds: [3, 3],
      trainSeconds: 6,
      finalValAccuracy: 0.75,
      bestValAccuracy: 0.75,
      finalValLoss: 0.7,
      minValLoss: 0.7,
      diagnosis: diagnoseFit(history),
      test: {
        correct: 11,
        total: 15,
        accuracy: 11 / 15,
        line: "correctly predicted 11 out of 15 images (73%)",
        misclassified: [],
      },
      confusionMatrix: [[5, 0, 0], [1, 3, 1], [0, 2, 3]],
    },
    evaluatedOn: "test",
    classScores: [],
    ...overrides,
  };
}

Deno.test("the train report names K classes, the model, and a K x K matrix with precision/recall", () => {
  const md = renderTrainReport(metrics());
  assert.match(
    md,
    /Classes \(3\): circles = 0, squares = 1, tri\\\|angles = 2; class_mode "categorical" \(softmax/,
  );
  assert.match(md, /the article's baseline CNN, 813,475 parameters/);
  assert.match(md, /2 epochs x 30 steps x batch 32/);
  assert.match(md, /\| \| circles \| squares \| tri\\\|angles \| precision \| recall \|/);
  assert.match(md, /\| squares \| 1 \| 3 \| 1 \| 0\.600 \| 0\.600 \|/);
  assert.match(md, /correctly predicted 11 out of 15 images \(73%\)/);
  assert.match(md, /!\[Grad-CAM\]\(gradcam\.png\)/);
  assert.doesNotMatch(md, /class_weight/);
  // The bullet list has no blank line inside it.
  const bullets = md.split("\n").map((l, i) => [l, i] as const).filter(([l]) => l.startsWith("- "));
  assert.equal(bullets.at(-1)![1] - bullets[0][1], bullets.length - 1);
});

Deno.test("the train report shows class weights and a transfer base's one pass per epoch", () => {
  const md = renderTrainReport(metrics({
    classWeight: [0.5, 1, 2],
    base: {
      name: "mobilenet",
      weights: "models/mobilenet",
      params: { total: 218_544, trainable: 0, nonTrainable: 218_544 },
      featureSeconds: 3,
    },
  }));
  assert.match(md, /- class_weight balanced: 0\.500, 1\.000, 2\.000/);
  assert.match(md, /a frozen mobilenet base \(218,544 parameters/);
  assert.match(md, /2 epochs x 4 steps \(one pass over the cached features\)/);
});
