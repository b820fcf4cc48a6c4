import assert from "node:assert/strict";
import { confusionTable, renderReport } from "../lib/report/report.ts";
import type { ModelMetrics, ReproduceMetrics } from "../lib/experiment/reproduce.ts";
import { diagnoseFit } from "../lib/training/diagnose.ts";
import { experimentConfig } from "../lib/config.ts";
import type { History } from "../lib/training/history.ts";

function model(valLoss: number[], correct: number): ModelMetrics {
  const history: History = {
    epoch: valLoss.map((_, i) => i),
    history: {
      loss: valLoss.map((_, i) => 0.6 / (i + 1)),
      accuracy: valLoss.map((_, i) => 0.7 + 0.1 * i),
      val_loss: valLoss,
      val_accuracy: valLoss.map(() => 0.85),
    },
  };
  return {
    params: { total: 813217, trainable: 813217, nonTrainable: 0 },
    history,
    epochSeconds: valLoss.map(() => 3),
    trainSeconds: 3 * valLoss.length,
    finalValAccuracy: 0.85,
    bestValAccuracy: 0.85,
    finalValLoss: valLoss.at(-1)!,
    minValLoss: Math.min(...valLoss),
    diagnosis: diagnoseFit(history),
    test: {
      correct,
      total: 15,
      accuracy: correct / 15,
      line: `correctly predicted ${correct} out of 15 images (${Math.round(correct / 0.15)}%)`,
      misclassified: correct < 15 ? ["cars/0101.jpg"] : [],
    },
    confusionMatrix: [[8 - (15 - correct), 15 - correct], [0, 7]],
  };
}

function metrics(transfer: ReproduceMetrics["transfer"], quick = false): ReproduceMetrics {
  return {
    generatedAt: "2026-01-01T00:00:00.000Z",
    command: "deno task reproduce",
    backend: { name: "wasm", reason: "test", threads: 2 },
    dataset: { dir: "/data", classNames: ["cars", "planes"], train: 160, val: 40, test: 15 },
    config: experimentConfig({ quick }),
    timings: { totalSeconds: 112.4, peakRssMiB: 840.2 },
    baseline: model([0.5, 0.3, 0.9], 14),
    transfer,
  };
}

Deno.test("the report puts the run's figures beside the article's, from the metrics", () => {
  const t = {
    ...model([0.4, 0.16, 0.2], 15),
    base: "mobilenet",
    weights: "/m",
    preprocessing: "x*2-1",
    mode: "features" as const,
    baseParams: { total: 218544, trainable: 0, nonTrainable: 218544 },
    featureSeconds: 3.2,
  };
  const text = renderReport(metrics(t), "wasm (2 threads): test");
  assert.match(
    text,
    /\| test images right \| 14 of 15 \(93%\) \| 14 of 15 \(93%\) \| 15 of 15 \(100%\) \|/,
  );
  assert.match(text, /\| final val loss \| [^|]+\| 0\.900 \| 0\.200 \|/);
  assert.match(text, /Wall time 112 s, peak memory 840 MiB/);
  assert.match(text, /frozen mobilenet base, features mode/);
  assert.match(text, /!\[Baseline vs transfer\]\(comparison.png\)/);
  assert.match(text, /No test image misclassified/);
  assert.doesNotMatch(text, /QUICK/);
  assert.doesNotMatch(text, /\n\n\n/);
});

Deno.test("a skipped transfer step and a quick run are said plainly", () => {
  const text = renderReport(
    metrics({ skipped: "VGG16 ImageNet weights unavailable" }, true),
    "cpu",
  );
  assert.match(text, /Not run: VGG16 ImageNet weights unavailable/);
  assert.match(text, /QUICK smoke run, not the article's protocol/);
  assert.match(text, /Predictions on the unseen test images \(baseline model\)/);
  assert.match(text, /Misclassified: `cars\/0101.jpg`/);
});

Deno.test("class and file names from the file system are escaped in report.md (HTML, pipes, controls)", () => {
  const evil = "<img src=x onerror=alert(1)> |pipe|";
  const m = metrics({ skipped: "no weights" });
  m.dataset = { ...m.dataset, dir: "/data/<b>x</b>", classNames: ["cars", evil] };
  m.baseline = { ...m.baseline };
  m.baseline.test = { ...m.baseline.test, misclassified: [`${evil}/a\x1b[2J.jpg`, "x`y.jpg"] };
  const md = renderReport(m, "wasm");
  // Outside code spans (whose content Markdown shows literally) there is no HTML at all.
  const outsideCode = md.replace(/(`+)[^]*?\1/g, "");
  assert.ok(!outsideCode.includes("<img"), "no raw HTML");
  assert.ok(!outsideCode.includes("<b>"), "no raw HTML in the data path");
  assert.ok(!md.includes("\x1b"), "no raw control characters");
  assert.ok(md.includes("&lt;img src=x onerror=alert(1)&gt; \\|pipe\\|"));
  // Every row of the confusion matrix table has exactly its 5 cells (name, 2 counts, precision,
  // recall).
  const rows = md.split("\n").filter((l) =>
    l.startsWith("| ") && /\| \d+ \| \d+ \| (\d\.\d{3}|—) \| (\d\.\d{3}|—) \|$/.test(l)
  );
  assert.equal(rows.length, 2);
  for (const r of rows) assert.equal(r.split(/(?<!\\)\|/).length - 2, 5, r);
  assert.ok(md.includes("``x`y.jpg``") || md.includes("`` x`y.jpg ``"));
});

Deno.test("the confusion table gives each class's precision and recall", () => {
  assert.deepEqual(confusionTable([[7, 1, 0], [0, 7, 0], [0, 2, 0]], ["a", "b", "c"]), [
    "| | a | b | c | precision | recall |",
    "| --- | --- | --- | --- | --- | --- |",
    "| a | 7 | 1 | 0 | 1.000 | 0.875 |",
    "| b | 0 | 7 | 0 | 0.700 | 1.000 |",
    "| c | 0 | 2 | 0 | — | 0.000 |",
  ]);
});

Deno.test("a fine-tuned model gets its own column and section; without it the table has three", () => {
  const t = {
    ...model([0.4, 0.16, 0.2], 15),
    base: "mobilenet",
    weights: "/m",
    preprocessing: "x*2-1",
    mode: "features" as const,
    baseParams: { total: 218544, trainable: 0, nonTrainable: 218544 },
    featureSeconds: 3.2,
  };
  const plain = renderReport(metrics(t), "wasm");
  assert.doesNotMatch(plain, /fine-tuned/i);
  assert.match(plain, /\| --- \| --- \| --- \| --- \|\n/);
  const m = metrics(t);
  m.fineTuned = {
    ...model([0.3, 0.15, 0.12], 15),
    base: "mobilenet",
    unfrozen: ["conv_dw_13", "conv_pw_13"],
    learningRate: 1e-5,
    epochs: 10,
  };
  const text = renderReport(m, "wasm");
  assert.match(
    text,
    /\| this run: transfer \| this run: fine-tuned \|\n\| --- \| --- \| --- \| --- \| --- \|/,
  );
  assert.match(text, /\| final val loss \| [^|]+\| 0\.900 \| 0\.200 \| 0\.120 \|/);
  assert.match(
    text,
    /Unfrozen: conv_dw_13, conv_pw_13 \(BatchNormalization frozen, in inference mode\); Adam 0\.00001, 10 epochs/,
  );
  assert.match(text, /!\[Fine-tuned loss\]\(fine_tuned_loss\.png\)/);
  assert.match(text, /!\[Grad-CAM, fine-tuned\]\(fine_tuned_gradcam\.png\)/);
});
