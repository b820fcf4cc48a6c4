/**
 * Runs: the one owner of the outputs folder. The run store saves and finds models, histories,
 * charts and predictions (`store.ts`); a run is staged beside its output folder and swapped in
 * only when complete, one run at a time (`staging.ts`, `lock.ts`); notebooks reuse what was
 * saved (`saved_runs.ts`).
 *
 * @module
 */
export * from "./folders.ts";
export * from "./lock.ts";
export * from "./outputs.ts";
export * from "./saved_runs.ts";
export * from "./staging.ts";
export * from "./store.ts";
