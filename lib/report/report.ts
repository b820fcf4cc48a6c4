/**
 * `outputs/report.md`: the run's figures beside the article's, the charts, the diagnosis and
 * the test predictions, rendered from the metrics a run wrote (never from hard-coded numbers).
 *
 * @module
 */
import { ARTICLE } from "../config.ts";
import type { ModelMetrics, ReproduceMetrics } from "./metrics.ts";
import { formatCount } from "../models/summary.ts";
import { classScores } from "../models/predict.ts";
import { escapeMarkdown, printableLine } from "../_escape.ts";
import { renderDataSizeMarkdown, renderSeedsMarkdown } from "./seeds.ts";

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : String(x));
/** Names from the file system (class folders, paths) go through this: no HTML, no broken tables. */
const md = escapeMarkdown;

/** A Markdown code span that holds any text: control characters made visible, a long enough fence. */
function codeSpan(text: string): string {
  const shown = printableLine(text);
  const longest = Math.max(0, ...(shown.match(/`+/g) ?? []).map((r) => r.length));
  const fence = "`".repeat(longest + 1);
  const pad = longest > 0 ? " " : "";
  return `${fence}${pad}${shown}${pad}${fence}`;
}

const pct = (x: number) => `${Math.round(x * 100)}%`;

/**
 * Renders the Markdown report of a run.
 *
 * @example
 * ```ts
 * await Deno.writeTextFile("outputs/report.md", renderReport(metrics, "wasm (2 threads)"));
 * ```
 */
export function renderReport(m: ReproduceMetrics, backendLine: string): string {
  const c = m.config;
  const t = "skipped" in m.transfer ? null : m.transfer;
  const ft = m.fineTuned ?? null;
  const row = (
    name: string,
    article: string,
    baseline: ModelMetrics,
    transfer: ModelMetrics | null,
    value: (m: ModelMetrics) => string,
  ) => rowOf(name, article, baseline, transfer, value, ft);
  const lines: string[] = [];
  lines.push(
    "# Car vs plane: the article reproduced",
    "",
    `Generated ${m.generatedAt} by ${codeSpan(m.command)}.`,
    "",
    `- Backend: ${backendLine}`,
    `- Data: ${md(m.dataset.dir)} (${m.dataset.train} training, ${m.dataset.val} validation, ` +
      `${m.dataset.test} test images; classes ${
        m.dataset.classNames.map((n, i) => `${md(n)} = ${i}`).join(", ")
      })`,
    ...(m.dataset.source ? [`- Data source: ${md(m.dataset.source)}`] : []),
    ...(t?.choice ? [`- Transfer base: ${md(t.choice.summary)}`] : []),
    `- Protocol: ${c.epochs} epochs x ${c.stepsPerEpoch} steps x batch ${c.batchSize}, ` +
      `${c.targetSize.join("x")} images, seed ${c.seed}${
        c.quick ? " — QUICK smoke run, not the article's protocol" : ""
      }`,
    `- Wall time ${m.timings.totalSeconds.toFixed(0)} s, peak memory ${
      m.timings.peakRssMiB.toFixed(0)
    } MiB`,
    "",
    "## Results beside the article",
    "",
    `| | article | this run: baseline CNN | this run: transfer |${
      ft ? " this run: fine-tuned |" : ""
    }`,
    `| --- | --- | --- | --- |${ft ? " --- |" : ""}`,
    `| parameters | ${formatCount(ARTICLE.baselineParams)} (baseline); VGG16 base ${
      formatCount(ARTICLE.vgg16Params)
    } frozen | ${formatCount(m.baseline.params.total)} | ${
      t
        ? `${formatCount(t.params.total)} (${t.base} base ${
          formatCount(t.baseParams.total)
        } frozen, ${formatCount(t.params.trainable)} trainable)`
        : "—"
    } |${
      ft ? ` ${formatCount(ft.params.total)} (${formatCount(ft.params.trainable)} trainable) |` : ""
    }`,
    row(
      "final val accuracy",
      "0.80–0.875 (baseline); about the same (VGG16)",
      m.baseline,
      t,
      (x) => f3(x.finalValAccuracy),
    ),
    row("best val accuracy", "", m.baseline, t, (x) => f3(x.bestValAccuracy)),
    row(
      "final val loss",
      "rising (baseline); much lower (VGG16)",
      m.baseline,
      t,
      (x) => f3(x.finalValLoss),
    ),
    row(
      "lowest val loss (epoch)",
      "",
      m.baseline,
      t,
      (x) => `${f3(x.minValLoss)} (${x.diagnosis.bestValLossEpoch})`,
    ),
    row("final train accuracy", "", m.baseline, t, (x) => f3(x.diagnosis.finalAccuracy)),
    row(
      "test images right",
      `${ARTICLE.testCorrect} of ${ARTICLE.testTotal} (${
        pct(ARTICLE.testCorrect / ARTICLE.testTotal)
      })`,
      m.baseline,
      t,
      (x) => `${x.test.correct} of ${x.test.total} (${pct(x.test.accuracy)})`,
    ),
    row("training time", "", m.baseline, t, (x) => `${x.trainSeconds.toFixed(0)} s`),
    "",
    "## Baseline CNN",
    "",
    `Diagnosis: ${m.baseline.diagnosis.message}`,
    "",
    "![Model Loss](model_loss.png)",
    "![Model Accuracy](model_accuracy.png)",
    "",
  );
  if (t) {
    lines.push(
      `## Transfer learning: frozen ${t.base} base, ${t.mode} mode`,
      "",
      ...(t.choice?.fallbackReason
        ? [
          `**${t.base} in place of the article's VGG16**: VGG16's ImageNet weights could not be ` +
          `had (${md(t.choice.fallbackReason)}).`,
          "",
        ]
        : []),
      `- Weights: ${md(t.weights)}`,
      `- Preprocessing: ${t.preprocessing}`,
      t.mode === "features" ? `- Feature extraction: ${t.featureSeconds.toFixed(1)} s` : "",
      `- Diagnosis: ${t.diagnosis.message}`,
      "",
      "![Transfer loss](transfer_loss.png)",
      "![Transfer accuracy](transfer_accuracy.png)",
      `![Baseline vs transfer${ft ? " vs fine-tuned" : ""}](comparison.png)`,
      "",
    );
    if (ft) {
      lines.push(
        `## Fine-tuning: the top block of the ${ft.base} base (beyond the article)`,
        "",
        `- Unfrozen: ${ft.unfrozen.join(", ")} (BatchNormalization frozen, in inference mode); ` +
          `Adam ${ft.learningRate}, ${ft.epochs} epochs on augmented images, after the head`,
        `- Diagnosis: ${ft.diagnosis.message}`,
        `- Test images: ${ft.test.line}`,
        "",
        "![Fine-tuned loss](fine_tuned_loss.png)",
        "![Fine-tuned accuracy](fine_tuned_accuracy.png)",
        "",
      );
    }
  } else {
    lines.push(
      "## Transfer learning",
      "",
      `Not run: ${md((m.transfer as { skipped: string }).skipped)}`,
      "",
    );
  }
  const final = t ?? m.baseline;
  lines.push(
    `## Predictions on the unseen test images (${t ? "transfer" : "baseline"} model)`,
    "",
    final.test.line,
    "",
    "![Test predictions](test_predictions.png)",
    "",
    "Where each model looks (Grad-CAM on its last convolutional layer; red is where the",
    "evidence for the predicted class lies):",
    "",
    ...(t
      ? [
        "![Grad-CAM, baseline](baseline_gradcam.png)",
        "",
        "![Grad-CAM, transfer](transfer_gradcam.png)",
        ...(ft ? ["", "![Grad-CAM, fine-tuned](fine_tuned_gradcam.png)"] : []),
      ]
      : ["![Grad-CAM, baseline](baseline_gradcam.png)"]),
    "",
    "Confusion matrix (rows: true class, columns: predicted):",
    "",
    ...confusionTable(final.confusionMatrix, m.dataset.classNames),
    "",
    final.test.misclassified.length
      ? `Misclassified: ${final.test.misclassified.map(codeSpan).join(", ")}`
      : "No test image misclassified.",
    "",
    ...(m.seeds ? renderSeedsMarkdown(m.seeds, { chart: "seeds_bands.png" }) : []),
    ...(m.dataSize ? renderDataSizeMarkdown(m.dataSize, { chart: "data_size.png" }) : []),
  );
  return lines.filter((l, i, a) => !(l === "" && a[i - 1] === "")).join("\n");
}

/**
 * The confusion matrix (rows: true class, columns: predicted) as Markdown, with each class's
 * precision and recall beside it.
 *
 * @example
 * ```ts
 * confusionTable([[7, 1], [0, 7]], ["cars", "planes"]).join("\n");
 * ```
 */
export function confusionTable(matrix: number[][], classNames: string[]): string[] {
  const scores = classScores(matrix, classNames);
  const num = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : "—");
  return [
    `| | ${classNames.map(md).join(" | ")} | precision | recall |`,
    `| --- | ${classNames.map(() => "---").join(" | ")} | --- | --- |`,
    ...matrix.map((r, i) =>
      `| ${md(classNames[i])} | ${r.join(" | ")} | ${num(scores[i].precision)} | ${
        num(scores[i].recall)
      } |`
    ),
  ];
}

function rowOf(
  name: string,
  article: string,
  baseline: ModelMetrics,
  transfer: ModelMetrics | null,
  value: (m: ModelMetrics) => string,
  fineTuned: ModelMetrics | null,
): string {
  return `| ${name} | ${article || "—"} | ${value(baseline)} | ${
    transfer ? value(transfer) : "—"
  } |${fineTuned ? ` ${value(fineTuned)} |` : ""}`;
}
