/**
 * Measuring tfjs on one backend for `deno task bench`: the article's baseline CNN training and
 * VGG16's convolutional base inference, on one thread and data-parallel
 * ({@link createDataParallelTrainStep}, {@link createParallelPredictor}).
 *
 * Figures (images per second, higher is better), named as the anchors name them:
 * - `baseline_train_img_per_s`: the article's CNN at 64x64x3 (input [64, 64, 3] ->
 *   Conv2D(32, 3x3, relu) -> MaxPooling2D(2) -> Conv2D(32, 3x3, relu) -> MaxPooling2D(2) ->
 *   Flatten -> Dense(128, relu) -> Dense(1, sigmoid), Adam, binary cross-entropy), one step per
 *   batch of 32 random images (speed does not depend on the values), warm-up excluded;
 * - `vgg16_forward_img_per_s`: VGG16's convolutional base (`include_top=False`) at 64x64,
 *   batches of 16, inference, built by `lib/models/vgg16.ts` with random weights (Keras'
 *   `weights=None`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { createBaselineModel } from "../../lib/models/baseline.ts";
import "@tensorflow/tfjs-backend-wasm";
import { registerWasmTrainingKernels } from "../../lib/training/wasm_kernels/mod.ts";
import { CarplaneError } from "../../lib/errors.ts";
import { type BackendName, initBackend } from "../../lib/training/runtime.ts";
import { buildVgg16Architecture } from "../../lib/models/vgg16.ts";
import {
  createDataParallelTrainStep,
  createParallelPredictor,
} from "../../lib/training/parallel.ts";
import type { LabeledBatch } from "../../lib/training/fit.ts";
import type { ArticleEpochResult } from "./article.ts";

/** Options of {@linkcode measureBaselineTraining} and {@linkcode measureForward}. */
export interface MeasureOptions {
  /** tfjs backend to measure on, e.g. `"wasm"` or `"cpu"`. */
  backend: string;
  /** Images per batch. Default 32. */
  batchSize?: number;
  /** Timed batches (after the warm-up). Default 5. */
  steps?: number;
  /** Untimed batches first (kernel setup, XNNPACK operator creation, heap growth). Default 2. */
  warmupSteps?: number;
  /**
   * On `"wasm"`, call {@linkcode registerWasmTrainingKernels} (default options) first. Default
   * `true`; `false` measures whatever kernels are registered (e.g. after
   * `registerWasmTrainingKernels({ replaceUpstream: false })`).
   */
  registerKernels?: boolean;
}

/** Thrown for options that cannot be measured. */
export class MeasureOptionsError extends CarplaneError {
  /** @param message what is wrong and what to pass instead */
  constructor(message: string) {
    super(message);
    this.name = "MeasureOptionsError";
  }
}

async function onBackend<T>(
  backend: string,
  registerKernels: boolean,
  body: () => Promise<T>,
): Promise<T> {
  if (backend === "wasm" && registerKernels) registerWasmTrainingKernels();
  const previous = tf.getBackend();
  if (!(await tf.setBackend(backend))) {
    throw new MeasureOptionsError(
      `tfjs backend '${backend}' could not be initialised; use "wasm" or "cpu".`,
    );
  }
  try {
    return await body();
  } finally {
    if (previous != null && previous !== backend) await tf.setBackend(previous);
  }
}

/**
 * Times `steps` calls of `step` and converts the median call time to images per second (the
 * median resists the hiccups of a machine shared with other processes).
 */
async function imagesPerSecond(
  batchSize: number,
  steps: number,
  step: () => Promise<unknown>,
): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const start = performance.now();
    await step();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  const mid = Math.floor(times.length / 2);
  const median = times.length % 2 === 1 ? times[mid] : (times[mid - 1] + times[mid]) / 2;
  return (batchSize * 1000) / median;
}

