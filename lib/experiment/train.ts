/**
 * `deno task train`: the article's experiment on the user's own images, without the article's
 * comparison framing. Any number of classes (binary for 2, softmax for more), from a folder in
 * the article's layout (`training_set/`, `val_set/`, optional `test/`) or one folder of class
 * folders cut by `validationSplit` (Keras' `validation_split`), optionally with a test folder.
 * Trains one model (the baseline CNN for base `none`, else a head on a frozen pretrained base),
 * and writes it with its history, charts, predictions, confusion matrix, a Grad-CAM sheet and a
 * short report. `cli/train.ts` is a thin front end over {@linkcode train}.
 *
 * Outputs (written atomically; `metrics.json` last, only when the run completes): `model/`
 * (for `deno task predict --model OUT/model`), `history.csv`, `loss.*`, `accuracy.*`,
 * `predictions.json`, `predictions.png`, `gradcam.png`, `report.md`, `run.json`, `metrics.json`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { join, resolve } from "node:path";
import { type BackendRequest, initBackend } from "../training/runtime.ts";
import { accuracyChartSpec, lossChartSpec, writeChart } from "../report/charts.ts";
import { renderContactSheet } from "../report/contact_sheet.ts";
import { renderGradCamSheet } from "../report/heatmap.ts";
import { renderTrainReport } from "../report/train_report.ts";
import type { TrainMetrics } from "../report/metrics.ts";
import type { ExperimentConfig } from "../config.ts";
import { DatasetError } from "../data/dataset.ts";
import { diagnoseFit } from "../training/diagnose.ts";
import { classWeightBalanced } from "../training/class_weight.ts";
import {
  type ArticleFlows,
  createArticleFlows,
  trainBaseline,
  trainTransfer,
} from "../training/experiment.ts";
import { historyToCsv } from "../training/history.ts";
import { trackPeakRss } from "../training/memory.ts";
import { saveModel } from "../models/model_io.ts";
import { countParams, summarize } from "../models/summary.ts";
import { createBase } from "../models/bases.ts";
import type { BaseName } from "../config.ts";
import { explainImages } from "../models/gradcam.ts";
import { beginRun } from "../runs/staging.ts";
import { createDataParallelTrainStep, createParallelPredictor } from "../training/parallel.ts";
import {
  accuracyOf,
  classScores,
  collectImages,
  confusionMatrix,
  formatAccuracyLine,
  formatClassScores,
  formatConfusionMatrix,
  formatPredictionTable,
  type ImageList,
  predictImages,
} from "../models/predict.ts";
import type { ProgressReporter } from "../training/progress.ts";
import { printableLine } from "../_escape.ts";

export type { TrainMetrics };

/** Everything a `train` run needs. */
export interface TrainOptions {
  /**
   * The images: the article's layout (`training_set/`, `val_set/` and optionally `test/`, one
   * subfolder per class in each), or one folder of class folders with `validationSplit`.
   */
  dataDir: string;
  /** Keras' `validation_split` (0 < F < 1): the first F of each class's sorted files validate. */
  validationSplit?: number;
  /** A test folder of class folders, for the one-folder layout (default `dataDir/test/`). */
  testDir?: string;
  /** Where outputs go. */
  outDir: string;
  /** The protocol (epochs, steps, batch, seed, image size). */
  config: ExperimentConfig;
  /** Backend request (`auto` picks the fastest that trains). */
  backend: BackendRequest;
  /** `none`: the article's baseline CNN; `mobilenet` or `vgg16`: a head on a frozen base. */
  base: BaseName | "none";
  /** Weights path or URL of the base (VGG16 h5 file, MobileNet layers-model folder). */
  weights?: string;
  /** Keras' `class_weight="balanced"`: weigh each image's loss by `n / (K * n_class)`. */
  classWeight?: "balanced";
  /** Adam's learning rate for the transfer head (default `TRANSFER_LEARNING_RATE`). */
  headLearningRate?: number;
  /** Use a Worker per extra core for training and feature extraction (default true). */
  parallel?: boolean;
  /** Download cache directory. */
  cacheDir?: string;
  /** Stop on unreadable images instead of skipping them. */
  strict?: boolean;
  /** The command line, for the records. */
  command: string;
  /** Where lines go (default `console.log`). */
  log?: (line: string) => void;
  /** Training progress (default the Keras-style console printout). */
  reporter?: ProgressReporter;
}

