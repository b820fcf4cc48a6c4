/**
 * Training charts as vega-lite (v5) specs, rendered headless to SVG and PNG, and shown in
 * Deno's Jupyter kernel.
 *
 * - {@linkcode lossChartSpec} / {@linkcode accuracyChartSpec}: the article's "model loss" and
 *   "model accuracy" plots, train vs validation per epoch (epochs numbered from 1, as Keras
 *   prints them).
 * - {@linkcode comparisonChartSpec}: validation curves of several models side by side.
 * - {@linkcode renderSvg} / {@linkcode renderPng} / {@linkcode writeChart}: headless rendering
 *   (vega `View` with renderer `"none"`, then sharp/librsvg for PNG) and atomic files.
 * - {@linkcode chartDisplay} / {@linkcode imageDisplay}: objects Deno's Jupyter kernel shows
 *   as rich output. The kernel calls an object's `[Symbol.for("Jupyter.display")]()` method,
 *   awaits it, and sends the returned MIME bundle as is: JSON types as objects, images as
 *   base64 strings. Nothing here touches `Deno.jupyter`.
 *
 * Every spec carries its data inline (`data.values`) and a one-line text summary in
 * `usermeta.summary`.
 *
 * @module
 */
import type { TopLevelSpec } from "vega-lite";
import * as vl from "vega-lite";
import * as vega from "vega";
import sharp from "sharp";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { type History, summarizeMetric } from "../training/history.ts";
import { atomicWriteFile, ensureWritableDir } from "../runs/outputs.ts";
import { CarplaneError } from "../errors.ts";

/** A vega-lite v5 top-level spec. */
export type VegaLiteSpec = TopLevelSpec;

/** Raised for a chart that cannot be built or rendered; says what to pass instead. */
export class ChartError extends CarplaneError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ChartError";
  }
}

/** The key under which Deno's Jupyter kernel looks for an object's display method. */
export const JUPYTER_DISPLAY: unique symbol = Symbol.for(
  "Jupyter.display",
) as typeof JUPYTER_DISPLAY;

/** A MIME bundle: MIME type to data (JSON types as objects, images as base64 strings). */
export type MimeBundle = Record<string, unknown>;

/** An object Deno's Jupyter kernel displays through its `Symbol.for("Jupyter.display")`. */
export interface JupyterDisplayable {
  /** Returns the MIME bundle to show. */
  [JUPYTER_DISPLAY](): MimeBundle;
  /** The same bundle, for inspection or for writing elsewhere. */
  readonly bundle: MimeBundle;
}

const SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json";
/** matplotlib's first two colours, as in the article's plots. */
const SPLIT_COLORS = { train: "#1f77b4", validation: "#ff7f0e" };

/** Options for {@linkcode lossChartSpec} and {@linkcode accuracyChartSpec}. */
export interface CurveChartOptions {
  /** Chart title. Defaults to `"Model Loss"` / `"Model Accuracy"`. */
  title?: string;
  /** Plot width in pixels. Default 400. */
  width?: number;
  /** Plot height in pixels. Default 260. */
  height?: number;
}

type Metric = "loss" | "accuracy";

function finiteOrNull(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toFixed(3) : String(x);
}

/** Index of the lowest loss or the highest accuracy (non-finite values skipped); -1 if none. */
function bestIndex(values: number[], metric: Metric): number {
  return summarizeMetric(values, metric === "loss" ? "min" : "max").bestEpoch - 1;
}

function seriesSummary(
  label: string,
  values: number[],
  metric: Metric,
  withBest: boolean,
): string {
  const text = `${label} ${fmt(values[0])} -> ${fmt(values[values.length - 1])}`;
  if (!withBest) return text;
  const i = bestIndex(values, metric);
  if (i < 0) return text;
  return `${text} (${metric === "loss" ? "min" : "best"} ${fmt(values[i])} at epoch ${i + 1})`;
}

