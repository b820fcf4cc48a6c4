/**
 * Keras' `model.fit` over a batch generator: epochs of `stepsPerEpoch` batches, validation after
 * each epoch, Keras' printout, and a History of loss, accuracy, val_loss and val_accuracy.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { History } from "./history.ts";
import {
  createConsoleReporter,
  formatProgbar,
  type MetricValues,
  type ProgressReporter,
} from "./progress.ts";
import { CarplaneError } from "../errors.ts";

/** A batch of images `[n, h, w, c]` (flattened) and their labels (`[n]` or `[n, classes]`). */
export interface LabeledBatch {
  xs: Float32Array;
  ys: Float32Array | null;
  size: number;
  shape: readonly number[];
}

/** Anything that hands out batches forever, like Keras' DirectoryIterator. */
export interface BatchSource {
  next(): Promise<LabeledBatch>;
  /** Batches in one pass over the data (Keras' `len(iterator)`), the default validation steps. */
  readonly stepsPerPass?: number;
}

/** Loss and accuracy of one training step over `size` images. */
export interface StepResult {
  loss: number;
  accuracy: number;
  size: number;
}

/** One optimiser step on one batch. The default is `model.trainOnBatch`. */
export type TrainStep = (batch: LabeledBatch) => Promise<StepResult>;

/** Raised when training cannot go on (a batch without labels, a non-finite loss, ...). */
export class TrainingError extends CarplaneError {
  constructor(message: string) {
    super(message);
    this.name = "TrainingError";
  }
}

/** Options for {@linkcode fit}, with Keras' names. */
export interface FitOptions {
  /** Number of epochs (Keras `epochs`). */
  epochs: number;
  /** Batches per epoch (Keras `steps_per_epoch`). */
  stepsPerEpoch: number;
  /** Validation batches evaluated after each epoch (Keras `validation_data`). */
  validationData?: BatchSource;
  /** Validation batches per epoch; default one pass (`validationData.stepsPerPass`). */
  validationSteps?: number;
  /** Where progress goes; default the Keras-style console printout. */
  reporter?: ProgressReporter;
  /** The optimiser step; default `model.trainOnBatch` (see {@linkcode createTrainStep}). */
  trainStep?: TrainStep;
  /** Called after each epoch with its metrics (e.g. to save a checkpoint). */
  onEpochEnd?: (epochIndex: number, logs: MetricValues) => void | Promise<void>;
  /**
   * Stops training before the next batch once aborted (Ctrl-C, a notebook's Stop button), like
   * setting Keras' `model.stop_training`: the epoch under way is dropped, the finished epochs stay
   * in the History, and the result says `interrupted`.
   */
  signal?: AbortSignal;
}

/** What {@linkcode fit} returns: Keras' History and the time each epoch took. */
export interface FitResult {
  history: History;
  epochSeconds: number[];
  /** True when `signal` stopped training before the last epoch finished. */
  interrupted: boolean;
}

/**
 * Turns a flat batch into tensors `[n, h, w, c]` and `[n, 1]` (binary) or `[n, k]`.
 *
 * @example
 * ```ts
 * const { xs, ys } = batchTensors(await iterator.next());
 * ```
 */
export function batchTensors(
  batch: LabeledBatch,
): { xs: tf.Tensor4D; ys: tf.Tensor2D | null } {
  const [n, h, w, c] = batch.shape;
  const xs = tf.tensor4d(batch.xs, [n, h, w, c]);
  if (batch.ys === null) return { xs, ys: null };
  const k = batch.ys.length / n;
  return { xs, ys: tf.tensor2d(batch.ys, [n, k]) };
}

/**
 * The default training step: one `model.trainOnBatch` on a batch, returning loss and accuracy.
 * The model must be compiled with `metrics: ["accuracy"]`.
 *
 * @example
 * ```ts
 * const step = createTrainStep(model);
 * const { loss } = await step(await train.next());
 * ```
 */
export function createTrainStep(model: tf.LayersModel): TrainStep {
  return async (batch) => {
    const { xs, ys } = batchTensors(batch);
    try {
      if (ys === null) {
        throw new TrainingError(
          "A training batch has no labels: use classMode binary or categorical.",
        );
      }
      const out = await model.trainOnBatch(xs, ys);
      const [loss, accuracy] = Array.isArray(out) ? out : [out, Number.NaN];
      return { loss, accuracy, size: batch.size };
    } finally {
      xs.dispose();
      ys?.dispose();
    }
  };
}

/**
 * Loss (binary or categorical cross-entropy, Keras' epsilon 1e-7) and accuracy of a model over
 * `steps` batches, averaged over images as Keras' `evaluate` does.
 *
 * @example
 * ```ts
 * const { loss, accuracy } = await evaluate(model, val, 2);
 * ```
 */
