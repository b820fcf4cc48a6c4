/**
 * The backend said in plain words for a notebook's reader. `initBackend`'s own line is for
 * developers ("Using backend wasm: WebAssembly (XNNPACK, SIMD) with this project's training
 * kernels passed a training probe (auto; tried first: node: its native addon ... is not built
 * (...))"); a learner needs to know what trains, on how many threads, and what would be faster.
 * The full reason stays in `BackendChoice.reason`.
 *
 * @module
 */
import type { BackendChoice } from "../training/runtime.ts";

/** Options for {@linkcode plainBackendLine}. */
export interface PlainBackendLineOptions {
  /** Threads a training batch is split across (main thread + Workers). Default 1. */
  threads?: number;
}

/**
 * One plain line: what trains, on how many threads, and, when the native engine was tried and
 * is missing, how to set it up.
 *
 * @example
 * ```ts
 * plainBackendLine(await initBackend("auto", { log: null }), { threads: 2 });
 * // "Training on the CPU with WebAssembly, 2 threads; the native TensorFlow engine is not set
 * //  up: `deno task setup-native`"
 * ```
 */
export function plainBackendLine(
  choice: Pick<BackendChoice, "name" | "reason">,
  { threads = 1 }: PlainBackendLineOptions = {},
): string {
  const onThreads = `${threads} thread${threads === 1 ? "" : "s"}`;
  // initBackend lists what `auto` tried before the backend that runs: "tried first: node: ...".
  const nativeMissing = choice.name !== "node" && /tried first:.*\bnode:/.test(choice.reason);
  const setup = nativeMissing
    ? "; the native TensorFlow engine is not set up: `deno task setup-native`"
    : "";
  switch (choice.name) {
    case "node":
      return "Training with the native TensorFlow engine (libtensorflow, all cores)";
    case "wasm":
      return `Training on the CPU with WebAssembly, ${onThreads}${setup}`;
    case "cpu":
      return `Training on the CPU in plain JavaScript (slow), ${onThreads}${setup}`;
  }
}
