/**
 * What Keras' `EarlyStopping` would have done with a training history:
 * {@linkcode earlyStopping} replays `EarlyStopping(monitor, patience, min_delta,
 * restore_best_weights=True)` epoch by epoch, and says after which epoch training would have
 * stopped and which epoch's weights it would have kept.
 *
 * @module
 */
import { DiagnoseError } from "./diagnose.ts";
import type { History } from "./history.ts";

/** Options for {@linkcode earlyStopping}. */
export interface EarlyStoppingOptions {
  /** The metric watched. Default `val_loss` (lower is better; `*accuracy` higher is better). */
  monitor?: string;
  /** Epochs without improvement before stopping. Default 3. */
  patience?: number;
  /** Smallest change that counts as an improvement. Default 0. */
  minDelta?: number;
}

/** What Keras' `EarlyStopping(restore_best_weights=True)` would have done. */
export interface EarlyStoppingResult {
  monitor: string;
  patience: number;
  /** 1-based epoch after which training stops, or null when it runs every epoch. */
  stoppedEpoch: number | null;
  /** 1-based epoch whose weights are kept (the best of `monitor`). */
  bestEpoch: number;
  /** Every metric at `bestEpoch`. */
  atBest: Record<string, number>;
  /** Every metric in the last epoch of the history. */
  atLast: Record<string, number>;
  /** One sentence for people. */
  message: string;
}

/**
 * Replays Keras' `EarlyStopping(monitor, patience, min_delta, restore_best_weights=True)` on a
 * history: after each epoch the monitored value either improves on the best so far by more than
 * `minDelta` (the wait restarts) or not (the wait grows); training stops when the wait reaches
 * `patience`, and the best epoch's weights are restored.
 *
 * @example
 * ```ts
 * const stop = earlyStopping(history, { patience: 3 });
 * console.log(stop.message);
 * // EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True) would have stopped
 * // after epoch 10 of 30 and kept epoch 7: val_loss 0.412, val_accuracy 0.850 (...)
 * ```
 */
export function earlyStopping(
  history: History,
  { monitor = "val_loss", patience = 3, minDelta = 0 }: EarlyStoppingOptions = {},
): EarlyStoppingResult {
  const values = history.history[monitor];
  if (!values || values.length === 0) {
    throw new DiagnoseError(
      `earlyStopping: the history has no "${monitor}" values (it has: ${
        Object.keys(history.history).join(", ") || "nothing"
      }); monitor one of those, e.g. "val_loss".`,
    );
  }
  const higherIsBetter = /acc/.test(monitor);
  let best = higherIsBetter ? -Infinity : Infinity;
  let bestIndex = 0;
  let wait = 0;
  let stopped: number | null = null;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const improved = higherIsBetter ? v - minDelta > best : v + minDelta < best;
    if (improved) {
      best = v;
      bestIndex = i;
      wait = 0;
    } else {
      wait++;
      if (wait >= patience) {
        stopped = i;
        break;
      }
    }
  }
  const at = (i: number) =>
    Object.fromEntries(Object.entries(history.history).map(([k, v]) => [k, v[i]]));
  const atBest = at(bestIndex);
  const atLast = at(values.length - 1);
  const show = (m: Record<string, number>) =>
    ["val_loss", "val_accuracy"].filter((k) => k in m).map((k) => `${k} ${m[k].toFixed(3)}`)
      .join(", ");
  const call = `EarlyStopping(monitor="${monitor}", patience=${patience}, ` +
    "restore_best_weights=True)";
  const epochs = values.length;
  const message = stopped === null
    ? `${call} would have run all ${epochs} epochs and kept epoch ${bestIndex + 1}: ${
      show(atBest)
    }${bestIndex === epochs - 1 ? " (the last one)" : ` (the last epoch: ${show(atLast)})`}.`
    : `${call} would have stopped after epoch ${stopped + 1} of ${epochs} and kept epoch ${
      bestIndex + 1
    }: ${show(atBest)} (instead of the last epoch's ${show(atLast)}).`;
  return {
    monitor,
    patience,
    stoppedEpoch: stopped === null ? null : stopped + 1,
    bestEpoch: bestIndex + 1,
    atBest,
    atLast,
    message,
  };
}
