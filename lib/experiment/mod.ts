/**
 * The whole article in one call (`reproduce`), and the same on your own images (`train`);
 * the article repeated over seeds and training-set sizes (`trainSeed`, `trainDataSizePoint`).
 *
 * @module
 */
export * from "./reproduce.ts";
export * from "./train.ts";
export * from "./seed_runs.ts";
export * from "./seed_pool.ts";
