/**
 * Beyond the article: the same experiment repeated over seeds, with fine-tuning as a third
 * model, and the accuracy-vs-data-size experiment. `reproduce` runs the first seed itself (with
 * every output of a single run) and hands the other seeds and the data-size points to the
 * functions here, through `seed_pool.ts` (which runs them side by side in Worker lanes):
 *
 * - {@linkcode trainSeed}: baseline, transfer (on features extracted once) and, when asked,
 *   fine-tuning, for one seed; returns their Histories and test images right.
 * - {@linkcode trainDataSizePoint}: baseline and transfer on `perClass` training images per class
 *   (a seeded subset, same validation set); returns their final val accuracy.
 *
 * A seed sets everything random in a run: the weights' initialisation, the shuffling and
 * augmentation of the training images, the head's dropout and the order its features are fed.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import type { ExperimentConfig } from "../config.ts";
import type { PretrainedBase } from "../models/base.ts";
import { accuracyOf, type ImageList, type InputSpec, predictImages } from "../models/predict.ts";
import {
  type ArticleFlows,
  createArticleFlows,
  trainBaseline,
  type TrainSettings,
  trainTransfer,
  type TransferFeatures,
  type TransferSettings,
} from "../training/experiment.ts";
import { fineTune } from "../training/fine_tune.ts";
import type { ProgressReporter } from "../training/progress.ts";
import { SEED_MODEL_NAMES as MODEL_NAMES, type SeedRun } from "../report/seeds.ts";
import type { DataSizePoint } from "../report/seed_charts.ts";
import { writeTrainingSubset } from "../data/subsets.ts";

/** What every extra seed shares with the first. */
export interface SeedContext {
  dataDir: string;
  /**
   * The experiment: protocol, transfer (its mode and head learning rate), fine-tuning,
   * strictness; its `seed` is replaced per run.
   */
  config: ExperimentConfig;
  /** The pretrained base, or null for `--base none`. */
  base: PretrainedBase | null;
  /** The base's features, extracted once (features mode). */
  features?: TransferFeatures;
  /** The unseen test images, predicted by every model of every seed. */
  testList: ImageList;
  trainStep?: TrainSettings["trainStep"];
  predictFeatures?: TransferSettings["predictFeatures"];
  /** Stops the run at the next batch once aborted. */
  signal?: AbortSignal;
  log: (line: string) => void;
  /** Training progress of every model (default: none shown). */
  reporter?: ProgressReporter;
  /**
   * A progress display per training, in place of `reporter`: called with the training's label
   * (`Seed 43, baseline CNN`) just after its line is logged; `end` is awaited when it finishes.
   */
  progressFor?: (label: string) => StageProgress;
}

/** The progress of one training of a seed: see {@linkcode SeedContext.progressFor}. */
export interface StageProgress {
  reporter: ProgressReporter;
  end(): void | Promise<void>;
}

/** Logs the start of one training and runs it with its progress display. */
async function stage<T>(
  ctx: Omit<SeedContext, "features" | "testList">,
  line: string,
  label: string,
  train: (reporter: ProgressReporter | undefined) => Promise<T>,
): Promise<T> {
  ctx.log(line);
  const progress = ctx.progressFor?.(label);
  try {
    return await train(progress?.reporter ?? ctx.reporter);
  } finally {
    await progress?.end();
  }
}

/** The transfer head of one seed (its features reused when given), as a {@linkcode stage}. */
function transferStage(
  ctx: Omit<SeedContext, "features" | "testList">,
  base: PretrainedBase,
  flows: ArticleFlows,
  config: ExperimentConfig,
  [line, label]: [string, string],
  features?: TransferFeatures,
) {
  const settings = config.transfer!;
  return stage(ctx, line, label, (reporter) =>
    trainTransfer(base, flows, config, {
      reporter,
      trainStep: ctx.trainStep,
      signal: ctx.signal,
      mode: settings.mode,
      learningRate: settings.headLearningRate,
      predictFeatures: ctx.predictFeatures,
      features,
      log: () => {},
    }));
}

async function testRight(model: tf.LayersModel, ctx: SeedContext, spec: InputSpec) {
  const rows = await predictImages(model, ctx.testList, spec, { onSkip: () => {} });
  const { correct, total } = accuracyOf(rows);
  return { correct, total };
}

/**
 * Trains the baseline, the transfer model and (with `ctx.config.fineTune`) the fine-tuned model
 * for one seed, predicts the test images with each, and returns their Histories and test counts.
 * Models are disposed; the base is restored to its pretrained weights. Once `ctx.signal` is
 * aborted it trains no further model and returns what it has: the caller drops such a seed.
 *
 * @example
 * ```ts
 * const run = await trainSeed(ctx, 7);
 * run.models.transfer.history.history.val_loss.at(-1);
 * ```
 */