function checkOptions(options: MeasureOptions): Required<MeasureOptions> {
  const { backend, batchSize = 32, steps = 5, warmupSteps = 2, registerKernels = true } = options;
  for (
    const [name, value, min] of [["batchSize", batchSize, 1], ["steps", steps, 1], [
      "warmupSteps",
      warmupSteps,
      0,
    ]] as const
  ) {
    if (!Number.isInteger(value) || value < min) {
      throw new MeasureOptionsError(`${name} must be an integer >= ${min}, got ${value}.`);
    }
  }
  return { backend, batchSize, steps, warmupSteps, registerKernels };
}

/**
 * Training throughput of the article's baseline CNN: images per second for one Adam step
 * (`model.trainOnBatch`) per batch of 64x64x3 images, from the median step time, warm-up
 * excluded. On `"wasm"` the training
 * kernels of this module are registered first. The previously active backend is restored.
 *
 * @param options backend, batch size, timed and warm-up steps
 * @returns images per second
 *
 * @example
 * ```ts
 * import { measureBaselineTraining } from "./measure.ts";
 *
 * const imgPerS = await measureBaselineTraining({ backend: "wasm", batchSize: 32, steps: 5 });
 * console.log(`baseline_train_img_per_s ${imgPerS.toFixed(1)}`);
 * ```
 */
export async function measureBaselineTraining(options: MeasureOptions): Promise<number> {
  const { backend, batchSize, steps, warmupSteps, registerKernels } = checkOptions(options);
  return await onBackend(backend, registerKernels, async () => {
    const model = createBaselineModel({ seed: 1 });
    const x = tf.randomUniform([batchSize, 64, 64, 3], 0, 1, "float32", 1);
    const y = tf.tidy(() =>
      tf.cast(tf.greater(tf.randomUniform([batchSize, 1], 0, 1, "float32", 2), 0.5), "float32")
    );
    try {
      for (let i = 0; i < warmupSteps; i++) await model.trainOnBatch(x, y);
      return await imagesPerSecond(batchSize, steps, () => model.trainOnBatch(x, y));
    } finally {
      x.dispose();
      y.dispose();
      model.optimizer.dispose();
      model.dispose();
    }
  });
}

/**
 * Inference throughput of the article's baseline CNN: images per second of `model.predict` on
 * batches of 64x64x3 images (result read back), from the median batch time, warm-up excluded.
 *
 * @param options backend, batch size, timed and warm-up steps
 * @returns images per second
 *
 * @example
 * ```ts
 * import { measureForward } from "./measure.ts";
 *
 * console.log(await measureForward({ backend: "wasm", batchSize: 32, steps: 10 }));
 * ```
 */
export async function measureForward(options: MeasureOptions): Promise<number> {
  const { backend, batchSize, steps, warmupSteps, registerKernels } = checkOptions(options);
  return await onBackend(backend, registerKernels, async () => {
    const model = createBaselineModel({ seed: 1, compile: false });
    const x = tf.randomUniform([batchSize, 64, 64, 3], 0, 1, "float32", 1);
    const run = async () => {
      const p = model.predict(x) as tf.Tensor;
      await p.data();
      p.dispose();
    };
    try {
      for (let i = 0; i < warmupSteps; i++) await run();
      return await imagesPerSecond(batchSize, steps, run);
    } finally {
      x.dispose();
      model.dispose();
    }
  });
}

if (import.meta.main) {
  // deno run -A lib/wasm_kernels/measure.ts [backend] [batchSize] [steps]
  const [backend = "wasm", batch = "32", steps = "5"] = Deno.args;
  const options = { backend, batchSize: Number(batch), steps: Number(steps) };
  const train = await measureBaselineTraining(options);
  const forward = await measureForward({ ...options, steps: Math.max(options.steps, 3) });
  console.log(
    JSON.stringify({
      backend,
      batchSize: options.batchSize,
      steps: options.steps,
      baseline_train_img_per_s: Number(train.toFixed(1)),
      baseline_forward_img_per_s: Number(forward.toFixed(1)),
    }),
  );
}

/** The figures the benchmark and the PyTorch anchor both report. */
export const BENCH_METRICS = ["baseline_train_img_per_s", "vgg16_forward_img_per_s"] as const;
/** One of {@linkcode BENCH_METRICS}. */
export type BenchMetric = typeof BENCH_METRICS[number];

