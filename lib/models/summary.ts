/**
 * Keras' `model.summary()` table, line for line: layer name and type, output shape, parameter
 * count, then total / trainable / non-trainable parameters.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";

/** Parameter counts of a model, as Keras reports them. */
export interface ParamCounts {
  total: number;
  trainable: number;
  nonTrainable: number;
}

/**
 * Counts total, trainable and non-trainable parameters.
 *
 * @example
 * ```ts
 * const { total } = countParams(createBaselineModel()); // 813217
 * ```
 */
export function countParams(model: tf.LayersModel): ParamCounts {
  const size = (ws: tf.LayerVariable[]) =>
    ws.reduce((n, w) => n + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
  const trainable = size(model.trainableWeights);
  const nonTrainable = size(model.nonTrainableWeights);
  return { total: trainable + nonTrainable, trainable, nonTrainable };
}

/**
 * Formats a number with thousands separators, as Keras does (`813,217`).
 *
 * @example
 * ```ts
 * formatCount(14714688); // "14,714,688"
 * ```
 */
export function formatCount(n: number): string {
  return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** Options for {@linkcode summarize}. */
export interface SummaryOptions {
  /** Characters per line, as Keras' `line_length` (default 65). */
  lineLength?: number;
  /**
   * Show at most this many layers: the first and last halves, with one line saying how many are
   * left out in between. Default: every layer. (MobileNet's full table is 173 lines.)
   */
  maxLayers?: number;
}

/**
 * Renders Keras' summary table for a sequential-like model; `maxLayers` shortens it to the first
 * and last layers (the parameter counts at the end always cover the whole model).
 *
 * @example
 * ```ts
 * console.log(summarize(createBaselineModel()));
 * // Model: "sequential"
 * // _________________________________________________________________
 * // Layer (type)                 Output Shape              Param #
 * // ...
 * // Total params: 813,217
 * console.log(summarize(base.model, { maxLayers: 8 })); // 4 first, "... 78 more layers ...", 4 last
 * ```
 */
export function summarize(model: tf.LayersModel, options: SummaryOptions = {}): string {
  const lineLength = options.lineLength ?? 65;
  const positions = [0.45, 0.85, 1].map((p) => Math.floor(lineLength * p));
  // keras.utils.print_summary: each field is appended, cut at its column's end, then padded.
  const row = (fields: string[]) =>
    fields.reduce((line, field, i) => {
      const cut = (line + field).slice(0, positions[i]);
      return cut + " ".repeat(positions[i] - cut.length);
    }, "");
  const lines = [`Model: "${model.name}"`, "_".repeat(lineLength)];
  lines.push(row(["Layer (type)", "Output Shape", "Param #"]));
  lines.push("=".repeat(lineLength));
  const layers = model.layers as tf.layers.Layer[];
  const max = options.maxLayers ?? layers.length;
  if (!Number.isInteger(max) || max < 2) {
    throw new RangeError(
      `summarize: maxLayers must be a whole number of at least 2 (got ${options.maxLayers}).`,
    );
  }
  const head = layers.length > max ? Math.ceil(max / 2) : layers.length;
  const tail = layers.length > max ? max - head : 0;
  const shown: (tf.layers.Layer | number)[] = tail > 0
    ? [...layers.slice(0, head), layers.length - head - tail, ...layers.slice(-tail)]
    : layers;
  shown.forEach((layer, i) => {
    if (typeof layer === "number") {
      lines.push(`... ${layer} more layers (leave out maxLayers to see them) ...`);
    } else {
      lines.push(
        row([
          `${layer.name} (${layer.getClassName()})`,
          formatShape(layer),
          String(layer.countParams()),
        ]),
      );
    }
    if (i < shown.length - 1) lines.push("_".repeat(lineLength));
  });
  lines.push("=".repeat(lineLength));
  const counts = countParams(model);
  lines.push(`Total params: ${formatCount(counts.total)}`);
  lines.push(`Trainable params: ${formatCount(counts.trainable)}`);
  lines.push(`Non-trainable params: ${formatCount(counts.nonTrainable)}`);
  lines.push("_".repeat(lineLength));
  return lines.join("\n");
}

function formatShape(layer: tf.layers.Layer): string {
  const shape = layer.outputShape as (number | null)[] | (number | null)[][];
  const one = (s: (number | null)[]) =>
    `(${s.map((d) => (d === null ? "None" : String(d))).join(", ")})`;
  if (layer.getClassName() === "InputLayer") {
    return `[${one(shape as (number | null)[])}]`;
  }
  if (Array.isArray(shape[0])) {
    return (shape as (number | null)[][]).map(one).join(", ");
  }
  return one(shape as (number | null)[]);
}
