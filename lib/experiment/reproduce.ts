/**
 * The whole article, headless: data, baseline CNN, charts and diagnosis, transfer learning on a
 * frozen pretrained base, predictions on the unseen test images, and a report. `cli/reproduce.ts`
 * is a thin front end over {@linkcode reproduce}; the notebooks call the same pieces one by one.
 *
 * The run is written through the run store (`lib/runs/`) into a staging folder beside the output
 * folder and swapped in only when complete: a run that fails or is interrupted leaves the
 * previous one whole (see `lib/runs/staging.ts`). Outputs: `history.csv` + `.json`,
 * `transfer_history.*`, `model_loss.*`, `model_accuracy.*`, `transfer_loss.*`,
 * `transfer_accuracy.*`, `comparison.*` (`.vl.json`, `.svg`, `.png`), `predictions.json`,
 * `test_predictions.png`, `*_gradcam.png`, `report.md`, `models/baseline/`, `models/transfer/`,
 * `run.json`, `metrics.json`.
 *
 * Beyond the article, from the same {@linkcode ExperimentConfig}: `fineTune` adds a third model
 * (`models/fine_tuned/`, `fine_tuned_history.*`, `fine_tuned_loss.*`, `fine_tuned_accuracy.*`,
 * `fine_tuned_gradcam.png`); `seeds` retrains every model with each further seed (features
 * extracted once) and adds `seeds_bands.*` and the over-seeds section of `report.md` and
 * `metrics.json`; `trainPerClass` adds the accuracy-vs-data-size experiment (`data_size.*`).
 * The first seed's run is the one whose models, charts and predictions are saved.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { join, resolve } from "node:path";
import { ConfigError, type ExperimentConfig, type TransferConfig } from "../config.ts";
import { DatasetError } from "../data/dataset.ts";
import { ARTICLE_SPLITS } from "../data/layout.ts";
import { describeDatasetSource, ensureDataset } from "../data/sources.ts";
import { resolveBase, type ResolvedBase } from "../models/bases.ts";
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
import { countParams, summarize } from "../models/summary.ts";
import { accuracyChartSpec, comparisonChartSpec, lossChartSpec } from "../report/charts.ts";
import { renderContactSheet } from "../report/contact_sheet.ts";
import { renderGradCamSheet } from "../report/heatmap.ts";
import { explainImages } from "../models/gradcam.ts";
import type { ModelMetrics, ReproduceMetrics } from "../report/metrics.ts";
import { renderReport } from "../report/report.ts";
import { printableLine } from "../_escape.ts";
import { beginRun, RunInterruptedError } from "../runs/staging.ts";
import { checkSeparateFolders } from "../runs/folders.ts";
import { gradCamFile, type ModelKind, REPORT_FILE, type RunStore } from "../runs/store.ts";
import { diagnoseFit } from "../training/diagnose.ts";
import {
  type ArticleFlows,
  createArticleFlows,
  trainBaseline,
  trainTransfer,
} from "../training/experiment.ts";
import { type History, summarizeHistory } from "../training/history.ts";
import { trackPeakRss } from "../training/memory.ts";
import { threadPlan } from "../training/parallel.ts";
import type { ProgressReporter } from "../training/progress.ts";
import { type BackendChoice, type BackendRequest, initBackend } from "../training/runtime.ts";
import { fineTune } from "../training/fine_tune.ts";
import type { SeedContext } from "./seed_runs.ts";
import { seedLanes, trainDataSizePoints, trainSeeds } from "./seed_pool.ts";
import {
  type DataSizeMetrics,
  fineTuneOffsets,
  SEED_MODEL_NAMES,
  seedCurves,
  type SeedRun,
  type SeedsMetrics,
  summarizeSeeds,
} from "../report/seeds.ts";
import { dataSizeChartSpec, seedBandChartSpec } from "../report/seed_charts.ts";
import type { PretrainedBase } from "../models/base.ts";
import type { TransferFeatures } from "../training/experiment.ts";

export type { ModelMetrics, ReproduceMetrics };

/** Everything a reproduction run needs. */
export interface ReproduceOptions {
  /** Dataset in the article's layout. */
  dataDir: string;
  /** Fetch the article's dataset (or CIFAR-10) into `dataDir` when it is empty. */
  fetchData: boolean;
  /** Where outputs go. */
  outDir: string;
  /** The experiment: protocol, transfer learning, threads (`parseExperimentConfig`). */
  config: ExperimentConfig;
  /** Backend request (`auto` picks the fastest that trains). */
  backend: BackendRequest;
  /** The command line, for the records. */
  command: string;
  /**
   * Stops the run at the next batch when aborted (e.g. on Ctrl-C); the run is then recorded as
   * interrupted and the previous run in `outDir` is left whole. Abort it with a
   * {@linkcode RunInterruptedError} to name the signal.
   */
  signal?: AbortSignal;
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
 * const config = parseExperimentConfig({ flags: { base: "none" } });
 * const metrics = await reproduce({ dataDir: "data", outDir: "outputs", config,
 *   backend: "auto", fetchData: true, command: "deno task reproduce" });
 * console.log(metrics.baseline.finalValAccuracy);
 * ```
 */
export async function reproduce(options: ReproduceOptions): Promise<ReproduceMetrics> {
  const log = options.log ?? console.log;
  const signal = options.signal;
  const started = performance.now();
  const seeds = options.config.seeds ?? [options.config.seed];
  // The first seed's run is the one saved; the others are summarized over seeds.
  const config: ExperimentConfig = { ...options.config, seed: seeds[0] };
  const dataDir = resolve(options.dataDir);
  const outDir = resolve(options.outDir);
  await checkSeparateFolders(dataDir, outDir);
  signal?.throwIfAborted();
  const rss = trackPeakRss();
  const run = await beginRun(outDir, { info: { command: options.command }, log });
  const store = run.store;
  try {
    const backend = await initBackend(options.backend, { log });
    const dataSource = await prepareData(dataDir, options, log);
    log(
      `Protocol: ${config.epochs} epochs x ${config.stepsPerEpoch} steps x batch ${config.batchSize}` +
        ` at ${config.targetSize.join("x")}, seed ${config.seed}${config.quick ? " (quick)" : ""}.`,
    );
    if (seeds.length > 1) {
      log(`Every model is trained ${seeds.length} times, with seeds ${seeds.join(", ")}.`);
    }
    const flows = await createArticleFlows(dataDir, config, { strict: config.strict, log });
    const testList = await collectImages([join(dataDir, "test")], flows.inputSpec.classNames);
    const perClassAvailable = Math.min(
      ...flows.train.classNames.map((_, c) => flows.train.labels.filter((l) => l === c).length),
    );
    const tooMany = (config.trainPerClass ?? []).filter((n) => n > perClassAvailable);
    if (tooMany.length > 0) {
      // Said before any training: the subsets are drawn only after the first seed's run.
      throw new ConfigError(
        "--train-per-class",
        `--train-per-class asks for ${tooMany.join(", ")} training images per class, but the ` +
          `smallest class of ${flows.train.directory} has ${perClassAvailable}: ask for at most ` +
          `${perClassAvailable}.`,
      );
    }
    const threads = threadPlan(config.threads, backend.name);
    if (threads.threads > 1) log(threads.line);

    // 1. The baseline CNN.
    log("\n## Baseline CNN");
    const baseline = await trainBaseline(flows, config, {
      reporter: options.reporter,
      trainStep: threads.trainStep,
      signal,
      beforeFit: (model) => log(summarize(model)),
    });
    signal?.throwIfAborted();
    await store.saveModel({
      kind: "baseline",
      model: baseline.model,
      inputSpec: flows.inputSpec,
      history: baseline.fit.history,
      config,
    });
    await store.saveChart("model_loss", lossChartSpec(baseline.fit.history));
    await store.saveChart("model_accuracy", accuracyChartSpec(baseline.fit.history));
    const baselineRows = await predictTest(baseline.model, testList, flows.inputSpec, log);
    const baselineMetrics = modelMetrics(baseline.model, baseline.fit, baselineRows);
    log(baselineMetrics.diagnosis.message);
    log(`Baseline on the test images: ${baselineMetrics.test.line}`);
    await saveGradCam(store, "baseline", baseline.model, testList, flows.inputSpec);
    baseline.model.dispose();

    // 2. Transfer learning.
    let transferMetrics: ReproduceMetrics["transfer"] = { skipped: "--base none" };
    let transferRows: PredictionRow[] | null = null;
    let fineTuned: ReproduceMetrics["fineTuned"];
    let fineTunedRows: PredictionRow[] | undefined;
    const firstRun: SeedRun = {
      seed: config.seed,
      models: { [SEED_MODEL_NAMES.baseline]: seedModel(baselineMetrics) },
    };
    const repeated = seeds.length > 1 || (config.trainPerClass?.length ?? 0) > 0;
    let keptBase: PretrainedBase | null = null;
    let keptFeatures: TransferFeatures | undefined;
    const settings = config.transfer;
    if (settings !== null) {
      log(`\n## Transfer learning (${settings.mode} mode)`);
      const { base, choice } = await loadBase(settings, config, flows, options, log);
      log(`Transfer base: ${choice.summary}`);
      {
        log(summarize(base.model));
        if (settings.mode === "augmented") {
          log("Augmented mode runs the frozen base on every augmented batch: slow on CPU.");
        }
        const transfer = await trainTransfer(base, flows, config, {
          mode: settings.mode,
          learningRate: settings.headLearningRate,
          reporter: options.reporter,
          trainStep: threads.trainStep,
          predictFeatures: threads.predictFeatures,
          signal,
          beforeFit: (model) => log(summarize(model)),
          log,
        });
        signal?.throwIfAborted();
        await store.saveModel({
          kind: "transfer",
          model: transfer.model,
          inputSpec: flows.inputSpec,
          history: transfer.fit.history,
          config,
          extra: {
            base: base.name,
            weights: base.weightsSource,
            preprocessing: base.preprocessing,
            mode: settings.mode,
          },
        });
        const history = transfer.fit.history;
        await store.saveChart(
          "transfer_loss",
          lossChartSpec(history, { title: `Model Loss (${base.name} transfer)` }),
        );
        await store.saveChart(
          "transfer_accuracy",
          accuracyChartSpec(history, { title: `Model Accuracy (${base.name} transfer)` }),
        );
        await store.saveChart(
          "comparison",
          comparisonChartSpec({
            baseline: baseline.fit.history,
            [`${base.name} transfer`]: history,
          }),
        );
        transferRows = await predictTest(transfer.model, testList, flows.inputSpec, log);
        transferMetrics = {
          ...modelMetrics(transfer.model, transfer.fit, transferRows),
          base: base.name,
          weights: base.weightsSource,
          preprocessing: base.preprocessing,
          mode: settings.mode,
          baseParams: countParams(base.model),
          featureSeconds: transfer.featureSeconds,
          choice,
        };
        log(transferMetrics.diagnosis.message);
        log(`Transfer model on the test images: ${transferMetrics.test.line}`);
        await saveGradCam(store, "transfer", transfer.model, testList, flows.inputSpec);
        firstRun.models[SEED_MODEL_NAMES.transfer] = seedModel(transferMetrics);
        if (config.fineTune !== null) {
          // 2b. Fine-tuning (beyond the article): the base's top block, a low learning rate.
          log(`\n## Fine-tuning the ${base.name} base's top block`);
          const tuned = await fineTune(transfer.model, base, flows, {
            epochs: config.fineTune.epochs,
            learningRate: config.fineTune.learningRate,
            reporter: options.reporter,
            trainStep: threads.trainStep,
            signal,
            log,
          });
          try {
            signal?.throwIfAborted();
            await store.saveModel({
              kind: "fine_tuned",
              model: tuned.model,
              inputSpec: flows.inputSpec,
              history: tuned.fit.history,
              config,
              extra: {
                base: base.name,
                weights: base.weightsSource,
                preprocessing: base.preprocessing,
                unfrozen: tuned.unfrozen,
                learningRate: config.fineTune.learningRate,
              },
            });
            const title = `(${base.name} fine-tuned)`;
            await store.saveChart(
              "fine_tuned_loss",
              lossChartSpec(tuned.fit.history, { title: `Model Loss ${title}` }),
            );
            await store.saveChart(
              "fine_tuned_accuracy",
              accuracyChartSpec(tuned.fit.history, { title: `Model Accuracy ${title}` }),
            );
            await store.saveChart(
              "comparison",
              comparisonChartSpec({
                baseline: baseline.fit.history,
                [`${base.name} transfer`]: history,
                [`${base.name} fine-tuned`]: tuned.fit.history,
              }, {
                // fine-tuning goes on from the transfer model, after the head's epochs
                epochOffsets: { [`${base.name} fine-tuned`]: history.epoch.length },
              }),
            );
            fineTunedRows = await predictTest(tuned.model, testList, flows.inputSpec, log);
            fineTuned = {
              ...modelMetrics(tuned.model, tuned.fit, fineTunedRows),
              base: base.name,
              unfrozen: tuned.unfrozen,
              learningRate: config.fineTune.learningRate,
              epochs: config.fineTune.epochs,
            };
            log(fineTuned.diagnosis.message);
            log(`Fine-tuned model on the test images: ${fineTuned.test.line}`);
            await saveGradCam(store, "fine_tuned", tuned.model, testList, flows.inputSpec);
            firstRun.models[SEED_MODEL_NAMES.fineTuned] = seedModel(fineTuned);
          } finally {
            tuned.restore(); // the base is ImageNet's again, for the other seeds
          }
        }
        if (repeated) {
          // The base (and its features) serve the other seeds: dispose only this seed's head.
          transfer.head.dispose();
          keptBase = base;
          keptFeatures = transfer.features;
        } else {
          transfer.model.dispose();
        }
      }
    }

    // 2c. The other seeds, and the data-size experiment (beyond the article).
    const seedContext: SeedContext = {
      dataDir,
      config,
      base: keptBase,
      features: keptFeatures,
      testList,
      trainStep: threads.trainStep,
      predictFeatures: threads.predictFeatures,
      signal,
      log,
      reporter: options.reporter,
    };
    let seedsMetrics: SeedsMetrics | undefined;
    if (seeds.length > 1) {
      const others = seeds.slice(1);
      const lanes = seedLanes(threads.threads, backend.name, others.length, keptBase);
      log(
        `\n## Seeds ${others.join(", ")}` +
          (lanes > 1
            ? ` (${lanes} at a time, one per core, each on 1 thread)`
            : ", one after another"),
      );
      const runs = [
        firstRun,
        ...await trainSeeds(seedContext, others, { lanes, backend: backend.name }),
      ];
      signal?.throwIfAborted();
      seedsMetrics = summarizeSeeds(runs);
      await store.saveChart(
        "seeds_bands",
        seedBandChartSpec(
          {
            val_loss: seedCurves(runs, "val_loss"),
            val_accuracy: seedCurves(runs, "val_accuracy"),
          },
          seeds.length,
          { epochOffsets: fineTuneOffsets(runs) },
        ),
      );
      log(`\n## Over ${seeds.length} seeds`);
      for (const c of seedsMetrics.claims) log(`${c.verdict}: ${c.sentence}`);
    }
    let dataSize: DataSizeMetrics | undefined;
    if (config.trainPerClass && config.trainPerClass.length > 0) {
      dataSize = {
        sizes: config.trainPerClass,
        seeds,
        fullPerClass: perClassAvailable,
        points: [],
      };
      const jobs = config.trainPerClass.length * seeds.length;
      const lanes = seedLanes(threads.threads, backend.name, jobs, keptBase);
      log(
        `\n## ${config.trainPerClass.join(", ")} training images per class, seed${
          seeds.length > 1 ? "s" : ""
        } ${seeds.join(", ")}` +
          (lanes > 1 ? ` (${lanes} at a time, one per core, each on 1 thread)` : ""),
      );
      dataSize.points = await trainDataSizePoints(
        seedContext,
        config.trainPerClass,
        seeds,
        store.path(".subsets"),
        { lanes, backend: backend.name },
      );
      signal?.throwIfAborted();
      await Deno.remove(store.path(".subsets"), { recursive: true }).catch(() => {});
      await store.saveChart("data_size", dataSizeChartSpec(dataSize.points));
    }
    keptBase?.model.dispose();

    // 3. Test predictions, as the article's last step, with the best model we have.
    const finalRows = transferRows ?? baselineRows;
    const finalName = transferRows ? "transfer" : "baseline";
    log(`\n## Predictions on ${testList.files.length} unseen test images (${finalName} model)`);
    log(formatPredictionTable(finalRows, flows.inputSpec.classNames));
    log(formatConfusionMatrix(confusionMatrix(finalRows), flows.inputSpec.classNames));
    log(formatAccuracyLine(finalRows));
    await store.savePredictions({
      model: finalName,
      baseline: baselineRows,
      transfer: transferRows,
      ...(fineTunedRows ? { fineTuned: fineTunedRows } : {}),
    });
    await store.saveContactSheet(
      await renderContactSheet(finalRows, {
        title: `${finalName} model: ${formatAccuracyLine(finalRows)}`,
      }),
    );

    const metrics: ReproduceMetrics = {
      generatedAt: new Date().toISOString(),
      command: options.command,
      backend: { name: backend.name, reason: backend.reason, threads: threads.threads },
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
      ...(fineTuned ? { fineTuned } : {}),
      ...(seedsMetrics ? { seeds: seedsMetrics } : {}),
      ...(dataSize ? { dataSize } : {}),
    };
    metrics.timings.peakRssMiB = rss.stop() / 2 ** 20;
    await store.writeFile(
      REPORT_FILE,
      renderReport(metrics, backendLine(backend, threads.threads)),
    );
    signal?.throwIfAborted();
    await run.complete(metrics);
    log(
      `\nDone in ${metrics.timings.totalSeconds.toFixed(0)}s (peak memory ` +
        `${metrics.timings.peakRssMiB.toFixed(0)} MiB). Outputs in ${outDir}: report.md, ` +
        "metrics.json, charts, predictions, models/.",
    );
    return metrics;
  } catch (error) {
    rss.stop();
    const interrupted = signal?.aborted === true;
    await run.abandon(error, interrupted ? "interrupted" : "failed").catch(() => {});
    if (interrupted) {
      const reason = signal!.reason;
      throw new RunInterruptedError(
        reason instanceof RunInterruptedError ? reason.signal : undefined,
        `The run was interrupted${
          reason instanceof RunInterruptedError && reason.signal ? ` (${reason.signal})` : ""
        } and stopped at the next batch; ${outDir} keeps the previous run, if any, whole ` +
          "(the attempt is recorded in its last_attempt.json).",
      );
    }
    throw error;
  }
}

