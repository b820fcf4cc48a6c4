/**
 * Charts of repeated runs, as vega-lite (v5) specs like those of `charts.ts` (render them with
 * its `writeChart` / `chartDisplay`):
 *
 * - {@linkcode seedBandChartSpec}: per-epoch mean over seeds as a line, with the min-max band
 *   shaded, models overlaid (validation loss and accuracy side by side);
 * - {@linkcode dataSizeChartSpec}: final validation accuracy against training images per class,
 *   per model: the mean over seeds as a line with points, the min-max band shaded.
 *
 * Epochs are numbered from 1 with whole-epoch ticks, as in `charts.ts`.
 *
 * @module
 */
import type { VegaLiteSpec } from "./charts.ts";
import { ChartError, epochTicks } from "./charts.ts";
import type { CurvePoint } from "./seeds.ts";
import { summarizeValues } from "./seeds.ts";

const SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json";

/** Options for {@linkcode seedBandChartSpec}. */
export interface SeedBandChartOptions {
  /** Chart title. Default "Validation loss and accuracy over N seeds (mean, min-max band)". */
  title?: string;
  /** Width of each plot. Default 360. */
  width?: number;
  /** Height of each plot. Default 240. */
  height?: number;
  /**
   * Epochs to shift a model's curves by, e.g. `{ "fine-tuned": 30 }`: fine-tuning goes on from
   * the transfer model after the head's 30 epochs ({@linkcode fineTuneOffsets}).
   */
  epochOffsets?: Record<string, number>;
}

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : String(x));
const orNull = (x: number) => (Number.isFinite(x) ? x : null);

/**
 * Per-epoch mean (line) and min-max band (shaded) over seeds, one colour per model, for
 * validation loss and validation accuracy. `curves` maps a metric (`val_loss`, `val_accuracy`,
 * or any other) to {@linkcode seedCurves}' result for it.
 *
 * @example
 * ```ts
 * const spec = seedBandChartSpec({
 *   val_loss: seedCurves(runs, "val_loss"),
 *   val_accuracy: seedCurves(runs, "val_accuracy"),
 * }, 5);
 * await writeChart(spec, "outputs", "seeds_bands");
 * ```
 */
export function seedBandChartSpec(
  curves: Record<string, Record<string, CurvePoint[]>>,
  seeds: number,
  { title, width = 360, height = 240, epochOffsets = {} }: SeedBandChartOptions = {},
): VegaLiteSpec {
  const metrics = Object.keys(curves);
  if (metrics.length === 0 || metrics.some((m) => Object.keys(curves[m]).length === 0)) {
    throw new ChartError(
      "lib/report/seed_charts.ts: seedBandChartSpec needs at least one metric with at least one " +
        "model, e.g. { val_loss: seedCurves(runs, 'val_loss') }.",
    );
  }
  const models = Object.keys(curves[metrics[0]]);
  const values: Record<string, unknown>[] = [];
  const summaries: string[] = [];
  let maxEpochs = 1;
  for (const metric of metrics) {
    for (const model of Object.keys(curves[metric])) {
      const points = curves[metric][model];
      const offset = epochOffsets[model] ?? 0;
      maxEpochs = Math.max(maxEpochs, offset + points.length);
      for (const p of points) {
        values.push({
          metric,
          model,
          epoch: offset + p.epoch,
          mean: orNull(p.mean),
          min: orNull(p.min),
          max: orNull(p.max),
          sd: orNull(p.sd),
        });
      }
      const last = points.at(-1);
      if (last) {
        summaries.push(
          `${model} ${metric} final mean ${f3(last.mean)} (min ${f3(last.min)}, max ${
            f3(last.max)
          })`,
        );
      }
    }
  }
  const x = {
    field: "epoch",
    type: "quantitative" as const,
    title: "epoch",
    axis: { values: epochTicks(Math.max(maxEpochs, 2)), format: "d" },
    scale: { domain: [1, Math.max(maxEpochs, 2)], nice: false },
  };
  const color = { field: "model", type: "nominal" as const, title: "model", sort: models };
  const plot = (metric: string) => ({
    width,
    height,
    transform: [{ filter: { field: "metric", equal: metric } }],
    layer: [
      {
        mark: { type: "area" as const, opacity: 0.2 },
        encoding: {
          x,
          y: { field: "min", type: "quantitative" as const, title: metric, scale: { zero: false } },
          y2: { field: "max" },
          color,
        },
      },
      {
        // Points too: a one-epoch curve (fine-tuning in quick mode) is a point, not a line.
        mark: { type: "line" as const, strokeWidth: 2, point: { size: 12 } },
        encoding: {
          x,
          y: { field: "mean", type: "quantitative" as const, title: metric },
          color,
          tooltip: [
            { field: "model", type: "nominal" as const },
            { field: "epoch", type: "quantitative" as const },
            { field: "mean", type: "quantitative" as const, format: ".4f" },
            { field: "min", type: "quantitative" as const, format: ".4f" },
            { field: "max", type: "quantitative" as const, format: ".4f" },
          ],
        },
      },
    ],
  });
  const text = title ??
    `Validation ${metrics.map((m) => m.replace(/^val_/, "")).join(" and ")} over ${seeds} seed${
      seeds === 1 ? "" : "s"
    } (mean, min-max band)`;
  return {
    $schema: SCHEMA,
    title: { text, anchor: "middle" },
    data: { values },
    hconcat: metrics.map(plot),
    bounds: "flush",
    spacing: 60,
    usermeta: { summary: summaries.join("; ") },
  } as VegaLiteSpec;
}

