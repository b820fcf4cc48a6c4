/**
 * Data parallelism across Deno Workers, so training and feature extraction use every core.
 *
 * ## How the cores are used
 * Each batch is cut into as many contiguous shares as there are threads: the main thread and
 * `workers` Deno Workers (default 1, i.e. both cores of a 2-core machine). Every Worker holds
 * its own replica of the model, built from `model.toJSON()` on its own TensorFlow.js instance
 * with the same backend (its own wasm module and heap). For a training step the main thread
 * posts each Worker its images, labels and the current trainable weights (transferred, not
 * copied), computes the gradients of its own share while the Workers compute theirs, adds the
 * Workers' gradients to its own (each share's loss is its summed loss divided by the full batch
 * size, so the sum is exactly the full-batch gradient) and applies the total once with the
 * model's compiled optimizer. Adam's moments and step count therefore live in one place, and a
 * step equals one full-batch `trainOnBatch` step up to float rounding. Prediction splits the
 * images the same way; weights are sent once at start.
 *
 * ## Why not tfjs' threaded wasm build
 * `@tensorflow/tfjs-backend-wasm` turns its threads off whenever it detects Node.js (its flag
 * `WASM_HAS_MULTITHREAD_SUPPORT` is false under `IS_NODE`, tfjs issue 3830), which Deno's Node
 * compatibility triggers, so it loads the single-threaded build; forcing the threaded build
 * failed to initialise here. Separate Workers with separate wasm instances need no shared memory
 * at all, and measured 1.9x one thread for the VGG16 conv base on 2 cores. The price is copying
 * the trainable weights to each Worker every step (3 MB for the article's CNN) and the
 * gradients back, which is small next to the convolutions (a few ms against ~100 ms of compute
 * per 16 images on wasm).
 *
 * Non-trainable weights (frozen layers) are sent once at start. State a step changes outside
 * the optimiser (e.g. BatchNormalization moving statistics in a layer that runs in training
 * mode) is kept from the main thread's share only; the Workers' copies of it are not synced
 * back (the project's frozen bases run in inference mode, see `FrozenModel`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type LabeledBatch, type StepResult, TrainingError, type TrainStep } from "./fit.ts";
import type { BackendName } from "./runtime.ts";
import { checkClassWeight } from "./class_weight.ts";
import {
  ParallelError,
  type ParallelLoss,
  parallelLossOf,
  type SerializedTensor,
  type ShareGradients,
  shareGradients,
  type WorkerReply,
  type WorkerRequest,
} from "./_parallel_protocol.ts";
export {
  ParallelError,
  type ParallelLoss,
  parallelLossOf,
  type ShareGradients,
  shareGradients,
} from "./_parallel_protocol.ts";

/** Options for {@linkcode createDataParallelTrainStep} and {@linkcode createParallelPredictor}. */
export interface ParallelOptions {
  /** Workers beside the main thread (default 1: two threads, one per core on 2 cores). */
  workers?: number;
  /** Backend each Worker initialises; default the main thread's current backend. */
  backend?: BackendName;
  /**
   * Module URLs each Worker imports before rebuilding the model, to register custom layers.
   * The project's own (`lib/models/custom_layers.ts`) is always imported.
   */
  modules?: string[];
  /**
   * Keras' `class_weight` by class index (training only): each image's loss is multiplied by
   * its class's weight. See {@linkcode classWeightBalanced}.
   */
  classWeight?: readonly number[];
}

/** A data-parallel training step and the Workers behind it. */
export interface DataParallelTrainStep {
  /** One optimiser step on one batch, split across the main thread and the Workers. */
  step: TrainStep;
  /** Terminates the Workers; the step cannot be used afterwards. */
  close(): Promise<void>;
  /** Threads a batch is split across (main thread + Workers). */
  readonly threads: number;
  /** Workers still running (0 after {@linkcode DataParallelTrainStep.close}). */
  readonly activeWorkers: number;
}

