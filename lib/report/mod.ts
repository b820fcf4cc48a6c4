/**
 * Report: vega-lite charts (SVG/PNG), image grids, the captioned contact sheet, the metrics types
 * and the markdown report of a run.
 *
 * @module
 */
export * from "./charts.ts";
export * from "./contact_sheet.ts";
export * from "./gallery.ts";
export * from "./heatmap.ts";
export * from "./metrics.ts";
export * from "./report.ts";
export * from "./train_report.ts";
export * from "./seeds.ts";
export * from "./seed_charts.ts";