/** Raised when the benchmark cannot run as asked (bad data folder, failed subprocess...). */
export class BenchError extends CarplaneError {}

/** How long to measure one figure. */
export interface TimingOptions {
  /** Calls run first and not timed (compilation, allocation, Workers' first step). */
  warmupCalls: number;
  /** Timed calls at least. */
  minCalls: number;
  /** Keep calling until this many seconds have passed (after `minCalls`). */
  minSeconds: number;
}

/** A measured throughput. */
export interface Throughput {
  /** Images per second over the timed calls. */
  imgPerS: number;
  /** Images processed in the timed calls. */
  images: number;
  /** Timed calls. */
  calls: number;
  /** Seconds the timed calls took. */
  seconds: number;
}

/**
 * Times `call` (which returns how many images it processed) after `warmupCalls` untimed calls,
 * for at least `minCalls` calls and `minSeconds` seconds.
 *
 * @example
 * ```ts
 * const t = await measureThroughput(async () => { await step(batch); return 32; },
 *   { warmupCalls: 1, minCalls: 3, minSeconds: 5 });
 * console.log(t.imgPerS);
 * ```
 */
export async function measureThroughput(
  call: () => Promise<number>,
  options: TimingOptions,
): Promise<Throughput> {
  for (let i = 0; i < options.warmupCalls; i++) await call();
  let images = 0;
  let calls = 0;
  const start = performance.now();
  let seconds = 0;
  while (calls < options.minCalls || seconds < options.minSeconds) {
    images += await call();
    calls++;
    seconds = (performance.now() - start) / 1000;
  }
  return { imgPerS: images / seconds, images, calls, seconds };
}

/** What one backend is measured with. */
export interface BenchSettings {
  /** Square image side for VGG16 (64 as in the article; the baseline is always 64x64x3). */
  vgg16ImageSize: number;
  /** Training batch (32). */
  trainBatch: number;
  /** Inference batch for VGG16 (16). */
  forwardBatch: number;
  /** Workers beside the main thread for the data-parallel figures (1 on 2 cores). */
  workers: number;
  /** How long to measure training (a fixed number of steps: `minSeconds` is not used). */
  train: TimingOptions;
  /** How long to measure VGG16 inference. */
  forward: TimingOptions;
}

/**
 * The settings for a backend: the anchor's sizes; about 5 s per figure after warm-up on
 * wasm/node; on the (very slow) cpu backend 2 timed training steps and 1 timed VGG16 batch, with
 * no warm-up (pure JavaScript compiles nothing; one training step of 32 images takes about a
 * minute and a VGG16 batch about 20 s there); one timed call of each after one warm-up in quick
 * mode.
 *
 * @example
 * ```ts
 * benchSettings("cpu", false).train.minCalls; // 2
 * ```
 */
export function benchSettings(
  backend: BackendName,
  quick: boolean,
  workers = Math.max(1, (navigator.hardwareConcurrency ?? 2) - 1),
): BenchSettings {
  const base = { vgg16ImageSize: 64, trainBatch: 32, forwardBatch: 16, workers };
  if (quick) {
    const once = { warmupCalls: 1, minCalls: 1, minSeconds: 0 };
    return { ...base, train: once, forward: once };
  }
  if (backend === "cpu") {
    return {
      ...base,
      train: { warmupCalls: 0, minCalls: 2, minSeconds: 0 },
      forward: { warmupCalls: 0, minCalls: 1, minSeconds: 0 },
    };
  }
  return {
    ...base,
    train: { warmupCalls: 2, minCalls: 20, minSeconds: 0 },
    forward: { warmupCalls: 1, minCalls: 3, minSeconds: 5 },
  };
}

/** One figure on one thread and data-parallel on `threads` threads. */
export interface MetricResult {
  single: Throughput;
  parallel: Throughput;
  /** Threads of the data-parallel figure (main thread + Workers). */
  threads: number;
}

/** Everything measured on one backend, or why it could not run. */
export interface BackendResult {
  backend: BackendName;
  available: boolean;
  /** Why the backend runs (or does not). */
  reason: string;
  settings: BenchSettings;
  metrics: Partial<Record<BenchMetric, MetricResult>>;
  /** The article's epoch on this backend ({@linkcode measureArticleEpoch}), or why none. */
  article?: ArticleEpochResult | { missing: string };
}

