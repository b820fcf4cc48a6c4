/**
 * Training: Keras-named `fit`/`evaluate` with a History, progress printouts, the fit diagnosis,
 * early stopping, the backend runtime (node, wasm, cpu), data-parallel Workers and the
 * experiment steps (baseline, transfer).
 *
 * @module
 */
export * from "./class_weight.ts";
export * from "./diagnose.ts";
export * from "./early_stopping.ts";
export * from "./experiment.ts";
export * from "./fit.ts";
export * from "./history.ts";
export * from "./memory.ts";
export * from "./parallel.ts";
export * from "./progress.ts";
export * from "./runtime.ts";
export { registerWasmTrainingKernels } from "./wasm_kernels/mod.ts";
export * from "./fine_tune.ts";
