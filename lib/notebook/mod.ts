/**
 * Display helpers for the Deno Jupyter kernel: markdown, tables, in-place progress.
 *
 * @module
 */
export * from "./display.ts";