/**
 * Tick values for an epoch axis: whole epochs only. Vega-Lite's `tickMinStep: 1` does not stop
 * half-epoch ticks on a domain of two epochs (the axis read "1 2 2" with `format: "d"`), so the
 * ticks are given: every epoch up to 12, else 1 and every 2nd, 5th, 10th, ... epoch (about ten
 * ticks).
 *
 * @example
 * ```ts
 * epochTicks(2); // [1, 2]
 * epochTicks(30); // [1, 5, 10, 15, 20, 25, 30]
 * ```
 */
export function epochTicks(epochs: number): number[] {
  const n = Math.max(1, Math.floor(epochs));
  if (n <= 12) return Array.from({ length: n }, (_, i) => i + 1);
  const steps = [2, 5, 10, 20, 50, 100, 200, 500, 1000];
  const step = steps.find((s) => n / s <= 10) ?? Math.ceil(n / 10);
  const ticks = [1];
  for (let t = step; t <= n; t += step) ticks.push(t);
  return ticks;
}

function curveSpec(
  history: History,
  metric: Metric,
  { title, width = 400, height = 260 }: CurveChartOptions,
): VegaLiteSpec {
  const train = history.history[metric];
  const val = history.history[`val_${metric}`];
  if (!train && !val) {
    throw new ChartError(
      `lib/report/charts.ts: the history has no "${metric}" or "val_${metric}" values (it has: ${
        Object.keys(history.history).join(", ") || "nothing"
      }); pass the History returned by training.`,
    );
  }
  const n = history.epoch.length;
  if (n === 0) {
    throw new ChartError(
      `lib/report/charts.ts: the history has no epochs; train for at least one epoch before charting.`,
    );
  }
  const values: Record<string, unknown>[] = [];
  const add = (split: string, series: number[] | undefined) => {
    series?.forEach((v, i) => values.push({ epoch: i + 1, split, [metric]: finiteOrNull(v) }));
  };
  add("train", train);
  add("validation", val);
  const parts = [
    train ? seriesSummary("train", train, metric, false) : null,
    val ? seriesSummary("validation", val, metric, true) : null,
  ].filter((p) => p !== null);
  const splits = [train ? "train" : null, val ? "validation" : null].filter((
    s,
  ): s is "train" | "validation" => s !== null);
  return {
    $schema: SCHEMA,
    title,
    width,
    height,
    data: { values },
    mark: { type: "line", point: { size: 20 }, strokeWidth: 2 },
    encoding: {
      x: {
        field: "epoch",
        type: "quantitative",
        title: "epoch",
        axis: { values: epochTicks(Math.max(n, 2)), format: "d" },
        scale: { domain: [1, Math.max(n, 2)], nice: false },
      },
      y: {
        field: metric,
        type: "quantitative",
        title: metric,
        scale: { zero: false },
      },
      color: {
        field: "split",
        type: "nominal",
        title: null,
        sort: splits,
        scale: {
          domain: splits,
          range: splits.map((s) => SPLIT_COLORS[s]),
        },
        legend: { orient: "right" },
      },
      tooltip: [
        { field: "split", type: "nominal" },
        { field: "epoch", type: "quantitative" },
        { field: metric, type: "quantitative", format: ".4f" },
      ],
    },
    usermeta: { summary: `${parts.join("; ")} over ${n} epochs` },
  };
}

/**
 * The article's loss plot: train and validation loss per epoch.
 *
 * @example
 * ```ts
 * const spec = lossChartSpec(history); // title "Model Loss"
 * await writeChart(spec, "outputs/baseline", "loss");
 * ```
 */
export function lossChartSpec(
  history: History,
  { title = "Model Loss", ...options }: CurveChartOptions = {},
): VegaLiteSpec {
  return curveSpec(history, "loss", { title, ...options });
}

/**
 * The article's accuracy plot: train and validation accuracy per epoch.
 *
 * @example
 * ```ts
 * const spec = accuracyChartSpec(history, { title: "Baseline accuracy" });
 * ```
 */
