/**
 * The overfitting verdict on a training run, from its Keras History: where validation loss
 * bottomed out, how far it rose after, and how train and validation accuracy ended.
 *
 * Verdict rules, checked in this order (thresholds in {@linkcode DEFAULT_FIT_THRESHOLDS},
 * each overridable):
 *
 * 1. **overfitting** when all of these hold:
 *    - validation loss rose materially after its minimum: final `val_loss` >
 *      `valLossRiseRatio` (1.2) x the minimum `val_loss` and above it by more than
 *      `minValLossRise` (0.1), the minimum not being in the last epoch;
 *    - train loss kept falling meanwhile: final `loss` < `loss` in the epoch of the minimum;
 *    - train accuracy ends above validation accuracy by more than `accuracyGap` (0.05).
 * 2. **underfitting** when the final train accuracy is below `minTrainAccuracy` (0.75): the
 *    model does not even fit the data it trains on (for two balanced classes chance is 0.5).
 * 3. **good fit** otherwise.
 *
 * Epochs in the result and the message are 1-based, as Keras prints them (`Epoch 7/30`).
 *
 * @module
 */
import { type History, summarizeMetric } from "./history.ts";
import { CarplaneError } from "../errors.ts";

/** Raised when a history cannot be diagnosed; says what the history needs. */
export class DiagnoseError extends CarplaneError {
  constructor(message: string) {
    super(message);
    this.name = "DiagnoseError";
  }
}

/** The verdict of {@linkcode diagnoseFit}. */
export type FitVerdict = "overfitting" | "underfitting" | "good fit";

/** Thresholds of the verdict rules (see the module docs). */
export interface FitThresholds {
  /** Overfitting needs final val_loss > this x min val_loss. Default 1.2. */
  valLossRiseRatio: number;
  /** Overfitting needs final val_loss - min val_loss > this. Default 0.1. */
  minValLossRise: number;
  /** Overfitting needs final train accuracy - final val accuracy > this. Default 0.05. */
  accuracyGap: number;
  /** Underfitting when final train accuracy < this. Default 0.75. */
  minTrainAccuracy: number;
}

/** The default thresholds. */
export const DEFAULT_FIT_THRESHOLDS: Readonly<FitThresholds> = Object.freeze({
  valLossRiseRatio: 1.2,
  minValLossRise: 0.1,
  accuracyGap: 0.05,
  minTrainAccuracy: 0.75,
});

/** What {@linkcode diagnoseFit} finds. */
export interface FitDiagnosis {
  /** The verdict. */
  verdict: FitVerdict;
  /** One line for people, e.g. "Overfitting: val_loss bottomed at 0.41 in epoch 7 ...". */
  message: string;
  /** Number of epochs in the history. */
  epochs: number;
  /** 1-based epoch of the lowest val_loss. */
  bestValLossEpoch: number;
  /** The lowest val_loss. */
  minValLoss: number;
  /** 1-based epoch of the best val_accuracy (the first, on ties). */
  bestValAccuracyEpoch: number;
  /** The best val_accuracy. */
  bestValAccuracy: number;
  /** Train loss in the last epoch. */
  finalLoss: number;
  /** Validation loss in the last epoch. */
  finalValLoss: number;
  /** Train accuracy in the last epoch. */
  finalAccuracy: number;
  /** Validation accuracy in the last epoch. */
  finalValAccuracy: number;
  /** `finalAccuracy - finalValAccuracy`. */
  accuracyGap: number;
  /** `finalValLoss - minValLoss` (0 when the minimum is the last epoch). */
  valLossRise: number;
  /** `finalValLoss / minValLoss`. */
  valLossRiseRatio: number;
  /** The thresholds the verdict used. */
  thresholds: FitThresholds;
}

const REQUIRED = ["loss", "accuracy", "val_loss", "val_accuracy"] as const;

const f2 = (x: number) => x.toFixed(2);

/**
 * Diagnoses a training run from its history (see the module docs for the rules).
 *
 * @example
 * ```ts
 * const d = diagnoseFit(history);
 * console.log(d.message);
 * // Overfitting: val_loss bottomed at 0.41 in epoch 7 and rose to 1.12 by epoch 30 while
 * // train accuracy reached 0.99 (val 0.84).
 * ```
 */