/** One run of the data-size experiment. */
export interface DataSizePoint {
  model: string;
  /** Training images per class. */
  perClass: number;
  seed: number;
  /** Final validation accuracy. */
  valAccuracy: number;
}

/**
 * Validation accuracy against training images per class: per model, the mean over seeds (line
 * and points) and the min-max band.
 *
 * @example
 * ```ts
 * const spec = dataSizeChartSpec([
 *   { model: "baseline", perClass: 20, seed: 1, valAccuracy: 0.7 },
 *   { model: "transfer", perClass: 20, seed: 1, valAccuracy: 0.85 },
 * ]);
 * ```
 */
export function dataSizeChartSpec(
  points: readonly DataSizePoint[],
  { title, width = 420, height = 260 }: SeedBandChartOptions = {},
): VegaLiteSpec {
  if (points.length === 0) {
    throw new ChartError(
      "lib/report/seed_charts.ts: dataSizeChartSpec needs at least one run, e.g. " +
        "[{ model: 'baseline', perClass: 20, seed: 1, valAccuracy: 0.7 }].",
    );
  }
  const models = [...new Set(points.map((p) => p.model))];
  const sizes = [...new Set(points.map((p) => p.perClass))].sort((a, b) => a - b);
  const values: Record<string, unknown>[] = [];
  const summaries: string[] = [];
  for (const model of models) {
    const parts: string[] = [];
    for (const perClass of sizes) {
      const runs = points.filter((p) => p.model === model && p.perClass === perClass);
      if (runs.length === 0) continue;
      const s = summarizeValues(runs.map((r) => r.valAccuracy));
      values.push({ model, perClass, mean: s.mean, min: s.min, max: s.max, n: s.n });
      parts.push(`${perClass}: ${f3(s.mean)}`);
    }
    summaries.push(`${model} ${parts.join(", ")}`);
  }
  const x = {
    field: "perClass",
    type: "quantitative" as const,
    title: "training images per class",
    scale: { type: "log" as const, domain: [sizes[0], sizes.at(-1)!], nice: false },
    axis: { values: sizes, format: "d" },
  };
  const color = { field: "model", type: "nominal" as const, title: "model", sort: models };
  const seeds = new Set(points.map((p) => p.seed)).size;
  return {
    $schema: SCHEMA,
    title: title ??
      `Validation accuracy by training-set size (${seeds} seed${seeds === 1 ? "" : "s"})`,
    width,
    height,
    data: { values },
    layer: [
      {
        mark: { type: "area", opacity: 0.2 },
        encoding: {
          x,
          y: {
            field: "min",
            type: "quantitative",
            title: "final val accuracy",
            scale: { zero: false },
          },
          y2: { field: "max" },
          color,
        },
      },
      {
        mark: { type: "line", point: { size: 40 }, strokeWidth: 2 },
        encoding: {
          x,
          y: { field: "mean", type: "quantitative", title: "final val accuracy" },
          color,
          tooltip: [
            { field: "model", type: "nominal" },
            { field: "perClass", type: "quantitative", title: "images per class" },
            { field: "mean", type: "quantitative", format: ".3f" },
            { field: "min", type: "quantitative", format: ".3f" },
            { field: "max", type: "quantitative", format: ".3f" },
            { field: "n", type: "quantitative", title: "seeds" },
          ],
        },
      },
    ],
    usermeta: { summary: `final val accuracy by images per class: ${summaries.join("; ")}` },
  } as VegaLiteSpec;
}
