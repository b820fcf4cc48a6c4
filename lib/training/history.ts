/**
 * The Keras `History` of a training run, shared by training, charts, diagnosis and reports.
 *
 * It mirrors Keras' `History` object: `epoch` is the list of 0-based epoch indices Keras
 * records (`[0, 1, ..., n-1]`) and `history` maps each metric name to one value per epoch,
 * with Keras 2 names: `loss`, `accuracy`, `val_loss`, `val_accuracy`.
 *
 * The CSV form is the one Keras' `CSVLogger` writes: one row per epoch, the epoch column is
 * 0-based like `CSVLogger`'s, numbers are written so they read back exactly, and `NaN` /
 * infinities are written `nan` / `inf` / `-inf` as Python does. Columns are `epoch`, then the
 * four standard metrics in the order `loss,accuracy,val_loss,val_accuracy` (those present),
 * then any other metric in alphabetical order. Reading accepts any column order (Keras' own
 * `CSVLogger` sorts the keys alphabetically) and any extra columns.
 *
 * @module
 */
import { CarplaneError } from "../errors.ts";

/** Per-epoch metrics of a training run, as Keras' `History` holds them. */
export interface History {
  /** 0-based epoch indices, like Keras' `History.epoch`. */
  epoch: number[];
  /** Metric name (`loss`, `accuracy`, `val_loss`, `val_accuracy`, ...) to one value per epoch. */
  history: Record<string, number[]>;
}

/** The standard metric names in the order the CSV writes them. */
export const STANDARD_METRICS = [
  "loss",
  "accuracy",
  "val_loss",
  "val_accuracy",
] as const;

/** Raised for a malformed history or history CSV. */
export class HistoryError extends CarplaneError {
  constructor(message: string) {
    super(message);
    this.name = "HistoryError";
  }
}

/**
 * Checks that every metric has exactly one value per epoch; throws {@linkcode HistoryError}
 * otherwise. Returns the history for chaining.
 *
 * @example
 * ```ts
 * validateHistory({ epoch: [0], history: { loss: [0.7] } });
 * ```
 */
export function validateHistory(h: History, where = "history"): History {
  if (!h || !Array.isArray(h.epoch) || typeof h.history !== "object") {
    throw new HistoryError(
      `${where}: expected { epoch: number[], history: { metric: number[] } }; pass the History ` +
        `returned by training (or historyFromCsv / fromTfHistory).`,
    );
  }
  for (const [key, values] of Object.entries(h.history)) {
    if (!Array.isArray(values) || values.length !== h.epoch.length) {
      throw new HistoryError(
        `${where}: metric "${key}" has ${
          Array.isArray(values) ? values.length : "no"
        } values for ${h.epoch.length} epochs; every metric needs one value per epoch.`,
      );
    }
  }
  return h;
}

/** Column order for a history: standard metrics first, then the others alphabetically. */
function metricColumns(h: History): string[] {
  const keys = Object.keys(h.history);
  const standard = STANDARD_METRICS.filter((k) => keys.includes(k));
  const others = keys.filter((k) => !(STANDARD_METRICS as readonly string[]).includes(k)).sort();
  return [...standard, ...others];
}

function formatNumber(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  return String(x);
}

function parseNumber(text: string, where: string): number {
  const t = text.trim().toLowerCase();
  if (t === "nan") return NaN;
  if (t === "inf" || t === "infinity" || t === "+inf") return Infinity;
  if (t === "-inf" || t === "-infinity") return -Infinity;
  const x = Number(t);
  if (t === "" || Number.isNaN(x)) {
    throw new HistoryError(
      `${where}: "${text}" is not a number; the file should be a CSVLogger-style history ` +
        `(epoch,loss,accuracy,val_loss,val_accuracy).`,
    );
  }
  return x;
}

/**
 * Writes a history as CSV in Keras `CSVLogger` style (0-based `epoch` column first).
 *
 * @example
 * ```ts
 * historyToCsv({ epoch: [0, 1], history: { loss: [0.7, 0.6], accuracy: [0.5, 0.6] } });
 * // "epoch,loss,accuracy\n0,0.7,0.5\n1,0.6,0.6\n"
 * ```
 */
export function historyToCsv(h: History): string {
  validateHistory(h);
  const columns = metricColumns(h);
  const lines = [["epoch", ...columns].join(",")];
  h.epoch.forEach((epoch, i) => {
    lines.push(
      [
        String(epoch),
        ...columns.map((c) => formatNumber(h.history[c][i])),
      ].join(","),
    );
  });
  return lines.join("\n") + "\n";
}

/**
 * Reads a CSV written by {@linkcode historyToCsv} or by Keras' `CSVLogger` (any column order,
 * comma or the `CSVLogger(separator=...)` given, `\n` or `\r\n` line ends).
 *
 * @example
 * ```ts
 * const h = historyFromCsv("epoch,loss\n0,0.7\n1,0.6\n");
 * h.history.loss; // [0.7, 0.6]
 * ```
 */
