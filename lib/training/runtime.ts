/**
 * Choosing and initialising the TensorFlow.js backend, and saying which one runs and why.
 *
 * - `node`: `@tensorflow/tfjs-node` (libtensorflow), used when its native addon loads
 *   (`deno task setup-native` builds it; `./native.ts` is the one place that imports it).
 * - `wasm`: XNNPACK through WebAssembly, plus this project's training kernels
 *   (`lib/wasm_kernels/`), which the upstream wasm backend lacks.
 * - `cpu`: pure JavaScript; always works, very slow at training convolutions.
 *
 * `auto` takes the first of these that can actually train a small convolutional network,
 * checked by a probe step rather than assumed.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { registerWasmTrainingKernels } from "./wasm_kernels/mod.ts";
import { CarplaneError } from "../errors.ts";
import { firstLine } from "../_text.ts";
import { loadTfjsNode } from "./native.ts";

/** A backend this project can run on. */
export type BackendName = "node" | "wasm" | "cpu";
/** What a user may ask for: a backend, or `auto`. */
export type BackendRequest = "auto" | BackendName;

/** The backend that runs, and why it was chosen. */
export interface BackendChoice {
  /** The backend in this project's names. */
  name: BackendName;
  /** TensorFlow.js' own name for it (`tensorflow`, `wasm`, `cpu`). */
  tfName: string;
  /** One line on why this backend runs, including what was tried and failed. */
  reason: string;
}

/** Raised when a requested backend cannot run. */
export class BackendError extends CarplaneError {
  constructor(message: string) {
    super(message);
    this.name = "BackendError";
  }
}

const TF_NAMES: Record<BackendName, string> = {
  node: "tensorflow",
  wasm: "wasm",
  cpu: "cpu",
};

/**
 * Parses a backend request from a flag or the `CARPLANE_BACKEND` environment variable.
 *
 * @example
 * ```ts
 * parseBackendRequest("wasm"); // "wasm"
 * parseBackendRequest(undefined); // "auto"
 * ```
 */
export function parseBackendRequest(value: string | undefined): BackendRequest {
  const v = (value ?? "auto").trim().toLowerCase();
  if (v === "" || v === "auto") return "auto";
  if (v === "node" || v === "tensorflow" || v === "tfjs-node") return "node";
  if (v === "wasm" || v === "cpu") return v;
  throw new BackendError(
    `Unknown backend "${value}": use one of auto, node, wasm, cpu (flag --backend or env CARPLANE_BACKEND).`,
  );
}

/**
 * The backend request from `CARPLANE_BACKEND`, or `auto`.
 *
 * @example
 * ```ts
 * const request = backendRequestFromEnv();
 * ```
 */
export function backendRequestFromEnv(): BackendRequest {
  let value: string | undefined;
  try {
    value = Deno.env.get("CARPLANE_BACKEND");
  } catch {
    value = undefined;
  }
  return parseBackendRequest(value);
}

/** Options for {@linkcode initBackend}. */
export interface InitBackendOptions {
  /** Where to print the "Using backend ..." line; `null` for silence. Default `console.log`. */
  log?: ((line: string) => void) | null;
  /** Skip the training probe (faster start when the caller only runs inference). */
  skipProbe?: boolean;
}

/**
 * Initialises the requested backend (or the best one that trains, for `auto`) and says why.
 *
 * @example
 * ```ts
 * const choice = await initBackend("auto");
 * // Using backend wasm: tfjs-node's native binding did not load (...); wasm trains with ...
 * console.log(choice.name);
 * ```
 */
export async function initBackend(
  request: BackendRequest = "auto",
  options: InitBackendOptions = {},
): Promise<BackendChoice> {
  const log = options.log === undefined ? console.log : options.log;
  const failures: string[] = [];
  const order: BackendName[] = request === "auto" ? ["node", "wasm", "cpu"] : [request];
  for (const name of order) {
    const problem = await tryBackend(name, options.skipProbe ?? false);
    if (problem === null) {
      const reason = describeChoice(name, request, failures);
      log?.(`Using backend ${name}: ${reason}`);
      return { name, tfName: TF_NAMES[name], reason };
    }
    failures.push(`${name}: ${problem}`);
  }
  throw new BackendError(
    `Backend ${request} cannot run here (${failures.join("; ")}). ` +
      (request === "auto" ? "" : "Try --backend auto."),
  );
}

function describeChoice(
  name: BackendName,
  request: BackendRequest,
  failures: string[],
): string {
  const what: Record<BackendName, string> = {
    node: "tfjs-node's native libtensorflow binding loaded",
    wasm:
      "WebAssembly (XNNPACK, SIMD) with this project's training kernels passed a training probe",
    cpu: "pure JavaScript (slow for convolution training)",
  };
  const asked = request === "auto" ? "auto" : "requested";
  const tried = failures.length > 0 ? `; tried first: ${failures.join("; ")}` : "";
  return `${what[name]} (${asked}${tried})`;
}

async function tryBackend(
  name: BackendName,
  skipProbe: boolean,
): Promise<string | null> {
  try {
    if (name === "node") {
      await loadTfjsNode();
      if (!(await tf.setBackend("tensorflow"))) {
        return "the tensorflow backend did not initialise";
      }
    } else if (name === "wasm") {
      await import("@tensorflow/tfjs-backend-wasm");
      registerWasmTrainingKernels();
      if (!(await tf.setBackend("wasm"))) {
        return "the wasm backend did not initialise";
      }
    } else {
      if (!(await tf.setBackend("cpu"))) {
        return "the cpu backend did not initialise";
      }
    }
    await tf.ready();
    if (!skipProbe) await probeTraining();
    return null;
  } catch (error) {
    return describeLoadFailure(error);
  }
}

/** One Adam step of a tiny conv net: proves the backend has every kernel training needs. */
async function probeTraining(): Promise<void> {
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: [8, 8, 3],
        filters: 2,
        kernelSize: 3,
        activation: "relu",
      }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 4, activation: "relu" }),
      tf.layers.dropout({ rate: 0.5 }),
      tf.layers.dense({ units: 1, activation: "sigmoid" }),
    ],
  });
  model.compile({
    optimizer: "adam",
    loss: "binaryCrossentropy",
    metrics: ["accuracy"],
  });
  const xs = tf.randomUniform([2, 8, 8, 3]);
  const ys = tf.tensor2d([[0], [1]]);
  try {
    const out = await model.trainOnBatch(xs, ys);
    const loss = Array.isArray(out) ? out[0] : out;
    if (!Number.isFinite(loss)) {
      throw new Error(`probe training step gave loss ${loss}`);
    }
  } finally {
    xs.dispose();
    ys.dispose();
    model.dispose();
  }
}

function describeLoadFailure(error: unknown): string {
  // loadTfjsNode's messages are already one plain line with the fix; keep them whole.
  return firstLine(error).slice(0, 400);
}