export function diagnoseFit(
  history: History,
  thresholds: Partial<FitThresholds> = {},
): FitDiagnosis {
  const t: FitThresholds = { ...DEFAULT_FIT_THRESHOLDS, ...thresholds };
  const missing = REQUIRED.filter((k) => !Array.isArray(history.history?.[k]));
  if (missing.length > 0) {
    throw new DiagnoseError(
      `lib/training/diagnose.ts: the history has no ${missing.join(", ")} (it has: ${
        Object.keys(history.history ?? {}).join(", ") || "nothing"
      }). The diagnosis compares train and validation curves: train with validation data ` +
        `(Keras validation_data) and compile with metrics ["accuracy"].`,
    );
  }
  const { loss, accuracy, val_loss: valLoss, val_accuracy: valAcc } = history.history as Record<
    (typeof REQUIRED)[number],
    number[]
  >;
  const epochs = loss.length;
  if (
    epochs === 0 || [accuracy, valLoss, valAcc].some((s) => s.length !== epochs)
  ) {
    throw new DiagnoseError(
      `lib/training/diagnose.ts: the history needs at least one epoch and one value per epoch for ` +
        `each of ${REQUIRED.join(", ")}; got lengths ${
          [loss, accuracy, valLoss, valAcc].map((s) => s.length).join(", ")
        }.`,
    );
  }
  const minI = summarizeMetric(valLoss, "min").bestEpoch - 1;
  const bestAccI = summarizeMetric(valAcc, "max").bestEpoch - 1;
  if (minI < 0 || bestAccI < 0) {
    throw new DiagnoseError(
      `lib/training/diagnose.ts: val_loss or val_accuracy has no finite value; the run diverged ` +
        `(NaN losses). Lower the learning rate and train again.`,
    );
  }
  const last = epochs - 1;
  const d = {
    epochs,
    bestValLossEpoch: minI + 1,
    minValLoss: valLoss[minI],
    bestValAccuracyEpoch: bestAccI + 1,
    bestValAccuracy: valAcc[bestAccI],
    finalLoss: loss[last],
    finalValLoss: valLoss[last],
    finalAccuracy: accuracy[last],
    finalValAccuracy: valAcc[last],
    accuracyGap: accuracy[last] - valAcc[last],
    valLossRise: valLoss[last] - valLoss[minI],
    valLossRiseRatio: valLoss[last] / valLoss[minI],
    thresholds: t,
  };

  const rose = minI < last && d.finalValLoss > t.valLossRiseRatio * d.minValLoss &&
    d.valLossRise > t.minValLossRise;
  const trainFell = d.finalLoss < loss[minI];
  const gap = d.accuracyGap > t.accuracyGap;
  let verdict: FitVerdict;
  let message: string;
  if (rose && trainFell && gap) {
    verdict = "overfitting";
    message =
      `Overfitting: val_loss bottomed at ${f2(d.minValLoss)} in epoch ${minI + 1} and rose to ${
        f2(d.finalValLoss)
      } by epoch ${epochs} while train accuracy ` +
      `reached ${f2(d.finalAccuracy)} (val ${f2(d.finalValAccuracy)}).`;
  } else if (!(d.finalAccuracy >= t.minTrainAccuracy)) {
    verdict = "underfitting";
    message = `Underfitting: train accuracy only reached ${
      f2(d.finalAccuracy)
    } by epoch ${epochs} (below ${f2(t.minTrainAccuracy)}; val ${
      f2(d.finalValAccuracy)
    }), so the model does not fit even its training data; train longer or use a larger model.`;
  } else {
    verdict = "good fit";
    message = `Good fit: val_loss reached ${f2(d.minValLoss)} in epoch ${minI + 1} and ended at ${
      f2(d.finalValLoss)
    } in epoch ${epochs}; train accuracy ${f2(d.finalAccuracy)}, val ${
      f2(d.finalValAccuracy)
    } (gap ${f2(d.accuracyGap)}).`;
  }
  return { verdict, message, ...d };
}
