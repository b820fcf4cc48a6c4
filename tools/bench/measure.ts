/**
 * Throughput measurements of the article's baseline CNN on a tfjs backend, for benchmarks.
 *
 * The model is the article's: input [64, 64, 3] -> Conv2D(32, 3x3, relu) -> MaxPooling2D(2) ->
 * Conv2D(32, 3x3, relu) -> MaxPooling2D(2) -> Flatten -> Dense(128, relu) -> Dense(1, sigmoid),
 * compiled with Adam and binary cross-entropy (metric: accuracy). Inputs are random (the speed of
 * these kernels does not depend on the values).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { createBaselineModel } from "../../lib/models/baseline.ts";
import "@tensorflow/tfjs-backend-wasm";
import { registerWasmTrainingKernels } from "../../lib/training/wasm_kernels/mod.ts";
import { CarplaneError } from "../../lib/errors.ts";

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