export function accuracyChartSpec(
  history: History,
  { title = "Model Accuracy", ...options }: CurveChartOptions = {},
): VegaLiteSpec {
  return curveSpec(history, "accuracy", { title, ...options });
}

/** Options for {@linkcode comparisonChartSpec}. */
export interface ComparisonChartOptions {
  /** Which validation metric to compare; `"both"` puts loss and accuracy side by side. */
  metric?: "loss" | "accuracy" | "both";
  /** Also draw the train curves (dashed). Default `false`. */
  includeTrain?: boolean;
  /**
   * Chart title. Default `"Validation loss and accuracy by model"` (naming the one metric, and
   * "Train and validation" with `includeTrain`).
   */
  title?: string;
  /** Width of each plot. Default 360. */
  width?: number;
  /** Height of each plot. Default 240. */
  height?: number;
  /**
   * Epochs to shift a model's curve by, e.g. `{ "mobilenet fine-tuned": 30 }`: fine-tuning goes
   * on from the transfer model after the head's 30 epochs (its own History counts from 1).
   */
  epochOffsets?: Record<string, number>;
}

/**
 * Compares models' validation curves (e.g. `{ baseline, transfer }`): one line per model,
 * loss and accuracy in side-by-side plots (or one of them with `metric`).
 *
 * @example
 * ```ts
 * const spec = comparisonChartSpec({ baseline: h1, "mobilenet transfer": h2 });
 * ```
 */
export function comparisonChartSpec(
  histories: Record<string, History>,
  {
    metric = "both",
    includeTrain = false,
    title,
    width = 360,
    height = 240,
    epochOffsets = {},
  }: ComparisonChartOptions = {},
): VegaLiteSpec {
  const models = Object.keys(histories);
  if (models.length === 0) {
    throw new ChartError(
      `lib/report/charts.ts: comparisonChartSpec needs at least one history, e.g. ` +
        `{ baseline: history }.`,
    );
  }
  const metrics: Metric[] = metric === "both" ? ["loss", "accuracy"] : [metric];
  const values: Record<string, unknown>[] = [];
  const summaries: string[] = [];
  for (const model of models) {
    const h = histories[model];
    const offset = epochOffsets[model] ?? 0;
    const parts: string[] = [];
    for (const m of metrics) {
      const val = h.history[`val_${m}`];
      if (!val) {
        throw new ChartError(
          `lib/report/charts.ts: the history of "${model}" has no val_${m}; compare runs trained ` +
            `with validation data.`,
        );
      }
      val.forEach((v, i) =>
        values.push({
          model,
          metric: m,
          split: "validation",
          epoch: offset + i + 1,
          value: finiteOrNull(v),
        })
      );
      if (includeTrain) {
        h.history[m]?.forEach((v, i) =>
          values.push({
            model,
            metric: m,
            split: "train",
            epoch: offset + i + 1,
            value: finiteOrNull(v),
          })
        );
      }
      const i = bestIndex(val, m);
      parts.push(
        `val_${m} ${m === "loss" ? "min" : "best"} ${fmt(val[i])} (epoch ${
          offset + i + 1
        }), final ${fmt(val[val.length - 1])}`,
      );
    }
    summaries.push(`${model}: ${parts.join(", ")}`);
  }
  const maxEpochs = Math.max(
    ...models.map((m) => (epochOffsets[m] ?? 0) + histories[m].epoch.length),
  );
  const plot = (m: Metric) => ({
    width,
    height,
    transform: [{ filter: { field: "metric", equal: m } }],
    mark: { type: "line" as const, point: { size: 16 }, strokeWidth: 2 },
    encoding: {
      x: {
        field: "epoch",
        type: "quantitative" as const,
        title: "epoch",
        axis: { values: epochTicks(Math.max(maxEpochs, 2)), format: "d" },
        scale: { domain: [1, Math.max(maxEpochs, 2)], nice: false },
      },
      y: {
        field: "value",
        type: "quantitative" as const,
        title: includeTrain ? m : `val_${m}`,
        scale: { zero: false },
      },
      color: {
        field: "model",
        type: "nominal" as const,
        title: "model",
        sort: models,
      },
      ...(includeTrain
        ? {
          strokeDash: {
            field: "split",
            type: "nominal" as const,
            title: null,
            sort: ["validation", "train"],
            legend: {
              symbolType: "stroke",
              symbolStrokeWidth: 2,
              encode: { symbols: { update: { stroke: { value: "#333" } } } },
            },
          },
        }
        : {}),
      tooltip: [
        { field: "model", type: "nominal" as const },
        { field: "split", type: "nominal" as const },
        { field: "epoch", type: "quantitative" as const },
        { field: "value", type: "quantitative" as const, format: ".4f" },
      ],
    },
  });
  const which = metric === "both" ? "loss and accuracy" : metric;
  const chartTitle = title ??
    (includeTrain ? `Train and validation ${which} by model` : `Validation ${which} by model`);
  const usermeta = { summary: summaries.join("; ") };
  if (metrics.length === 1) {
    return {
      $schema: SCHEMA,
      data: { values },
      ...plot(metrics[0]),
      title: chartTitle,
      usermeta,
    };
  }
  return {
    $schema: SCHEMA,
    title: { text: chartTitle, anchor: "middle" },
    data: { values },
    hconcat: metrics.map(plot),
    bounds: "flush",
    spacing: 60,
    usermeta,
  };
}