/** A data-parallel `predict` and the Workers behind it. */
export interface ParallelPredictor {
  /**
   * Runs the model on `n` images `xs` of shape `[n, ...]` and returns the outputs of all images
   * flattened in input order (`n * outputSize` floats).
   */
  predict(xs: Float32Array, shape: readonly number[]): Promise<Float32Array>;
  /** Terminates the Workers. */
  close(): Promise<void>;
  /** Threads the images are split across (main thread + Workers). */
  readonly threads: number;
  /** Workers still running (0 after {@linkcode ParallelPredictor.close}). */
  readonly activeWorkers: number;
}

/**
 * Cuts `n` images into `parts` contiguous shares, as equal as possible (the first shares get
 * the extra image), as `[start, end)` pairs. Empty shares are dropped.
 *
 * @example
 * ```ts
 * splitShares(7, 2); // [[0, 4], [4, 7]]
 * ```
 */
export function splitShares(n: number, parts: number): Array<[number, number]> {
  const shares: Array<[number, number]> = [];
  let start = 0;
  for (let i = 0; i < parts; i++) {
    const size = Math.floor(n / parts) + (i < n % parts ? 1 : 0);
    if (size > 0) shares.push([start, start + size]);
    start += size;
  }
  return shares;
}

/**
 * A training step that splits each batch across the main thread and `workers` Deno Workers
 * (one per extra core), each computing the gradients of its share on its own model replica
 * with its own backend instance; the main thread sums them and applies them once with the
 * model's compiled optimizer, so the result equals one full-batch step. The model must be
 * compiled with a cross-entropy loss and an optimizer. On a 2-core machine `workers: 1` keeps
 * both cores busy: the main thread computes one half of each batch while the Worker computes
 * the other, and only the summing and the optimizer update (a few ms) run on one core. See the
 * module docs for why Workers rather than tfjs' threaded wasm build.
 *
 * @example
 * ```ts
 * const model = createBaselineModel({ seed: 42 });
 * const parallel = await createDataParallelTrainStep(model, { workers: 1, backend: "wasm" });
 * try {
 *   await fit(model, train, { epochs: 30, stepsPerEpoch: 30, trainStep: parallel.step });
 * } finally {
 *   await parallel.close();
 * }
 * ```
 */
