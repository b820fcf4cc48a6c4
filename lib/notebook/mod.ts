/**
 * The notebooks' front door: one-line steps ({@linkcode openNotebook}), Kernel > Interrupt for
 * training, re-runs that dispose what the cell made before, and display helpers for the Deno
 * kernel (markdown, tables, in-place progress).
 *
 * @module
 */
export * from "./backend_line.ts";
export * from "./display.ts";
export * from "./interrupt.ts";
export * from "./rerun.ts";
export * from "./session.ts";