/**
 * Renders a vega-lite spec to an SVG string, headless (vega `View`, renderer `"none"`).
 *
 * @example
 * ```ts
 * const svg = await renderSvg(lossChartSpec(history));
 * ```
 */
export async function renderSvg(spec: VegaLiteSpec): Promise<string> {
  let view: vega.View | undefined;
  try {
    const compiled = vl.compile(spec).spec;
    view = new vega.View(vega.parse(compiled), { renderer: "none" });
    return await view.toSVG();
  } catch (err) {
    throw new ChartError(
      `lib/report/charts.ts: cannot render the vega-lite spec "${titleOf(spec)}": ${
        err instanceof Error ? err.message : String(err)
      }. Check the spec against the vega-lite v5 schema.`,
      { cause: err },
    );
  } finally {
    view?.finalize();
  }
}

/** Options for {@linkcode renderPng}. */
export interface RenderPngOptions {
  /** Pixels per SVG pixel. Default 2 (sharp renders the SVG at 144 dpi). */
  scale?: number;
}

/**
 * Renders a vega-lite spec to PNG bytes: SVG, rasterised by sharp (librsvg, system fonts) at
 * `scale` times its pixel size.
 *
 * @example
 * ```ts
 * await Deno.writeFile("loss.png", await renderPng(lossChartSpec(history)));
 * ```
 */
export async function renderPng(
  spec: VegaLiteSpec,
  { scale = 2 }: RenderPngOptions = {},
): Promise<Uint8Array> {
  return svgToPng(await renderSvg(spec), scale);
}

async function svgToPng(svg: string, scale: number): Promise<Uint8Array> {
  if (!(scale > 0)) {
    throw new ChartError(
      `lib/report/charts.ts: PNG scale must be a positive number, got ${scale}; use e.g. 2.`,
    );
  }
  const png = await sharp(Buffer.from(svg), { density: 72 * scale })
    .png()
    .toBuffer();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}

/** Paths written by {@linkcode writeChart}. */
export interface ChartFiles {
  /** `<dir>/<base>.vl.json`: the vega-lite spec with its data. */
  spec: string;
  /** `<dir>/<base>.svg`. */
  svg: string;
  /** `<dir>/<base>.png`. */
  png: string;
}