/** Where the benchmark's progress lines go. */
export type BenchLog = (line: string) => void;

/**
 * A batch of `n` random `size`x`size`x3 images with alternating labels.
 *
 * @example
 * ```ts
 * const batch = randomBatch(32, 64);
 * ```
 */
export function randomBatch(n: number, size: number): LabeledBatch {
  const xs = new Float32Array(n * size * size * 3);
  for (let i = 0; i < xs.length; i++) xs[i] = Math.random();
  const ys = Float32Array.from({ length: n }, (_, i) => i % 2);
  return { xs, ys, size: n, shape: [n, size, size, 3] };
}

/**
 * Initialises `backend` and measures both figures on it, single-threaded and data-parallel.
 * Returns `available: false` with the reason when the backend cannot start.
 *
 * @example
 * ```ts
 * const result = await benchBackend("wasm", benchSettings("wasm", false), console.log);
 * result.metrics.baseline_train_img_per_s?.parallel.imgPerS;
 * ```
 */
export async function benchBackend(
  backend: BackendName,
  settings: BenchSettings,
  log: BenchLog = () => {},
): Promise<BackendResult> {
  const result: BackendResult = {
    backend,
    available: false,
    reason: "",
    settings,
    metrics: {},
  };
  let tfName: string;
  try {
    const choice = await initBackend(backend, { log: null });
    result.available = true;
    result.reason = choice.reason;
    tfName = choice.tfName;
  } catch (error) {
    result.reason = error instanceof Error ? error.message : String(error);
    log(`${backend}: not available (${result.reason})`);
    return result;
  }
  const threads = settings.workers + 1;

  // One thread: the wasm-kernel module's own measurement (trainOnBatch on the article's CNN).
  log(`${backend}: baseline training, 1 thread ...`);
  const steps = settings.train.minCalls;
  const singleRate = await measureBaselineTraining({
    backend: tfName,
    batchSize: settings.trainBatch,
    steps,
    warmupSteps: settings.train.warmupCalls,
  });
  const images = settings.trainBatch * steps;
  const single = { imgPerS: singleRate, images, calls: steps, seconds: images / singleRate };
  log(`${backend}: baseline training, ${threads} threads ...`);
  const trainBatch = randomBatch(settings.trainBatch, 64);
  const parallelModel = createBaselineModel({ seed: 1, inputShape: [64, 64, 3] });
  const parallelStep = await createDataParallelTrainStep(parallelModel, {
    workers: settings.workers,
    backend,
  });
  try {
    result.metrics.baseline_train_img_per_s = {
      single,
      parallel: await measureThroughput(
        async () => (await parallelStep.step(trainBatch)).size,
        { ...settings.train, minSeconds: 0 },
      ),
      threads,
    };
  } finally {
    await parallelStep.close();
    parallelModel.dispose();
  }

  const size = settings.vgg16ImageSize;
  const batch = randomBatch(settings.forwardBatch, size);
  const base = buildVgg16Architecture([size, size, 3]);
  try {
    log(`${backend}: VGG16 conv base inference, 1 thread ...`);
    const forwardSingle = await measureThroughput(() => {
      tf.tidy(() => {
        const x = tf.tensor(batch.xs, batch.shape as number[]);
        (base.predict(x) as tf.Tensor).dataSync();
      });
      return Promise.resolve(batch.size);
    }, settings.forward);
    log(`${backend}: VGG16 conv base inference, ${threads} threads ...`);
    const predictor = await createParallelPredictor(base, { workers: settings.workers, backend });
    try {
      const forwardParallel = await measureThroughput(async () => {
        await predictor.predict(batch.xs, batch.shape);
        return batch.size;
      }, settings.forward);
      result.metrics.vgg16_forward_img_per_s = {
        single: forwardSingle,
        parallel: forwardParallel,
        threads,
      };
    } finally {
      await predictor.close();
    }
  } finally {
    base.dispose();
  }
  return result;
}
