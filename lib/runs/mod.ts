/**
 * Runs: the outputs folder — atomic writes, run status, and saved runs the notebooks reuse.
 *
 * @module
 */
export * from "./outputs.ts";
export * from "./saved_runs.ts";