/** Raised for a data folder `train` cannot read as a dataset. */
export class TrainLayoutError extends DatasetError {}

/** Where a `train` run's images come from. */
export interface TrainLayout {
  /** The folder passed to `createArticleFlows` (the layout root, or the class folders). */
  flowDir: string;
  /** Set when validation is cut from the training folder. */
  validationSplit?: number;
  /** The test folder, or null when there is none. */
  testDir: string | null;
  /** Human-readable description for the log and the report. */
  description: string;
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

/**
 * Works out which layout `dataDir` has: `training_set/` + `val_set/` (+ `test/`), or
 * `training_set/` + `validationSplit`, or class folders + `validationSplit`.
 *
 * @throws {TrainLayoutError} naming the folder and what to pass, for a missing folder, a
 *   one-folder layout without `validationSplit`, or a `val_set/` with `validationSplit` too
 * @example
 * ```ts
 * const layout = await resolveTrainLayout("my_images", 0.2);
 * console.log(layout.description); // class folders in my_images, 20% of each class validates
 * ```
 */
export async function resolveTrainLayout(
  dataDir: string,
  validationSplit?: number,
  testDir?: string,
): Promise<TrainLayout> {
  const root = resolve(dataDir);
  if (!(await isDir(root))) {
    throw new TrainLayoutError(
      root,
      `--data ${root} does not exist or is not a folder. Give a folder of class folders ` +
        "(with --validation-split 0.2), or one in the article's layout (training_set/, val_set/, " +
        "optional test/).",
    );
  }
  if (validationSplit !== undefined && !(validationSplit > 0 && validationSplit < 1)) {
    throw new TrainLayoutError(
      root,
      `validationSplit must be above 0 and below 1, got ${validationSplit}.`,
    );
  }
  const explicitTest = testDir === undefined ? null : resolve(testDir);
  if (explicitTest !== null && !(await isDir(explicitTest))) {
    throw new TrainLayoutError(
      explicitTest,
      `--test ${explicitTest} does not exist or is not a folder; give a folder of class folders.`,
    );
  }
  const pct = (f: number) => `${Math.round(f * 1000) / 10}%`;
  if (await isDir(join(root, "training_set"))) {
    const test = explicitTest ?? (await isDir(join(root, "test")) ? join(root, "test") : null);
    const hasVal = await isDir(join(root, "val_set"));
    if (hasVal && validationSplit !== undefined) {
      throw new TrainLayoutError(
        join(root, "val_set"),
        `${root} has a val_set/ folder and --validation-split ${validationSplit} was given: ` +
          "use one. Drop --validation-split to validate on val_set/.",
      );
    }
    if (hasVal) {
      return {
        flowDir: root,
        testDir: test,
        description: `the article's layout in ${root} (training_set/, val_set/, ${
          test ? "test/" : "no test set"
        })`,
      };
    }
    if (validationSplit === undefined) {
      throw new TrainLayoutError(
        join(root, "val_set"),
        `${root} has training_set/ but no val_set/: add one, or pass --validation-split 0.2 ` +
          "to validate on the first 20% of each class's images in training_set/.",
      );
    }
    return {
      flowDir: join(root, "training_set"),
      validationSplit,
      testDir: test,
      description: `class folders in ${join(root, "training_set")}, ${
        pct(validationSplit)
      } of each class validates`,
    };
  }
  if (validationSplit === undefined) {
    throw new TrainLayoutError(
      root,
      `${root} has no training_set/ folder, so it is taken as one folder of class folders: ` +
        "pass --validation-split 0.2 (Keras' validation_split) to hold out the first 20% of " +
        "each class's images for validation, or arrange it as training_set/ and val_set/.",
    );
  }
  return {
    flowDir: root,
    validationSplit,
    testDir: explicitTest,
    description: `class folders in ${root}, ${pct(validationSplit)} of each class validates`,
  };
}

/** The validation images as a prediction list (their true classes from the flow). */
function validationList(flows: ArticleFlows): ImageList {
  return {
    files: [...flows.val.files],
    names: [...flows.val.filenames],
    trueClasses: [...flows.val.labels],
  };
}

/** At most this many images go on the Grad-CAM sheet. */
const GRADCAM_IMAGES = 24;

/**
 * Trains one model on the user's images and writes the outputs (see the module docs); returns
 * the metrics it wrote.
 *
 * @example
 * ```ts
 * const metrics = await train({ dataDir: "my_images", validationSplit: 0.2, outDir: "runs/mine",
 *   config: experimentConfig({ epochs: 10 }), backend: "auto", base: "none",
 *   command: "deno task train --data my_images --validation-split 0.2" });
 * console.log(metrics.dataset.classNames, metrics.model.test.line);
 * ```
 */
export async function train(options: TrainOptions): Promise<TrainMetrics> {
  const log = options.log ?? console.log;
  const started = performance.now();
  const rss = trackPeakRss();
  const outDir = resolve(options.outDir);
  const layout = await resolveTrainLayout(
    options.dataDir,
    options.validationSplit,
    options.testDir,
  );
  const run = await beginRun(outDir, { info: { command: options.command } });
  try {
    const backend = await initBackend(options.backend, { log });
    const config = options.config;
    log(`Data: ${printableLine(layout.description)}.`);
    log(
      `Protocol: ${config.epochs} epochs x ${config.stepsPerEpoch} steps x batch ${config.batchSize}` +
        ` at ${config.targetSize.join("x")}, seed ${config.seed}${config.quick ? " (quick)" : ""}.`,
    );
    const flows = await createArticleFlows(layout.flowDir, config, {
      strict: options.strict,
      log,
      validationSplit: layout.validationSplit,
    });
    const classNames = flows.inputSpec.classNames;
    const classMode = flows.train.classMode as "binary" | "categorical";
    log(
      `${flows.numClasses} classes (${classNames.map(printableLine).join(", ")}): ` +
        `class_mode "${classMode}", ${
          flows.numClasses === 2
            ? "one sigmoid output, binary cross-entropy"
            : `softmax over ${flows.numClasses}, categorical cross-entropy`
        }.`,
    );
    const testList = layout.testDir === null
      ? null
      : await collectImages([layout.testDir], classNames);
    if (testList !== null && !testList.trueClasses.some((c) => c !== null)) {
      throw new TrainLayoutError(
        layout.testDir!,
        `The test folder ${layout.testDir} has no class folders named like the training ` +
          `classes (${classNames.join(", ")}); give it the same class folders.`,
      );
    }
    const classWeight = options.classWeight === "balanced"
      ? classWeightBalanced(flows.train.labels, flows.numClasses)
      : undefined;
    if (classWeight) {
      log(
        `class_weight balanced: ${
          classNames.map((c, i) => `${printableLine(c)} ${classWeight[i].toFixed(3)}`).join(", ")
        }.`,
      );
    }
    const threads = (options.parallel ?? true) && backend.name !== "node" ? 2 : 1;
    const trainStep = threads > 1
      ? (model: tf.LayersModel) =>
        createDataParallelTrainStep(model, { workers: threads - 1, classWeight })
      : undefined;
    if (threads > 1) {
      log(`Training on ${threads} threads (main + ${threads - 1} Worker, data parallel).`);
    }

    let trained;
    let baseInfo: TrainMetrics["base"] = null;
    if (options.base === "none") {
      log("\n## Baseline CNN");
      trained = await trainBaseline(flows, config, {
        reporter: options.reporter,
        trainStep,
        classWeight,
        beforeFit: (model) => log(summarize(model)),
      });
    } else {
      log(`\n## Transfer learning on a frozen ${options.base} base`);
      const base = await createBase({
        base: options.base,
        weights: options.weights,
        inputShape: [...flows.train.imageShape] as [number, number, number],
        cacheDir: options.cacheDir,
        log,
      });
      const predictFeatures = threads > 1
        ? (m: tf.LayersModel) => createParallelPredictor(m, { workers: threads - 1 })
        : undefined;
      const transfer = await trainTransfer(base, flows, config, {
        learningRate: options.headLearningRate,
        reporter: options.reporter,
        trainStep,
        classWeight,
        predictFeatures,
        beforeFit: (model) => log(summarize(model)),
        log,
      });
      trained = transfer;
      baseInfo = {
        name: base.name,
        weights: base.weightsSource,
        params: countParams(base.model),
        featureSeconds: transfer.featureSeconds,
      };
    }
    const { model, fit } = trained;
    await saveModel(model, run.store.path("model"), {
      metadata: {
        ...flows.inputSpec,
        classMode,
        kind: options.base === "none" ? "baseline" : "transfer",
        ...(baseInfo ? { base: baseInfo.name } : {}),
      },
    });
    await run.store.writeFile("history.csv", historyToCsv(fit.history));
    await writeChart(lossChartSpec(fit.history), outDir, "loss");
    await writeChart(accuracyChartSpec(fit.history), outDir, "accuracy");
    const diagnosis = diagnoseFit(fit.history);
    log(diagnosis.message);

    const evalSet = testList ? "test" : "validation";
    const list = testList ?? validationList(flows);
    const rows = await predictImages(model, list, flows.inputSpec, {
      onSkip: (path, reason) => log(`Skipped unreadable image ${printableLine(path)}: ${reason}`),
    });
    const matrix = confusionMatrix(rows, flows.numClasses);
    const scores = classScores(matrix, classNames);
    log(`\n## Predictions on the ${rows.length} ${evalSet} images`);
    log(formatPredictionTable(rows, classNames));
    log(formatConfusionMatrix(matrix, classNames));
    log(formatClassScores(scores));
    log(formatAccuracyLine(rows));
    await run.store.writeJson("predictions.json", { images: evalSet, classNames, rows });
    await run.store.writeFile(
      "predictions.png",
      await renderContactSheet(rows, {
        title: `${evalSet} images: ${formatAccuracyLine(rows)}`,
      }),
    );
    const explained = await explainImages(model, {
      files: list.files.slice(0, GRADCAM_IMAGES),
      names: list.names.slice(0, GRADCAM_IMAGES),
      trueClasses: list.trueClasses.slice(0, GRADCAM_IMAGES),
    }, flows.inputSpec);
    await run.store.writeFile(
      "gradcam.png",
      await renderGradCamSheet(explained, {
        classNames,
        title: `Grad-CAM: where the model looks (${evalSet} images)`,
      }),
    );
    const h = fit.history.history;
    const metrics: TrainMetrics = {
      generatedAt: new Date().toISOString(),
      command: options.command,
      backend: { name: backend.name, reason: backend.reason, threads },
      dataset: {
        dir: resolve(options.dataDir),
        layout: layout.description,
        classNames,
        classMode,
        validationSplit: layout.validationSplit ?? null,
        train: flows.train.samples,
        val: flows.val.samples,
        test: testList ? testList.files.length : 0,
      },
      config,
      classWeight: classWeight ?? null,
      base: baseInfo,
      timings: { totalSeconds: 0, peakRssMiB: 0 },
      model: {
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
          ...accuracyOf(rows),
          line: formatAccuracyLine(rows),
          misclassified: rows.filter((r) => r.correct === false).map((r) => r.file),
        },
        confusionMatrix: matrix,
      },
      evaluatedOn: evalSet,
      classScores: scores,
    };
    model.dispose();
    metrics.timings.totalSeconds = (performance.now() - started) / 1000;
    metrics.timings.peakRssMiB = rss.stop() / 2 ** 20;
    await run.store.writeFile("report.md", renderTrainReport(metrics));
    await run.complete(metrics);
    log(
      `\nDone in ${metrics.timings.totalSeconds.toFixed(0)}s. Outputs in ${outDir}: report.md, ` +
        "metrics.json, model/, charts, predictions, gradcam.png.\n" +
        `Predict with: deno task predict --model ${join(outDir, "model")} IMAGES...`,
    );
    return metrics;
  } catch (error) {
    rss.stop();
    await run.abandon(error, "failed").catch(() => {});
    throw error;
  }
}
