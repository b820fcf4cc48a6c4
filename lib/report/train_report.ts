/**
 * `report.md` of a `deno task train` run: the data and its classes, the model, the training
 * curves and their diagnosis, the predictions with a K x K confusion matrix and per-class
 * precision and recall, and the Grad-CAM sheet. Rendered from the metrics the run wrote.
 *
 * @module
 */
import type { TrainMetrics } from "./metrics.ts";
import { formatCount } from "../models/summary.ts";
import { escapeMarkdown as md, printableLine } from "../_escape.ts";
import { confusionTable } from "./report.ts";

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : String(x));

/**
 * Renders the Markdown report of a `train` run.
 *
 * @example
 * ```ts
 * await Deno.writeTextFile("runs/mine/report.md", renderTrainReport(metrics));
 * ```
 */
export function renderTrainReport(m: TrainMetrics): string {
  const c = m.config;
  const x = m.model;
  const k = m.dataset.classNames.length;
  const modelLine = m.base
    ? `a frozen ${md(m.base.name)} base (${formatCount(m.base.params.total)} parameters, ` +
      `weights ${md(m.base.weights)}) with a trained head: ${formatCount(x.params.total)} ` +
      `parameters, ${formatCount(x.params.trainable)} trainable`
    : `the article's baseline CNN, ${formatCount(x.params.total)} parameters`;
  const lines = [
    `# Trained on ${md(m.dataset.dir)}`,
    "",
    `Generated ${m.generatedAt} by \`${printableLine(m.command).replaceAll("`", "'")}\`.`,
    "",
    `- Data: ${md(m.dataset.layout)}; ${m.dataset.train} training, ${m.dataset.val} ` +
    `validation, ${m.dataset.test} test images`,
    `- Classes (${k}): ${m.dataset.classNames.map((n, i) => `${md(n)} = ${i}`).join(", ")}; ` +
    `class_mode "${m.dataset.classMode}" (${
      k === 2 ? "sigmoid, binary cross-entropy" : "softmax, categorical cross-entropy"
    })`,
    ...(m.classWeight
      ? [`- class_weight balanced: ${m.classWeight.map((w) => w.toFixed(3)).join(", ")}`]
      : []),
    `- Model: ${modelLine}`,
    `- Protocol: ${c.epochs} epochs x ${
      m.base
        ? `${Math.ceil(m.dataset.train / c.batchSize)} steps (one pass over the cached features)`
        : `${c.stepsPerEpoch} steps`
    } x batch ${c.batchSize}, ` +
    `${c.targetSize.join("x")} images, seed ${c.seed}${c.quick ? " (QUICK smoke run)" : ""}`,
    `- Backend ${m.backend.name} (${m.backend.threads} thread${
      m.backend.threads > 1 ? "s" : ""
    }); wall time ${m.timings.totalSeconds.toFixed(0)} s, peak memory ${
      m.timings.peakRssMiB.toFixed(0)
    } MiB`,
    "",
    "## Training",
    "",
    `Final val accuracy ${f3(x.finalValAccuracy)} (best ${f3(x.bestValAccuracy)}), final val ` +
    `loss ${f3(x.finalValLoss)} (lowest ${f3(x.minValLoss)}), ${x.trainSeconds.toFixed(0)} s.`,
    "",
    `Diagnosis: ${x.diagnosis.message}`,
    "",
    "![Loss](loss.png)",
    "![Accuracy](accuracy.png)",
    "",
    `## Predictions on the ${m.evaluatedOn} images`,
    "",
    x.test.line,
    "",
    "![Predictions](predictions.png)",
    "",
    "Confusion matrix (rows: true class, columns: predicted):",
    "",
    ...confusionTable(x.confusionMatrix, m.dataset.classNames),
    "",
    "## What the model looks at",
    "",
    "Grad-CAM heatmaps (red: the regions that raise the predicted class's score most):",
    "",
    "![Grad-CAM](gradcam.png)",
    "",
  ];
  return lines.filter((l, i, a) => !(l === "" && a[i - 1] === "")).join("\n");
}