export async function evaluate(
  model: tf.LayersModel,
  source: BatchSource,
  steps = source.stepsPerPass ?? 1,
): Promise<{ loss: number; accuracy: number; samples: number }> {
  let lossSum = 0, correct = 0, samples = 0;
  for (let step = 0; step < steps; step++) {
    const batch = await source.next();
    const { xs, ys } = batchTensors(batch);
    try {
      if (ys === null) {
        throw new TrainingError(
          "A validation batch has no labels: use classMode binary or categorical.",
        );
      }
      const [l, c] = tf.tidy(() => {
        const p = model.predict(xs) as tf.Tensor2D;
        return crossEntropyAndCorrect(p, ys);
      });
      lossSum += l;
      correct += c;
      samples += batch.size;
    } finally {
      xs.dispose();
      ys?.dispose();
    }
  }
  return { loss: lossSum / samples, accuracy: correct / samples, samples };
}

function crossEntropyAndCorrect(
  p: tf.Tensor2D,
  y: tf.Tensor2D,
): [number, number] {
  const eps = 1e-7;
  const q = p.clipByValue(eps, 1 - eps);
  let loss: tf.Tensor;
  let correct: tf.Tensor;
  if (p.shape[1] === 1) {
    loss = y.mul(q.log()).add(
      tf.scalar(1).sub(y).mul(tf.scalar(1).sub(q).log()),
    ).neg().sum();
    correct = p.greater(0.5).cast("float32").equal(y).cast("float32").sum();
  } else {
    loss = y.mul(q.log()).sum().neg();
    correct = p.argMax(1).equal(y.argMax(1)).cast("float32").sum();
  }
  return [loss.dataSync()[0], correct.dataSync()[0]];
}

/**
 * Trains like Keras' `model.fit(train_generator, steps_per_epoch, epochs, validation_data)`,
 * printing `Epoch n/N` and the progress line of each epoch, and returns the History.
 *
 * @example
 * ```ts
 * const { history } = await fit(model, train, { epochs: 30, stepsPerEpoch: 30, validationData: val });
 * console.log(history.history.val_accuracy.at(-1));
 * ```
 */
export async function fit(
  model: tf.LayersModel,
  train: BatchSource,
  options: FitOptions,
): Promise<FitResult> {
  const reporter = options.reporter ?? createConsoleReporter();
  const step = options.trainStep ?? createTrainStep(model);
  const history: History = { epoch: [], history: { loss: [], accuracy: [] } };
  if (options.validationData) {
    history.history.val_loss = [];
    history.history.val_accuracy = [];
  }
  const epochSeconds: number[] = [];
  const stopped = () => options.signal?.aborted === true;
  for (let epoch = 0; epoch < options.epochs && !stopped(); epoch++) {
    reporter.epochBegin(epoch, options.epochs);
    const start = performance.now();
    let lossSum = 0, accSum = 0, seen = 0;
    for (let s = 0; s < options.stepsPerEpoch; s++) {
      if (options.signal) await nextTurnOfEventLoop();
      if (stopped()) return { history, epochSeconds, interrupted: true };
      const result = await step(await train.next());
      if (!Number.isFinite(result.loss)) {
        throw new TrainingError(
          `Training loss became ${result.loss} in epoch ${epoch + 1}, step ${s + 1}: ` +
            "lower the learning rate or check the input scaling.",
        );
      }
      lossSum += result.loss * result.size;
      accSum += result.accuracy * result.size;
      seen += result.size;
      reporter.batchEnd({
        current: s + 1,
        target: options.stepsPerEpoch,
        elapsedSeconds: (performance.now() - start) / 1000,
        values: { loss: lossSum / seen, accuracy: accSum / seen },
      });
    }
    const logs: MetricValues = {
      loss: lossSum / seen,
      accuracy: accSum / seen,
    };
    if (options.validationData) {
      const val = await evaluate(
        model,
        options.validationData,
        options.validationSteps,
      );
      logs.val_loss = val.loss;
      logs.val_accuracy = val.accuracy;
    }
    const seconds = (performance.now() - start) / 1000;
    epochSeconds.push(seconds);
    history.epoch.push(epoch);
    for (const [key, value] of Object.entries(logs)) {
      history.history[key].push(value);
    }
    reporter.epochEnd(
      formatProgbar({
        current: options.stepsPerEpoch,
        target: options.stepsPerEpoch,
        elapsedSeconds: seconds,
        values: logs,
      }),
      { epochIndex: epoch, epochs: options.epochs, seconds, values: logs },
    );
    await options.onEpochEnd?.(epoch, logs);
  }
  return { history, epochSeconds, interrupted: stopped() && history.epoch.length < options.epochs };
}

/**
 * Resolves on the next turn of the event loop. A training step on one thread settles through
 * microtasks only, so without this a signal listener (Ctrl-C aborting `signal`) never gets to run:
 * measured, `deno task reproduce --threads 1` ran on for 10 minutes after SIGINT and SIGTERM.
 * One turn costs well under a millisecond against 100+ ms per step.
 *
 * @example
 * ```ts
 * for (const batch of batches) {
 *   await nextTurnOfEventLoop(); // a Ctrl-C listener may run here
 *   if (signal.aborted) break;
 * }
 * ```
 */
export function nextTurnOfEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
