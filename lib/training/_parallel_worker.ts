/**
 * The Worker side of `lib/parallel.ts`: a model replica on this Worker's own TensorFlow.js
 * instance and backend, answering one request at a time.
 *
 * - `init`: start the backend, import the modules that register custom layers, rebuild the model
 *   from its topology, set every weight sent (all of them for prediction; the frozen ones for
 *   training, whose trainable weights come with each step).
 * - `step`: take the current trainable weights, compute loss and gradients of this share
 *   (training mode, the full batch's scaling) and send back the gradients, loss sum and number
 *   of correct images.
 * - `predict`: run the replica on the images sent.
 *
 * Any error becomes an `error` reply carrying its message; the main thread raises it.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { BackendName } from "./runtime.ts";
import {
  type InitMessage,
  type ParallelLoss,
  type PredictMessage,
  shareGradients,
  type StepMessage,
  type WorkerReply,
} from "./_parallel_protocol.ts";

/** The part of a Worker's global scope this module uses. */
export interface WorkerScope {
  addEventListener(type: "message", listener: (event: MessageEvent) => void): void;
  postMessage(message: unknown, transfer?: Transferable[]): void;
}

/** Where this Worker's replica and its variables live between requests. */
interface Replica {
  model: tf.LayersModel;
  variables: tf.Variable[];
  loss: ParallelLoss | null;
  classWeight: number[] | null;
}

/**
 * Answers `lib/training/parallel.ts`' requests on `scope` (the Worker's global scope). Requests are
 * handled strictly one after another.
 *
 * @example
 * ```ts
 * // inside a Worker module:
 * serveParallelWorker(self as unknown as WorkerScope);
 * ```
 */
export function serveParallelWorker(scope: WorkerScope): void {
  let replica: Replica | null = null;
  let queue: Promise<void> = Promise.resolve();
  scope.addEventListener("message", (event: MessageEvent) => {
    const message = event.data as InitMessage | StepMessage | PredictMessage;
    queue = queue.then(async () => {
      try {
        if (message.type === "init") {
          replica = await initReplica(message);
          scope.postMessage({ type: "ready", id: message.id } satisfies WorkerReply);
        } else if (replica === null) {
          throw new Error("The Worker got a request before init: send init first.");
        } else if (message.type === "step") {
          const reply = runStep(replica, message);
          scope.postMessage(reply, reply.grads.map((g) => g.buffer));
        } else {
          const reply = runPredict(replica, message);
          scope.postMessage(reply, [reply.out]);
        }
      } catch (error) {
        const text = error instanceof Error
          ? (error.name && error.name !== "Error" ? `${error.name}: ` : "") + error.message
          : String(error);
        scope.postMessage({ type: "error", id: message.id, message: text } satisfies WorkerReply);
      }
    });
  });
}

async function useBackend(name: BackendName): Promise<void> {
  if (name === "cpu") {
    if (!(await tf.setBackend("cpu"))) throw new Error("The cpu backend did not initialise.");
    await tf.ready();
    return;
  }
  const { initBackend } = await import("./runtime.ts");
  await initBackend(name, { log: null, skipProbe: true });
}

async function initReplica(message: InitMessage): Promise<Replica> {
  await useBackend(message.backend);
  for (const url of message.modules) await import(url);
  const model = await tf.models.modelFromJSON(JSON.parse(message.topology));
  const byName = new Map(model.weights.map((w) => [w.originalName, w]));
  const find = (name: string) => {
    const found = byName.get(name);
    if (found === undefined) {
      throw new Error(
        `The Worker's replica has no weight "${name}": the model's topology does not rebuild ` +
          "the same weights; give its layers explicit unique names.",
      );
    }
    return found;
  };
  for (const w of message.weights) {
    const target = find(w.name);
    const value = tf.tensor(new Float32Array(w.buffer), w.shape);
    try {
      target.write(value);
    } finally {
      value.dispose();
    }
  }
  const variables = message.trainable.map((name) => {
    const lv = find(name);
    lv.trainable = true;
    return lv.read() as tf.Variable;
  });
  return { model, variables, loss: message.loss, classWeight: message.classWeight };
}

function runStep(replica: Replica, message: StepMessage): WorkerReply & { type: "grads" } {
  if (replica.loss === null) {
    throw new Error("This Worker was started for prediction: start a training pool to train.");
  }
  const loss = replica.loss;
  message.weights.forEach((w, i) => {
    const value = tf.tensor(new Float32Array(w.buffer), w.shape);
    replica.variables[i].assign(value);
    value.dispose();
  });
  const xs = tf.tensor(new Float32Array(message.xs), message.shape);
  const ys = tf.tensor(new Float32Array(message.ys), message.labelShape);
  try {
    const share = shareGradients(
      replica.model,
      replica.variables,
      xs,
      ys,
      message.totalSize,
      loss,
      false,
      replica.classWeight,
    );
    const grads = share.grads.map((g) => ({
      buffer: new Float32Array(g.dataSync() as Float32Array).buffer,
      shape: g.shape.slice(),
    }));
    tf.dispose(share.grads);
    return {
      type: "grads",
      id: message.id,
      grads,
      lossSum: share.lossSum,
      correct: share.correct,
    };
  } finally {
    xs.dispose();
    ys.dispose();
  }
}

function runPredict(
  replica: Replica,
  message: PredictMessage,
): WorkerReply & { type: "prediction" } {
  const out = tf.tidy(() => {
    const input = tf.tensor(new Float32Array(message.xs), message.shape);
    return replica.model.predict(input) as tf.Tensor;
  });
  try {
    const values = new Float32Array(out.dataSync() as Float32Array);
    return { type: "prediction", id: message.id, out: values.buffer, shape: out.shape.slice() };
  } finally {
    out.dispose();
  }
}

if (typeof (globalThis as Record<string, unknown>).WorkerGlobalScope === "function") {
  serveParallelWorker(globalThis as unknown as WorkerScope);
}