function backendLine(backend: BackendChoice, threads: number): string {
  return `${backend.name} (${threads} thread${threads > 1 ? "s" : ""}): ${backend.reason}`;
}

/** Makes sure the dataset is there (filling it when asked); returns where it came from. */
async function prepareData(
  dataDir: string,
  options: ReproduceOptions,
  log: (l: string) => void,
): Promise<string> {
  if (options.fetchData) {
    const summary = await ensureDataset(dataDir, {
      cacheDir: options.config.cacheDir,
      log,
      articleUrls: options.defaultSources?.articleUrls,
      cifarUrl: options.defaultSources?.cifarUrl,
    });
    return describeDatasetSource(summary);
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
  // The layout itself is checked once, by createArticleFlows (validateArticleLayout).
  return `the folder given, ${dataDir}`;
}

async function loadBase(
  settings: TransferConfig,
  config: ExperimentConfig,
  flows: ArticleFlows,
  options: ReproduceOptions,
  log: (l: string) => void,
): Promise<ResolvedBase> {
  return await resolveBase({
    base: settings.base,
    weights: settings.weights,
    inputShape: [...flows.train.imageShape] as [number, number, number],
    preprocessing: settings.preprocessing,
    cacheDir: config.cacheDir,
    log,
    defaultVgg16Weights: options.defaultSources?.vgg16Weights,
  });
}

/** Where the model looks in each test image: `<kind>_gradcam.png` (Grad-CAM, DLwP 5.4). */
async function saveGradCam(
  store: RunStore,
  kind: ModelKind,
  model: tf.LayersModel,
  list: Awaited<ReturnType<typeof collectImages>>,
  spec: InputSpec,
): Promise<void> {
  const explained = await explainImages(model, list, spec);
  await store.writeFile(
    gradCamFile(kind),
    await renderGradCamSheet(explained, {
      classNames: spec.classNames,
      title: `Grad-CAM of the ${kind.replace("_", "-")} model on the test images`,
    }),
  );
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

/** What the over-seeds summary keeps of a model of the saved run. */
function seedModel(m: ModelMetrics): SeedRun["models"][string] {
  return { history: m.history, test: { correct: m.test.correct, total: m.test.total } };
}

function modelMetrics(
  model: tf.LayersModel,
  fit: { history: History; epochSeconds: number[] },
  rows: PredictionRow[],
): ModelMetrics {
  const summary = summarizeHistory(fit.history);
  const acc = accuracyOf(rows);
  return {
    params: countParams(model),
    history: fit.history,
    epochSeconds: fit.epochSeconds,
    trainSeconds: fit.epochSeconds.reduce((a, b) => a + b, 0),
    finalValAccuracy: summary.val_accuracy.last,
    bestValAccuracy: summary.val_accuracy.best,
    finalValLoss: summary.val_loss.last,
    minValLoss: summary.val_loss.best,
    diagnosis: diagnoseFit(fit.history),
    test: {
      ...acc,
      line: formatAccuracyLine(rows),
      misclassified: rows.filter((r) => r.correct === false).map((r) => r.file),
    },
    confusionMatrix: confusionMatrix(rows),
  };
}