export async function createDataParallelTrainStep(
  model: tf.LayersModel,
  options: ParallelOptions = {},
): Promise<DataParallelTrainStep> {
  const loss = parallelLossOf(model);
  const optimizer = model.optimizer;
  if (optimizer == null) {
    throw new ParallelError(
      "The model has no optimizer: compile it (e.g. compileBinary(model)) before creating a " +
        "data-parallel step.",
    );
  }
  const trainable = model.trainableWeights;
  const trainableSet = new Set(trainable);
  const variables = trainable.map((w) => w.read() as tf.Variable);
  const classWeight = options.classWeight ? checkClassWeight(options.classWeight, model) : null;
  const pool = await startPool(model, options, {
    mode: "train",
    loss,
    classWeight,
    trainable: trainable.map((w) => w.originalName),
    weights: model.weights.filter((w) => !trainableSet.has(w)),
  });

  const runStep = async (batch: LabeledBatch): Promise<StepResult> => {
    if (batch.ys === null) {
      throw new TrainingError(
        "A training batch has no labels: use classMode binary or categorical.",
      );
    }
    const n = batch.size;
    if (!Number.isInteger(n) || n < 1) {
      throw new TrainingError(`A training batch has ${n} images: give it at least one.`);
    }
    const shares = splitShares(n, pool.threads);
    const imageSize = batch.xs.length / n;
    const labelSize = batch.ys.length / n;
    const [, ...imageShape] = batch.shape;
    const ys = batch.ys;

    const pending = shares.slice(1).map(([start, end], k) => {
      const weights = variables.map((v) => serialize(v));
      const xs = batch.xs.slice(start * imageSize, end * imageSize);
      const labels = ys.slice(start * labelSize, end * labelSize);
      return pool.request(k, {
        type: "step",
        weights: weights,
        xs: xs.buffer,
        ys: labels.buffer,
        shape: [end - start, ...imageShape],
        labelShape: [end - start, labelSize],
        totalSize: n,
      }, [...weights.map((w) => w.buffer), xs.buffer, labels.buffer]);
    });

    let mine: ShareGradients | null = null;
    let mainError: unknown = null;
    try {
      const [start, end] = shares[0];
      const xs = tf.tensor(
        batch.xs.subarray(start * imageSize, end * imageSize),
        [end - start, ...imageShape],
      );
      const labels = tf.tensor2d(
        ys.subarray(start * labelSize, end * labelSize),
        [end - start, labelSize],
      );
      try {
        mine = shareGradients(model, variables, xs, labels, n, loss, true, classWeight);
      } finally {
        xs.dispose();
        labels.dispose();
      }
    } catch (error) {
      mainError = error;
    }
    const settled = await Promise.allSettled(pending);
    const failed = settled.find((s) => s.status === "rejected");
    if (mainError !== null || failed !== undefined) {
      mine?.grads.forEach((g) => g.dispose());
      throw mainError ?? (failed as PromiseRejectedResult).reason;
    }
    const own = mine as ShareGradients;
    let lossSum = own.lossSum;
    let correct = own.correct;
    const total = tf.tidy(() => {
      const sums = own.grads.map((g) => g.clone());
      for (const s of settled) {
        const reply = (s as PromiseFulfilledResult<WorkerReply>).value;
        if (reply.type !== "grads") continue;
        lossSum += reply.lossSum;
        correct += reply.correct;
        reply.grads.forEach((g, i) => {
          const next = sums[i].add(deserialize(g));
          sums[i].dispose();
          sums[i] = next;
        });
      }
      const named: tf.NamedTensorMap = {};
      variables.forEach((v, i) => named[v.name] = sums[i]);
      return named;
    });
    own.grads.forEach((g) => g.dispose());
    try {
      optimizer.applyGradients(total);
    } finally {
      tf.dispose(total);
    }
    return { loss: lossSum / n + own.penalty, accuracy: correct / n, size: n };
  };

  let busy = false;
  const step: TrainStep = async (batch) => {
    pool.assertOpen();
    if (busy) {
      throw new ParallelError(
        "A data-parallel step was started while another one runs: await each step before the next.",
      );
    }
    busy = true;
    try {
      return await runStep(batch);
    } finally {
      busy = false;
    }
  };

  return {
    step,
    close: pool.close,
    threads: pool.threads,
    get activeWorkers() {
      return pool.activeWorkers();
    },
  };
}

/**
 * A `predict` that splits the images across the main thread and `workers` Deno Workers, each
 * with its own replica and backend instance: with `workers: 1` on 2 cores each core runs half
 * of the images. All weights are sent once at start, which suits feature extraction with a large
 * frozen base (VGG16, MobileNet); each call then only moves images and outputs.
 *
 * @example
 * ```ts
 * const predictor = await createParallelPredictor(base.model, { workers: 1 });
 * try {
 *   const features = await predictor.predict(batch.xs, batch.shape);
 * } finally {
 *   await predictor.close();
 * }
 * ```
 */
export async function createParallelPredictor(
  model: tf.LayersModel,
  options: ParallelOptions = {},
): Promise<ParallelPredictor> {
  const pool = await startPool(model, options, {
    mode: "predict",
    loss: null,
    classWeight: null,
    trainable: [],
    weights: model.weights,
  });
  const predict = async (xs: Float32Array, shape: readonly number[]): Promise<Float32Array> => {
    pool.assertOpen();
    const n = shape[0];
    const [, ...imageShape] = shape;
    const imageSize = xs.length / n;
    if (!Number.isInteger(imageSize) || imageShape.reduce((a, b) => a * b, 1) !== imageSize) {
      throw new ParallelError(
        `predict got ${xs.length} floats for shape [${shape.join(", ")}]: pass the images ` +
          "flattened in the shape's order.",
      );
    }
    const shares = splitShares(n, pool.threads);
    const pending = shares.slice(1).map(([start, end], k) => {
      const part = xs.slice(start * imageSize, end * imageSize);
      return pool.request(
        k,
        { type: "predict", xs: part.buffer, shape: [end - start, ...imageShape] },
        [part.buffer],
      );
    });
    let mine: Float32Array | null = null;
    let mainError: unknown = null;
    try {
      const [start, end] = shares[0];
      mine = tf.tidy(() => {
        const input = tf.tensor(xs.subarray(start * imageSize, end * imageSize), [
          end - start,
          ...imageShape,
        ]);
        const out = model.predict(input) as tf.Tensor;
        return out.dataSync() as Float32Array;
      }).slice();
    } catch (error) {
      mainError = error;
    }
    const settled = await Promise.allSettled(pending);
    const failed = settled.find((s) => s.status === "rejected");
    if (mainError !== null || failed !== undefined) {
      throw mainError ?? (failed as PromiseRejectedResult).reason;
    }
    const own = mine as Float32Array;
    const perImage = own.length / (shares[0][1] - shares[0][0]);
    const out = new Float32Array(n * perImage);
    out.set(own, 0);
    settled.forEach((s, k) => {
      const reply = (s as PromiseFulfilledResult<WorkerReply>).value;
      if (reply.type === "prediction") {
        out.set(new Float32Array(reply.out), shares[k + 1][0] * perImage);
      }
    });
    return out;
  };
  return {
    predict,
    close: pool.close,
    threads: pool.threads,
    get activeWorkers() {
      return pool.activeWorkers();
    },
  };
}

