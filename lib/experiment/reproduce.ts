/**
 * The whole article, headless: data, baseline CNN, charts and diagnosis, transfer learning on a
 * frozen pretrained base, predictions on the unseen test images, and a report. `cli/reproduce.ts`
 * is a thin front end over {@linkcode reproduce}; the notebooks call the same pieces one by one.
 *
 * Outputs (all written atomically; `metrics.json` last, only when the run completes):
 * `history.csv`, `transfer_history.csv`, `model_loss.*`, `model_accuracy.*`, `transfer_loss.*`,
 * `transfer_accuracy.*`, `comparison.*` (`.vl.json`, `.svg`, `.png`), `predictions.json`,
 * `test_predictions.png`, `report.md`, `models/baseline/`, `models/transfer/`, `run.json`,
 * `metrics.json`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { join, resolve } from "node:path";
import { type BackendChoice, type BackendRequest, initBackend } from "../training/runtime.ts";
import {
  accuracyChartSpec,
  comparisonChartSpec,
  lossChartSpec,
  writeChart,
} from "../report/charts.ts";
import { renderContactSheet } from "../report/contact_sheet.ts";
import type { ExperimentConfig } from "../config.ts";
import { DatasetError } from "../data/dataset.ts";
import { diagnoseFit } from "../training/diagnose.ts";
import {
  type ArticleFlows,
  createArticleFlows,
  trainBaseline,
  trainTransfer,
  type TransferMode,
} from "../training/experiment.ts";
import { type History, historyToCsv } from "../training/history.ts";
import { trackPeakRss } from "../training/memory.ts";
import { saveModel } from "../models/model_io.ts";
import { countParams, summarize } from "../models/summary.ts";
import { type BaseName, resolveBase, type ResolvedBase } from "../models/bases.ts";
import { startRun } from "../runs/outputs.ts";
import { createDataParallelTrainStep, createParallelPredictor } from "../training/parallel.ts";
import {
  accuracyOf,
  collectImages,
  confusionMatrix,
  formatAccuracyLine,
  formatConfusionMatrix,
  formatPredictionTable,
  type InputSpec,
  predictImages,
  type PredictionRow,
} from "../models/predict.ts";
import type { ProgressReporter } from "../training/progress.ts";
import { renderReport } from "../report/report.ts";
import type { ModelMetrics, ReproduceMetrics } from "../report/metrics.ts";
import { describeDatasetSource, ensureDataset } from "../data/sources.ts";
import { ARTICLE_SPLITS, validateArticleLayout } from "../data/layout.ts";
import { printableLine } from "../_escape.ts";

export type { BaseName, ModelMetrics, ReproduceMetrics };

/** Everything a reproduction run needs. */
export interface ReproduceOptions {
  /** Dataset in the article's layout. */
  dataDir: string;
  /**
   * Fill `dataDir` when it is empty: the article's images, else CIFAR-10, else the sample
   * embedded in the repository (see `ensureDataset`).
   */
  fetchData: boolean;
  /** Where outputs go. */
  outDir: string;
  /** The protocol (epochs, steps, batch, seed, quick). */
  config: ExperimentConfig;
  /** Backend request (`auto` picks the fastest that trains). */
  backend: BackendRequest;
  /** Pretrained base for transfer learning (`none` skips it). */
  base: BaseName;
  /**
   * True when the user chose the base. Otherwise `vgg16` is the default: VGG16 when its
   * ImageNet weights can be had, else the embedded MobileNet (see `resolveBase`).
   */
  baseExplicit: boolean;
  /** Weights path or URL for the base (VGG16 h5 file, MobileNet layers model). */
  weights?: string;
  /** Transfer mode: `features` (default) or `augmented`. */
  mode: TransferMode;
  /** Adam's learning rate for the transfer head (default `TRANSFER_LEARNING_RATE`, 1e-4). */
  headLearningRate?: number;
  /** VGG16 preprocessing: `rescale` (the article) or `vgg16` (Keras' preprocess_input). */
  preprocessing: "rescale" | "vgg16";
  /** Use a Worker per extra core for training and feature extraction (default true). */
  parallel: boolean;
  /** Download cache directory. */
  cacheDir?: string;
  /** Stop on unreadable images instead of skipping them. */
  strict: boolean;
  /** The command line, for the records. */
  command: string;
  /** Where lines go (default `console.log`). */
  log?: (line: string) => void;
  /** Training progress (default the Keras-style console printout). */
  reporter?: ProgressReporter;
  /**
   * Where the defaults are fetched from (default: the real URLs). Tests point them at addresses
   * that cannot answer, to run the offline fallbacks.
   */
  defaultSources?: { articleUrls?: string[]; cifarUrl?: string; vgg16Weights?: string };
}

/**
 * Runs the whole article and writes the outputs; returns the metrics it wrote.
 *
 * @example
 * ```ts
 * const metrics = await reproduce({ dataDir: "data", outDir: "outputs", config: experimentConfig(),
 *   backend: "auto", base: "vgg16", baseExplicit: false, mode: "features", preprocessing: "rescale",
 *   parallel: true, strict: false, fetchData: true, command: "deno task reproduce" });
 * console.log(metrics.baseline.finalValAccuracy);
 * ```
 */