export async function trainSeed(ctx: SeedContext, seed: number): Promise<SeedRun> {
  const config = { ...ctx.config, seed };
  const flows = await createArticleFlows(ctx.dataDir, config, {
    strict: config.strict,
    log: () => {},
  });
  const common = { trainStep: ctx.trainStep, signal: ctx.signal };
  const models: SeedRun["models"] = {};
  const baseline = await stage(
    ctx,
    `Seed ${seed}: baseline CNN`,
    `Seed ${seed}, baseline CNN`,
    (reporter) => trainBaseline(flows, config, { ...common, reporter }),
  );
  models[MODEL_NAMES.baseline] = {
    history: baseline.fit.history,
    test: await testRight(baseline.model, ctx, flows.inputSpec),
  };
  baseline.model.dispose();
  const settings = config.transfer;
  if (ctx.signal?.aborted) return { seed, models }; // stopped: the caller drops this seed
  if (ctx.base !== null && settings !== null) {
    const base = ctx.base;
    const transfer = await transferStage(
      ctx,
      base,
      flows,
      config,
      [`Seed ${seed}: transfer learning (${base.name})`, `Seed ${seed}, transfer head`],
      settings.mode === "features" ? ctx.features : undefined,
    );
    models[MODEL_NAMES.transfer] = {
      history: transfer.fit.history,
      test: await testRight(transfer.model, ctx, flows.inputSpec),
    };
    if (config.fineTune !== null && !ctx.signal?.aborted) {
      const tuning = config.fineTune;
      const tuned = await stage(
        ctx,
        `Seed ${seed}: fine-tuning`,
        `Seed ${seed}, fine-tuning`,
        (reporter) =>
          fineTune(transfer.model, base, flows, {
            ...common,
            reporter,
            epochs: tuning.epochs,
            learningRate: tuning.learningRate,
            log: () => {},
          }),
      );
      try {
        models[MODEL_NAMES.fineTuned] = {
          history: tuned.fit.history,
          test: await testRight(tuned.model, ctx, flows.inputSpec),
        };
      } finally {
        tuned.restore();
      }
    }
    transfer.head.dispose();
  }
  return { seed, models };
}

/**
 * Trains the baseline and the transfer model on `perClass` training images per class (a seeded
 * subset written under `scratchDir`, removed afterwards; the validation set stays whole) and
 * returns each model's final validation accuracy.
 *
 * @example
 * ```ts
 * const points = await trainDataSizePoint(ctx, 20, 1, "outputs/.subsets");
 * // [{ model: "baseline", perClass: 20, seed: 1, valAccuracy: 0.7 }, { model: "transfer", ... }]
 * ```
 */
export async function trainDataSizePoint(
  ctx: Omit<SeedContext, "features" | "testList">,
  perClass: number,
  seed: number,
  scratchDir: string,
): Promise<DataSizePoint[]> {
  const config = { ...ctx.config, seed };
  const dir = await writeTrainingSubset(
    ctx.dataDir,
    perClass,
    seed,
    join(scratchDir, `per_class_${perClass}_seed_${seed}`),
  );
  try {
    const flows = await createArticleFlows(dir, config, { strict: config.strict, log: () => {} });
    const common = { trainStep: ctx.trainStep, signal: ctx.signal };
    const points: DataSizePoint[] = [];
    const where = `${perClass} training images per class, seed ${seed}`;
    const baseline = await stage(
      ctx,
      `${where}: baseline CNN`,
      `${perClass} per class, seed ${seed}, baseline CNN`,
      (reporter) => trainBaseline(flows, config, { ...common, reporter }),
    );
    points.push({
      model: MODEL_NAMES.baseline,
      perClass,
      seed,
      valAccuracy: baseline.fit.history.history.val_accuracy.at(-1)!,
    });
    baseline.model.dispose();
    if (ctx.base !== null && config.transfer !== null) {
      const transfer = await transferStage(ctx, ctx.base, flows, config, [
        `${where}: transfer (${ctx.base.name})`,
        `${perClass} per class, seed ${seed}, transfer head`,
      ]);
      points.push({
        model: MODEL_NAMES.transfer,
        perClass,
        seed,
        valAccuracy: transfer.fit.history.history.val_accuracy.at(-1)!,
      });
      transfer.head.dispose();
    }
    return points;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
