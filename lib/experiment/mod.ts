/**
 * The whole article in one call (`reproduce`), and the same on your own images (`train`).
 *
 * @module
 */
export * from "./reproduce.ts";
export * from "./train.ts";