/** What a pool of Workers is started with. */
interface PoolSetup {
  mode: "train" | "predict";
  loss: ParallelLoss | null;
  classWeight: number[] | null;
  trainable: string[];
  weights: tf.LayerVariable[];
}

/** Workers that answer requests, one request at a time each. */
interface Pool {
  threads: number;
  request(worker: number, message: WorkerRequest, transfer: Transferable[]): Promise<WorkerReply>;
  assertOpen(): void;
  close(): Promise<void>;
  activeWorkers(): number;
}

function backendOf(): BackendName {
  const name = tf.getBackend();
  if (name === "tensorflow") return "node";
  if (name === "wasm" || name === "cpu") return name;
  throw new ParallelError(
    `The main thread runs backend "${name}", which the Workers cannot start: initialise ` +
      `node, wasm or cpu first (initBackend), or pass { backend }.`,
  );
}

async function startPool(
  model: tf.LayersModel,
  options: ParallelOptions,
  setup: PoolSetup,
): Promise<Pool> {
  const count = options.workers ?? 1;
  if (!Number.isInteger(count) || count < 0) {
    throw new ParallelError(
      `workers must be a whole number of Workers beside the main thread, got ${count}: use 1 ` +
        "on a 2-core machine.",
    );
  }
  const backend = options.backend ?? backendOf();
  const modules = [
    new URL("../models/custom_layers.ts", import.meta.url).href,
    ...(options.modules ?? []),
  ];
  const topology = model.toJSON(null, true) as string;
  const names = model.weights.map((w) => w.originalName);
  const duplicate = names.find((name, i) => names.indexOf(name) !== i);
  if (duplicate !== undefined) {
    throw new ParallelError(
      `The model has two weights named "${duplicate}": give its layers unique names so the ` +
        "Workers' replicas can be matched weight by weight.",
    );
  }

  const workers: Worker[] = [];
  const waiting: Array<
    Map<number, { resolve: (r: WorkerReply) => void; reject: (e: Error) => void }>
  > = [];
  let nextId = 0;
  let closed = false;
  let broken: Error | null = null;

  const fail = (k: number, error: Error) => {
    for (const { reject } of waiting[k].values()) reject(error);
    waiting[k].clear();
  };

  const request = (
    k: number,
    message: WorkerRequest,
    transfer: Transferable[],
  ): Promise<WorkerReply> => {
    if (broken !== null) return Promise.reject(broken);
    const id = nextId++;
    return new Promise<WorkerReply>((resolve, reject) => {
      waiting[k].set(id, { resolve, reject });
      workers[k].postMessage({ ...message, id }, transfer);
    });
  };

  const close = (): Promise<void> => {
    if (!closed) {
      closed = true;
      workers.forEach((w, k) => {
        w.terminate();
        fail(k, new ParallelError("The Workers were closed while a request was running."));
      });
    }
    return Promise.resolve();
  };

  for (let k = 0; k < count; k++) {
    const worker = new Worker(new URL("./_parallel_worker.ts", import.meta.url).href, {
      type: "module",
    });
    workers.push(worker);
    waiting.push(new Map());
    worker.addEventListener("message", (event: MessageEvent<WorkerReply>) => {
      const reply = event.data;
      const entry = waiting[k].get(reply.id);
      if (entry === undefined) return;
      waiting[k].delete(reply.id);
      if (reply.type === "error") {
        entry.reject(new ParallelError(`Worker ${k + 1} failed: ${reply.message}`));
      } else {
        entry.resolve(reply);
      }
    });
    worker.addEventListener("error", (event: ErrorEvent) => {
      event.preventDefault();
      broken = new ParallelError(
        `Worker ${k + 1} crashed: ${event.message}. Check that its modules load ` +
          "(lib/training/_parallel_worker.ts and the modules option).",
      );
      fail(k, broken);
    });
    worker.addEventListener("messageerror", () => {
      fail(k, new ParallelError(`Worker ${k + 1} sent a message that could not be read.`));
    });
  }

  const init = (k: number): Promise<WorkerReply> => {
    const weights = setup.weights.map((w) => ({
      name: w.originalName,
      ...serialize(w.read()),
    }));
    const message: WorkerRequest = {
      type: "init",
      mode: setup.mode,
      backend,
      modules,
      topology,
      loss: setup.loss,
      classWeight: setup.classWeight,
      trainable: setup.trainable,
      weights,
    };
    return request(k, message, weights.map((w) => w.buffer));
  };
  try {
    // One Worker at a time: each copy of the weights exists only until it is transferred.
    for (let k = 0; k < count; k++) await init(k);
  } catch (error) {
    await close();
    throw error;
  }

  return {
    threads: count + 1,
    request,
    assertOpen() {
      if (closed) {
        throw new ParallelError(
          "This data-parallel step or predictor was closed: create a new one to go on.",
        );
      }
    },
    close,
    activeWorkers: () => (closed ? 0 : workers.length),
  };
}

