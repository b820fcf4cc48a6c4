/**
 * Training histories for tests, in Keras' `History` shape (no files, no models).
 *
 * Not a test file itself (no `_test` suffix).
 *
 * @module
 */
import type { History } from "../lib/training/history.ts";

/** val_loss falls to its minimum in epoch 3, then rises; train keeps improving. */
export function overfitHistory(): History {
  return {
    epoch: [0, 1, 2, 3, 4, 5, 6],
    history: {
      loss: [0.7, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05],
      accuracy: [0.55, 0.7, 0.8, 0.88, 0.93, 0.97, 0.99],
      val_loss: [0.68, 0.55, 0.45, 0.47, 0.52, 0.6, 0.75],
      val_accuracy: [0.6, 0.7, 0.8, 0.825, 0.8, 0.8, 0.775],
    },
  };
}

/**
 * A flat `epochs`-long history (train loss falling slowly, accuracies at chance); `val_loss` is
 * NaN in the second epoch (index 1), to test how non-finite numbers are saved.
 */
export function historyOf(epochs: number): History {
  return {
    epoch: Array.from({ length: epochs }, (_, i) => i),
    history: {
      loss: Array.from({ length: epochs }, (_, i) => 0.7 - i / 100),
      accuracy: Array.from({ length: epochs }, () => 0.5),
      val_loss: Array.from({ length: epochs }, (_, i) => i === 1 ? NaN : 0.69),
      val_accuracy: Array.from({ length: epochs }, () => 0.5),
    },
  };
}
