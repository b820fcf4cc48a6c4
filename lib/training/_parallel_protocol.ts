/**
 * What the main thread and the data-parallel Workers share: the messages they exchange and the
 * loss-and-gradients computation both run on their share of a batch. Internal to
 * `lib/training/` (kept apart so that `parallel.ts` and `_parallel_worker.ts` do not import each
 * other).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { BackendName } from "./runtime.ts";
import { CarplaneError } from "../errors.ts";

/** Raised when a Worker fails (its message is included) or a closed step/predictor is used. */
export class ParallelError extends CarplaneError {
  constructor(message: string) {
    super(message);
    this.name = "ParallelError";
  }
}

/** The losses the data-parallel step can differentiate. */
export type ParallelLoss = "binaryCrossentropy" | "categoricalCrossentropy";

/** What one share of a batch contributes: gradients (already scaled), loss sum, correct count. */
export interface ShareGradients {
  /** Gradient of `sum(loss over the share) / totalSize`, one per variable, in order. */
  grads: tf.Tensor[];
  /** Sum of the per-image losses over the share. */
  lossSum: number;
  /** Images of the share classified correctly (Keras' binary/categorical accuracy). */
  correct: number;
  /** The model's weight penalties (0 unless `regularization` was asked for). */
  penalty: number;
}

/**
 * The loss the model was compiled with, if the data-parallel step supports it.
 *
 * @example
 * ```ts
 * model.compile({ optimizer: "adam", loss: "binaryCrossentropy" });
 * parallelLossOf(model); // "binaryCrossentropy"
 * ```
 */
export function parallelLossOf(model: tf.LayersModel): ParallelLoss {
  const loss = Array.isArray(model.loss) && model.loss.length === 1 ? model.loss[0] : model.loss;
  if (loss === "binaryCrossentropy" || loss === "binary_crossentropy") {
    return "binaryCrossentropy";
  }
  if (loss === "categoricalCrossentropy" || loss === "categorical_crossentropy") {
    return "categoricalCrossentropy";
  }
  const shown = typeof loss === "string" ? loss : typeof loss;
  throw new ParallelError(
    `The data-parallel step supports models compiled with loss "binaryCrossentropy" or ` +
      `"categoricalCrossentropy" (got ${shown}): compile the model with one of them, or train ` +
      `with the default trainOnBatch step.`,
  );
}

/**
 * Per-image weights `classWeight[class]` for labels `ys` (`[n, 1]` binary or `[n, k]` one-hot).
 *
 * @example
 * ```ts
 * sampleWeights(tf.tensor2d([[0], [1]]), [2, 0.5]); // [2, 0.5]
 * ```
 */
export function sampleWeights(ys: tf.Tensor, classWeight: readonly number[]): tf.Tensor1D {
  return tf.tidy(() => {
    const classes = ys.shape[1] === 1 ? ys.reshape([-1]).round().toInt() : ys.argMax(1);
    return tf.gather(tf.tensor1d(classWeight as number[]), classes) as tf.Tensor1D;
  });
}

/**
 * Loss and gradients of one share of a batch on `model`, in training mode (Dropout on), with
 * the loss Keras uses (cross-entropy with epsilon 1e-7) scaled by `1 / totalSize` so that the
 * shares' gradients add up to the full batch's. `regularization` adds the model's weight
 * penalties (do it on exactly one share). `classWeight[c]` weighs the loss of each image of
 * class `c` (Keras' `class_weight`: `sum(w * loss) / totalSize`). Used by the main thread and
 * by every Worker.
 *
 * @example
 * ```ts
 * const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
 * const share = shareGradients(model, vars, xs, ys, 32, "binaryCrossentropy", true);
 * share.grads.forEach((g) => g.dispose());
 * ```
 */
export function shareGradients(
  model: tf.LayersModel,
  variables: tf.Variable[],
  xs: tf.Tensor,
  ys: tf.Tensor,
  totalSize: number,
  loss: ParallelLoss,
  regularization: boolean,
  classWeight: readonly number[] | null = null,
): ShareGradients {
  let lossSum: tf.Tensor | null = null;
  let correct: tf.Tensor | null = null;
  let penalty: tf.Tensor | null = null;
  const { value, grads } = tf.variableGrads(() => {
    const p = model.apply(xs, { training: true }) as tf.Tensor;
    let perImage = loss === "binaryCrossentropy"
      ? tf.metrics.binaryCrossentropy(ys, p)
      : tf.metrics.categoricalCrossentropy(ys, p);
    if (classWeight !== null) perImage = perImage.mul(sampleWeights(ys, classWeight));
    const hits = loss === "binaryCrossentropy"
      ? tf.metrics.binaryAccuracy(ys, p)
      : tf.metrics.categoricalAccuracy(ys, p);
    const sum = perImage.sum();
    lossSum = tf.keep(sum.clone());
    correct = tf.keep(hits.sum());
    let extra: tf.Scalar = tf.scalar(0);
    if (regularization) {
      for (const p of model.calculateLosses()) extra = extra.add(p);
    }
    penalty = tf.keep(extra.clone());
    return sum.div(tf.scalar(totalSize)).add(extra) as tf.Scalar;
  }, variables);
  value.dispose();
  const kept = [lossSum, correct, penalty] as Array<tf.Tensor | null>;
  const [l, c, r] = kept.map((t) => t?.dataSync()[0] ?? 0);
  tf.dispose(kept.filter((t): t is tf.Tensor => t !== null));
  return {
    grads: variables.map((v) => grads[v.name] ?? tf.zerosLike(v)),
    lossSum: l,
    correct: c,
    penalty: r,
  };
}

/** A float32 tensor in a message: its values' buffer (transferred) and its shape. */
export interface SerializedTensor {
  buffer: ArrayBuffer;
  shape: number[];
}

/** Starts the replica. */
export interface InitMessage {
  type: "init";
  id: number;
  mode: "train" | "predict";
  backend: BackendName;
  /** Module URLs to import first (custom layer registration). */
  modules: string[];
  /** `model.toJSON()` of the main thread's model. */
  topology: string;
  loss: ParallelLoss | null;
  /** Keras' `class_weight` by class index, or null for none. */
  classWeight: number[] | null;
  /** `originalName`s of the trainable weights, in the order steps send them. */
  trainable: string[];
  /** Weights to set now, by `originalName`. */
  weights: Array<SerializedTensor & { name: string }>;
}

/** One share of a training batch. */
export interface StepMessage {
  type: "step";
  id: number;
  /** Current trainable weights, in the order of `InitMessage.trainable`. */
  weights: SerializedTensor[];
  xs: ArrayBuffer;
  ys: ArrayBuffer;
  shape: number[];
  labelShape: number[];
  /** Images in the whole batch (the loss is scaled by its inverse). */
  totalSize: number;
}

/** Images to run the replica on. */
export interface PredictMessage {
  type: "predict";
  id: number;
  xs: ArrayBuffer;
  shape: number[];
}

/** A request as the main thread writes it, before it is given an id. */
export type WorkerRequest =
  | Omit<InitMessage, "id">
  | Omit<StepMessage, "id">
  | Omit<PredictMessage, "id">;

/** Any reply of the Worker, matched to its request by `id`. */
export type WorkerReply =
  | { type: "ready"; id: number }
  | { type: "grads"; id: number; grads: SerializedTensor[]; lossSum: number; correct: number }
  | { type: "prediction"; id: number; out: ArrayBuffer; shape: number[] }
  | { type: "error"; id: number; message: string };