/**
 * Writes `<base>.vl.json`, `<base>.svg` and `<base>.png` into `dir` (created if needed), each
 * atomically.
 *
 * @example
 * ```ts
 * const files = await writeChart(lossChartSpec(history), "outputs/baseline", "loss");
 * console.log(files.png); // outputs/baseline/loss.png
 * ```
 */
export async function writeChart(
  spec: VegaLiteSpec,
  dir: string,
  baseName: string,
  { scale = 2 }: RenderPngOptions = {},
): Promise<ChartFiles> {
  await ensureWritableDir(dir);
  const svg = await renderSvg(spec);
  const png = await svgToPng(svg, scale);
  const files: ChartFiles = {
    spec: join(dir, `${baseName}.vl.json`),
    svg: join(dir, `${baseName}.svg`),
    png: join(dir, `${baseName}.png`),
  };
  await atomicWriteFile(files.spec, JSON.stringify(spec, null, 2) + "\n");
  await atomicWriteFile(files.svg, svg);
  await atomicWriteFile(files.png, png);
  return files;
}

function titleOf(spec: VegaLiteSpec): string {
  const t = (spec as { title?: unknown }).title;
  if (typeof t === "string") return t;
  if (Array.isArray(t)) return t.join(" ");
  if (t && typeof t === "object" && "text" in t) {
    const text = (t as { text: unknown }).text;
    return Array.isArray(text) ? text.join(" ") : String(text);
  }
  return "Chart";
}

function displayable(bundle: MimeBundle): JupyterDisplayable {
  return {
    bundle,
    [JUPYTER_DISPLAY]: () => bundle,
  };
}

/**
 * Renders the chart's PNG and returns an object Deno's Jupyter kernel displays: as an
 * interactive vega-lite chart where the front end supports it, else the PNG, else text.
 * The bundle is `{ "application/vnd.vegalite.v5+json": spec, "image/png": <base64>,
 * "text/plain": "<title>: <summary>" }`.
 *
 * @example
 * ```ts
 * // last expression of a notebook cell
 * await chartDisplay(lossChartSpec(history));
 * ```
 */
export async function chartDisplay(
  spec: VegaLiteSpec,
  { scale = 2 }: RenderPngOptions = {},
): Promise<JupyterDisplayable> {
  const png = await renderPng(spec, { scale });
  const summary = (spec.usermeta as { summary?: unknown } | undefined)
    ?.summary;
  const text = typeof summary === "string"
    ? summary
    : `vega-lite chart (${
      Array.isArray((spec.data as { values?: unknown })?.values)
        ? `${(spec.data as { values: unknown[] }).values.length} data points`
        : "no inline data"
    })`;
  return displayable({
    "application/vnd.vegalite.v5+json": spec,
    "image/png": Buffer.from(png).toString("base64"),
    "text/plain": `${titleOf(spec)}: ${text}`,
  });
}

const PNG_SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];

/**
 * Wraps PNG bytes (a contact sheet, a confusion matrix, ...) as an object Deno's Jupyter
 * kernel displays; the text form is the caption, or the image size.
 *
 * @example
 * ```ts
 * imageDisplay(await Deno.readFile("outputs/contact_sheet.png"), "Test predictions");
 * ```
 */
export function imageDisplay(
  pngBytes: Uint8Array,
  caption?: string,
): JupyterDisplayable {
  if (
    pngBytes.length < 24 || PNG_SIGNATURE.some((b, i) => pngBytes[i] !== b)
  ) {
    throw new ChartError(
      `lib/report/charts.ts: imageDisplay needs PNG bytes (they start with the PNG signature); ` +
        `encode the image as PNG first, e.g. with sharp(...).png().toBuffer().`,
    );
  }
  const view = new DataView(
    pngBytes.buffer,
    pngBytes.byteOffset,
    pngBytes.byteLength,
  );
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  return displayable({
    "image/png": Buffer.from(pngBytes).toString("base64"),
    "text/plain": caption ?? `PNG image ${width}x${height}`,
  });
}
