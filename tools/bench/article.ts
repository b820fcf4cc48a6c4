/**
 * The article's epoch, timed and taken apart: 30 steps of 32 augmented 64x64 images through the
 * baseline CNN, then the validation pass, as `deno task reproduce` runs it and as Keras runs it in
 * `../shared/bench/keras_article.py` (the peer figure). Each epoch's time is split into
 * - `batchSeconds`: drawing the next batch (JavaScript augmentation and batch assembly),
 * - `tensorSeconds`: turning it into tensors,
 * - `stepSeconds`: the optimiser step (forward, backward, Adam; `trainOnBatch`),
 * - `validationSeconds`: the validation pass,
 * and one step is profiled by TensorFlow.js kernel (how many kernels, where their time goes).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { experimentConfig } from "../../lib/config.ts";
import { createArticleFlows } from "../../lib/training/experiment.ts";
import { createBaselineModel } from "../../lib/models/baseline.ts";
import { batchTensors, evaluate } from "../../lib/training/fit.ts";
import { createDataParallelTrainStep } from "../../lib/training/parallel.ts";
import { type BackendName, initBackend } from "../../lib/training/runtime.ts";

/** Options of {@linkcode measureArticleEpoch}. */
export interface ArticleEpochOptions {
  /** The dataset root (`training_set/`, `val_set/`), e.g. `../shared/datasets/car-plane`. */
  data: string;
  backend: BackendName;
  /** Epochs to run; the first is a warm-up and the median of the others is reported (3). */
  epochs?: number;
  /** Workers beside the main thread (0: the main thread only, as reproduce runs on node). */
  workers?: number;
  /** Steps per epoch (the article's 30). */
  stepsPerEpoch?: number;
}

/** Where one epoch's time went, in seconds. */
export interface EpochBreakdown {
  epochSeconds: number;
  batchSeconds: number;
  tensorSeconds: number;
  stepSeconds: number;
  validationSeconds: number;
}

/** One kernel's share of a profiled training step. */
export interface KernelShare {
  kernel: string;
  calls: number;
  ms: number;
}

/** What {@linkcode measureArticleEpoch} measured. */
export interface ArticleEpochResult {
  backend: BackendName;
  threads: number;
  /** Every epoch, the warm-up first. */
  epochs: EpochBreakdown[];
  /** The median of the epochs after the first (each part its own median). */
  median: EpochBreakdown;
  /** Training images per second over the epochs after the first, validation included (Keras' figure). */
  trainImgPerS: number;
  /** TensorFlow.js kernels run by one training step (main thread, 1-thread runs only). */
  kernelsPerStep: number | null;
  /** The kernels that took most of that step's time. */
  topKernels: KernelShare[];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Runs the article's training for a few epochs on `backend` and returns each epoch's time split
 * into batch drawing, tensor creation, the step and validation, plus a kernel profile of a step.
 *
 * @example
 * ```ts
 * const r = await measureArticleEpoch({ data: "../shared/datasets/car-plane", backend: "node" });
 * console.log(r.median.epochSeconds, r.median.stepSeconds);
 * ```
 */
export async function measureArticleEpoch(
  options: ArticleEpochOptions,
): Promise<ArticleEpochResult> {
  const epochs = Math.max(2, options.epochs ?? 3);
  const workers = options.workers ?? 0;
  await initBackend(options.backend, { log: null });
  const config = experimentConfig({
    quick: false,
    stepsPerEpoch: options.stepsPerEpoch ?? 30,
  });
  const flows = await createArticleFlows(options.data, config, { log: () => {} });
  const model = createBaselineModel({ inputShape: [64, 64, 3], seed: config.seed });
  const parallel = workers > 0
    ? await createDataParallelTrainStep(model, { workers, backend: options.backend })
    : null;
  const rows: EpochBreakdown[] = [];
  const images: number[] = [];
  let kernelsPerStep: number | null = null;
  let topKernels: KernelShare[] = [];
  try {
    for (let e = 0; e < epochs; e++) {
      const row = {
        epochSeconds: 0,
        batchSeconds: 0,
        tensorSeconds: 0,
        stepSeconds: 0,
        validationSeconds: 0,
      };
      const start = performance.now();
      for (let s = 0; s < config.stepsPerEpoch; s++) {
        const t0 = performance.now();
        const batch = await flows.train.next();
        const t1 = performance.now();
        images[e] = (images[e] ?? 0) + batch.size;
        row.batchSeconds += (t1 - t0) / 1000;
        if (parallel !== null) {
          await parallel.step(batch);
          row.stepSeconds += (performance.now() - t1) / 1000;
          continue;
        }
        const { xs, ys } = batchTensors(batch);
        const t2 = performance.now();
        row.tensorSeconds += (t2 - t1) / 1000;
        await model.trainOnBatch(xs, ys!);
        row.stepSeconds += (performance.now() - t2) / 1000;
        tf.dispose([xs, ys!]);
      }
      const v0 = performance.now();
      await evaluate(model, flows.val);
      row.validationSeconds = (performance.now() - v0) / 1000;
      row.epochSeconds = (performance.now() - start) / 1000;
      rows.push(row);
    }
    if (parallel === null) {
      const { xs, ys } = batchTensors(await flows.train.next());
      const info = await tf.profile(async () => {
        await model.trainOnBatch(xs, ys!);
      });
      tf.dispose([xs, ys!]);
      kernelsPerStep = info.kernels.length;
      const shares = new Map<string, KernelShare>();
      for (const k of info.kernels) {
        const share = shares.get(k.name) ?? { kernel: k.name, calls: 0, ms: 0 };
        share.calls++;
        share.ms += Number(k.kernelTimeMs) || 0;
        shares.set(k.name, share);
      }
      topKernels = [...shares.values()].sort((a, b) => b.ms - a.ms).slice(0, 8);
    }
  } finally {
    await parallel?.close();
    model.dispose();
  }
  const steady = rows.slice(1);
  const med: EpochBreakdown = {
    epochSeconds: median(steady.map((r) => r.epochSeconds)),
    batchSeconds: median(steady.map((r) => r.batchSeconds)),
    tensorSeconds: median(steady.map((r) => r.tensorSeconds)),
    stepSeconds: median(steady.map((r) => r.stepSeconds)),
    validationSeconds: median(steady.map((r) => r.validationSeconds)),
  };
  return {
    backend: options.backend,
    threads: workers + 1,
    epochs: rows,
    median: med,
    trainImgPerS: images.slice(1).reduce((a, b) => a + b, 0) /
      steady.reduce((a, r) => a + r.epochSeconds, 0),
    kernelsPerStep,
    topKernels,
  };
}
