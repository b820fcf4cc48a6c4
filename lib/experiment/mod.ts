/**
 * The whole article in one call: `reproduce`.
 *
 * @module
 */
export * from "./reproduce.ts";