export function historyFromCsv(
  csv: string,
  { separator = ",", source = "history CSV" }: {
    separator?: string;
    source?: string;
  } = {},
): History {
  const lines = csv.replace(/^\uFEFF/, "").split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines.length === 0) {
    throw new HistoryError(
      `${source}: empty; expected a header line "epoch,loss,accuracy,val_loss,val_accuracy" ` +
        `and one row per epoch.`,
    );
  }
  const header = lines[0].split(separator).map((c) => c.trim());
  const epochCol = header.indexOf("epoch");
  if (epochCol < 0) {
    throw new HistoryError(
      `${source}: no "epoch" column in header "${lines[0]}"; expected a CSVLogger-style ` +
        `history (epoch,loss,accuracy,val_loss,val_accuracy).`,
    );
  }
  const h: History = { epoch: [], history: {} };
  header.forEach((name, i) => {
    if (i !== epochCol) h.history[name] = [];
  });
  lines.slice(1).forEach((line, r) => {
    const cells = line.split(separator);
    const where = `${source} line ${r + 2}`;
    if (cells.length !== header.length) {
      throw new HistoryError(
        `${where}: ${cells.length} cells for ${header.length} columns; fix or regenerate the file.`,
      );
    }
    header.forEach((name, i) => {
      const x = parseNumber(cells[i], `${where}, column "${name}"`);
      if (i === epochCol) h.epoch.push(x);
      else h.history[name].push(x);
    });
  });
  return h;
}

/** Keras 2 names for the metric names TensorFlow.js uses (`acc` for `accuracy`). */
const TFJS_TO_KERAS: Record<string, string> = {
  acc: "accuracy",
  val_acc: "val_accuracy",
};

/** A value in a TensorFlow.js history: a number or a scalar tensor. */
type TfHistoryValue = number | { dataSync(): ArrayLike<number> };

/**
 * Converts the `History` returned by TensorFlow.js' `model.fit` into a Keras-style
 * {@linkcode History}: scalar tensors become numbers and TensorFlow.js' `acc` / `val_acc`
 * become Keras 2's `accuracy` / `val_accuracy`.
 *
 * @example
 * ```ts
 * const h = fromTfHistory({ epoch: [0], history: { loss: [0.7], acc: [0.5] } });
 * h.history.accuracy; // [0.5]
 * ```
 */
export function fromTfHistory(
  tfHistory: { epoch: number[]; history: Record<string, TfHistoryValue[]> },
): History {
  const out: History = { epoch: [...tfHistory.epoch], history: {} };
  for (const [key, values] of Object.entries(tfHistory.history)) {
    out.history[TFJS_TO_KERAS[key] ?? key] = values.map((v) =>
      typeof v === "number" ? v : v.dataSync()[0]
    );
  }
  return validateHistory(out, "TensorFlow.js history");
}

/**
 * Returns a new history with one more epoch of metrics appended (for training loops that
 * build the history epoch by epoch). Metrics missing from `logs` are recorded as `NaN`.
 *
 * @example
 * ```ts
 * let h: History = { epoch: [], history: {} };
 * h = appendEpoch(h, 0, { loss: 0.7, accuracy: 0.5 });
 * ```
 */
export function appendEpoch(
  h: History,
  epoch: number,
  logs: Record<string, number>,
): History {
  const named: Record<string, number> = {};
  for (const [key, value] of Object.entries(logs)) {
    named[TFJS_TO_KERAS[key] ?? key] = value;
  }
  const keys = new Set([...Object.keys(h.history), ...Object.keys(named)]);
  const history: Record<string, number[]> = {};
  for (const key of keys) {
    const previous = h.history[key] ?? h.epoch.map(() => NaN);
    history[key] = [...previous, named[key] ?? NaN];
  }
  return { epoch: [...h.epoch, epoch], history };
}

/** The first, last and best value of one metric over a run. */
export interface MetricSummary {
  /** The value in the first epoch. */
  first: number;
  /** The value in the last epoch. */
  last: number;
  /** The best value: the lowest for a loss, the highest otherwise (non-finite values skipped). */
  best: number;
  /** 1-based epoch of `best` (the first, on ties); 0 when no value is finite. */
  bestEpoch: number;
}

/**
 * Whether a metric is better low (`min`: losses) or high (`max`: accuracy and the rest).
 *
 * @example
 * ```ts
 * metricGoal("val_loss"); // "min"
 * ```
 */
export function metricGoal(name: string): "min" | "max" {
  return name.endsWith("loss") ? "min" : "max";
}

/**
 * First, last and best value of one metric's values (see {@linkcode MetricSummary}).
 *
 * @example
 * ```ts
 * summarizeMetric([0.9, 0.4, 0.6], "min"); // { first: 0.9, last: 0.6, best: 0.4, bestEpoch: 2 }
 * ```
 */
export function summarizeMetric(values: readonly number[], goal: "min" | "max"): MetricSummary {
  let best = -1;
  values.forEach((v, i) => {
    if (
      Number.isFinite(v) && (best < 0 || (goal === "min" ? v < values[best] : v > values[best]))
    ) {
      best = i;
    }
  });
  return {
    first: values[0] ?? NaN,
    last: values[values.length - 1] ?? NaN,
    best: best < 0 ? NaN : values[best],
    bestEpoch: best + 1,
  };
}

/**
 * The one summary of a history that the report, the charts and the diagnosis read: per metric,
 * its first, last and best value and the epoch of the best (lowest loss, highest accuracy).
 *
 * @example
 * ```ts
 * const s = summarizeHistory(history);
 * console.log(s.val_loss.best, s.val_loss.bestEpoch, s.val_accuracy.last);
 * ```
 */
export function summarizeHistory(history: History): Record<string, MetricSummary> {
  return Object.fromEntries(
    Object.entries(history.history).map(([name, values]) => [
      name,
      summarizeMetric(values, metricGoal(name)),
    ]),
  );
}