export async function reproduce(options: ReproduceOptions): Promise<ReproduceMetrics> {
  const log = options.log ?? console.log;
  const started = performance.now();
  const rss = trackPeakRss();
  const outDir = resolve(options.outDir);
  const run = await startRun(outDir, { command: options.command });
  try {
    const backend = await initBackend(options.backend, { log });
    const { dataDir, source: dataSource } = await prepareData(options, log);
    const config = options.config;
    log(
      `Protocol: ${config.epochs} epochs x ${config.stepsPerEpoch} steps x batch ${config.batchSize}` +
        ` at ${config.targetSize.join("x")}, seed ${config.seed}${config.quick ? " (quick)" : ""}.`,
    );
    const flows = await createArticleFlows(dataDir, config, { strict: options.strict, log });
    const testList = await collectImages([join(dataDir, "test")], flows.inputSpec.classNames);
    const threads = options.parallel && backend.name !== "node" ? 2 : 1;
    const trainStep = threads > 1
      ? (model: tf.LayersModel) => createDataParallelTrainStep(model, { workers: threads - 1 })
      : undefined;
    if (threads > 1) {
      log(`Training on ${threads} threads (main + ${threads - 1} Worker, data parallel).`);
    }

    // 1. The baseline CNN.
    log("\n## Baseline CNN");
    const baseline = await trainBaseline(flows, config, {
      reporter: options.reporter,
      trainStep,
      beforeFit: (model) => log(summarize(model)),
    });
    await saveModel(baseline.model, run.path("models/baseline"), {
      metadata: { ...flows.inputSpec, kind: "baseline" },
    });
    await run.writeFile("history.csv", historyToCsv(baseline.fit.history));
    await writeChart(lossChartSpec(baseline.fit.history), outDir, "model_loss");
    await writeChart(accuracyChartSpec(baseline.fit.history), outDir, "model_accuracy");
    const baselineRows = await predictTest(baseline.model, testList, flows.inputSpec, log);
    const baselineMetrics = modelMetrics(baseline.model, baseline.fit, baselineRows);
    log(baselineMetrics.diagnosis.message);
    log(`Baseline on the test images: ${baselineMetrics.test.line}`);
    baseline.model.dispose();

    // 2. Transfer learning.
    let transferMetrics: ReproduceMetrics["transfer"] = { skipped: "--base none" };
    let transferRows: PredictionRow[] | null = null;
    if (options.base !== "none") {
      log(`\n## Transfer learning (${options.mode} mode)`);
      const { base, choice } = await loadBase(options, flows, log);
      log(`Transfer base: ${choice.summary}`);
      log(summarize(base.model));
      const predictFeatures = threads > 1
        ? (m: tf.LayersModel) => createParallelPredictor(m, { workers: threads - 1 })
        : undefined;
      if (options.mode === "augmented") {
        log("Augmented mode runs the frozen base on every augmented batch: slow on CPU.");
      }
      const transfer = await trainTransfer(base, flows, config, {
        mode: options.mode,
        learningRate: options.headLearningRate,
        reporter: options.reporter,
        trainStep,
        predictFeatures,
        beforeFit: (model) => log(summarize(model)),
        log,
      });
      await saveModel(transfer.model, run.path("models/transfer"), {
        metadata: { ...flows.inputSpec, kind: "transfer", base: base.name },
      });
      await run.writeFile("transfer_history.csv", historyToCsv(transfer.fit.history));
      await writeChart(
        lossChartSpec(transfer.fit.history, { title: `Model Loss (${base.name} transfer)` }),
        outDir,
        "transfer_loss",
      );
      await writeChart(
        accuracyChartSpec(transfer.fit.history, {
          title: `Model Accuracy (${base.name} transfer)`,
        }),
        outDir,
        "transfer_accuracy",
      );
      await writeChart(
        comparisonChartSpec({
          baseline: baseline.fit.history,
          [`${base.name} transfer`]: transfer.fit.history,
        }),
        outDir,
        "comparison",
      );
      transferRows = await predictTest(transfer.model, testList, flows.inputSpec, log);
      transferMetrics = {
        ...modelMetrics(transfer.model, transfer.fit, transferRows),
        base: base.name,
        weights: base.weightsSource,
        preprocessing: base.preprocessing,
        mode: options.mode,
        baseParams: countParams(base.model),
        featureSeconds: transfer.featureSeconds,
        choice,
      };
      log(transferMetrics.diagnosis.message);
      log(`Transfer model on the test images: ${transferMetrics.test.line}`);
      transfer.model.dispose();
    }

    // 3. Test predictions, as the article's last step, with the best model we have.
    const finalRows = transferRows ?? baselineRows;
    const finalName = transferRows ? "transfer" : "baseline";
    log(`\n## Predictions on ${testList.files.length} unseen test images (${finalName} model)`);
    log(formatPredictionTable(finalRows, flows.inputSpec.classNames));
    log(formatConfusionMatrix(confusionMatrix(finalRows), flows.inputSpec.classNames));
    log(formatAccuracyLine(finalRows));
    await run.writeJson("predictions.json", {
      model: finalName,
      baseline: baselineRows,
      transfer: transferRows,
    });
    const ordered = finalRows.map((r) => testList.files[testList.names.indexOf(r.file)]);
    await run.writeFile(
      "test_predictions.png",
      await renderContactSheet(finalRows, ordered, {
        title: `${finalName} model: ${formatAccuracyLine(finalRows)}`,
      }),
    );

    const metrics: ReproduceMetrics = {
      generatedAt: new Date().toISOString(),
      command: options.command,
      backend: { name: backend.name, reason: backend.reason, threads },
      dataset: {
        dir: dataDir,
        source: dataSource,
        classNames: flows.inputSpec.classNames,
        train: flows.train.samples,
        val: flows.val.samples,
        test: testList.files.length,
      },
      config,
      timings: { totalSeconds: (performance.now() - started) / 1000, peakRssMiB: 0 },
      baseline: baselineMetrics,
      transfer: transferMetrics,
    };
    metrics.timings.peakRssMiB = rss.stop() / 2 ** 20;
    await run.writeFile("report.md", renderReport(metrics, backendLine(backend, threads)));
    await run.complete(metrics);
    log(
      `\nDone in ${metrics.timings.totalSeconds.toFixed(0)}s (peak memory ` +
        `${metrics.timings.peakRssMiB.toFixed(0)} MiB). Outputs in ${outDir}: report.md, ` +
        "metrics.json, charts, predictions, models/.",
    );
    return metrics;
  } catch (error) {
    rss.stop();
    await run.fail(error).catch(() => {});
    throw error;
  }
}