function serialize(t: tf.Tensor): SerializedTensor {
  const values = new Float32Array(t.dataSync() as Float32Array);
  return { buffer: values.buffer, shape: t.shape.slice() };
}

function deserialize(s: SerializedTensor): tf.Tensor {
  return tf.tensor(new Float32Array(s.buffer), s.shape);
}

/** How training and feature extraction use the cores: what `fit` and `trainTransfer` take. */
export interface ThreadPlan {
  /** Threads: the main one and `threads - 1` Workers. */
  readonly threads: number;
  /** The data-parallel step for `trainBaseline`/`trainTransfer`; undefined on one thread. */
  readonly trainStep?: (model: tf.LayersModel) => Promise<DataParallelTrainStep>;
  /** The data-parallel predictor for feature extraction; undefined on one thread. */
  readonly predictFeatures?: (model: tf.LayersModel) => Promise<ParallelPredictor>;
  /** One line for the log, e.g. "Training on 2 threads (main + 1 Worker, data parallel)." */
  readonly line: string;
}

/**
 * THE decision of how many threads to train on, for `deno task reproduce` and the notebooks
 * alike: `requested` threads (the experiment's `threads`, 2 by default) on wasm and cpu, where
 * each Worker adds a core (1.9x on 2 cores, see the module docs); one on tfjs-node (backend
 * `tensorflow`, the runtime's `node`), whose libtensorflow already uses every core.
 *
 * @example
 * ```ts
 * const plan = threadPlan(config.threads);
 * const { model, fit } = await trainBaseline(flows, config, { trainStep: plan.trainStep });
 * ```
 */
export function threadPlan(requested = 2, backend: string = tf.getBackend()): ThreadPlan {
  if (!Number.isInteger(requested) || requested < 1) {
    throw new ParallelError(`threads must be a whole number of at least 1 (got ${requested}).`);
  }
  const threads = backend === "tensorflow" || backend === "node" ? 1 : requested;
  if (threads === 1) return { threads, line: `Training on 1 thread (${backend}).` };
  const workers = threads - 1;
  return {
    threads,
    trainStep: (model) => createDataParallelTrainStep(model, { workers }),
    predictFeatures: (model) => createParallelPredictor(model, { workers }),
    line: `Training on ${threads} threads (main + ${workers} Worker${
      workers > 1 ? "s" : ""
    }, data parallel).`,
  };
}