function backendLine(backend: BackendChoice, threads: number): string {
  return `${backend.name} (${threads} thread${threads > 1 ? "s" : ""}): ${backend.reason}`;
}

async function prepareData(
  options: ReproduceOptions,
  log: (l: string) => void,
): Promise<{ dataDir: string; source: string }> {
  const dataDir = resolve(options.dataDir);
  if (options.fetchData) {
    const summary = await ensureDataset(dataDir, {
      cacheDir: options.cacheDir,
      log,
      articleUrls: options.defaultSources?.articleUrls,
      cifarUrl: options.defaultSources?.cifarUrl,
    });
    await validateArticleLayout(dataDir);
    return { dataDir, source: describeDatasetSource(summary) };
  }
  const present = await Promise.all(
    ARTICLE_SPLITS.map((s) => Deno.stat(join(dataDir, s)).then(() => true, () => false)),
  );
  if (!present.some(Boolean)) {
    throw new DatasetError(
      dataDir,
      `No dataset at ${dataDir}: expected training_set/, val_set/ and test/ with one ` +
        "subfolder per class. Get one with `deno task data --source DIR` (a folder in that " +
        "layout), `--source article` (the article's images) or `--source cifar10`.",
    );
  }
  await validateArticleLayout(dataDir);
  return { dataDir, source: `the folder given, ${dataDir}` };
}

async function loadBase(
  options: ReproduceOptions,
  flows: ArticleFlows,
  log: (l: string) => void,
): Promise<ResolvedBase> {
  return await resolveBase({
    base: options.baseExplicit ? options.base as Exclude<BaseName, "none"> : undefined,
    weights: options.weights,
    inputShape: [...flows.train.imageShape] as [number, number, number],
    preprocessing: options.preprocessing,
    cacheDir: options.cacheDir,
    log,
    defaultVgg16Weights: options.defaultSources?.vgg16Weights,
  });
}

async function predictTest(
  model: tf.LayersModel,
  list: Awaited<ReturnType<typeof collectImages>>,
  spec: InputSpec,
  log: (l: string) => void,
): Promise<PredictionRow[]> {
  return await predictImages(model, list, spec, {
    onSkip: (path, reason) =>
      log(`Skipped unreadable test image ${printableLine(path)}: ${reason}`),
  });
}

function modelMetrics(
  model: tf.LayersModel,
  fit: { history: History; epochSeconds: number[] },
  rows: PredictionRow[],
): ModelMetrics {
  const h = fit.history.history;
  const diagnosis = diagnoseFit(fit.history);
  const acc = accuracyOf(rows);
  return {
    params: countParams(model),
    history: fit.history,
    epochSeconds: fit.epochSeconds,
    trainSeconds: fit.epochSeconds.reduce((a, b) => a + b, 0),
    finalValAccuracy: h.val_accuracy.at(-1)!,
    bestValAccuracy: Math.max(...h.val_accuracy),
    finalValLoss: h.val_loss.at(-1)!,
    minValLoss: Math.min(...h.val_loss),
    diagnosis,
    test: {
      ...acc,
      line: formatAccuracyLine(rows),
      misclassified: rows.filter((r) => r.correct === false).map((r) => r.file),
    },
    confusionMatrix: confusionMatrix(rows),
  };
}
