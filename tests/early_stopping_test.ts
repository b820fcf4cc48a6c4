import assert from "node:assert/strict";
import { earlyStopping } from "../lib/training/early_stopping.ts";
import { overfitHistory } from "./history_fixtures.ts";

Deno.test("earlyStopping replays Keras' EarlyStopping with restore_best_weights", () => {
  const stop = earlyStopping(overfitHistory(), { patience: 3 });
  assert.equal(stop.bestEpoch, 3);
  assert.equal(stop.stoppedEpoch, 6); // epochs 4, 5, 6 without improvement
  assert.equal(stop.atBest.val_accuracy, 0.8);
  assert.equal(stop.atLast.val_loss, 0.75);
  assert.equal(
    stop.message,
    'EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True) would have ' +
      "stopped after epoch 6 of 7 and kept epoch 3: val_loss 0.450, val_accuracy 0.800 " +
      "(instead of the last epoch's val_loss 0.750, val_accuracy 0.775).",
  );
  const patient = earlyStopping(overfitHistory(), { patience: 10 });
  assert.equal(patient.stoppedEpoch, null);
  assert.match(patient.message, /would have run all 7 epochs and kept epoch 3/);
  const byAccuracy = earlyStopping(overfitHistory(), { monitor: "val_accuracy", patience: 2 });
  assert.equal(byAccuracy.bestEpoch, 4);
  assert.equal(byAccuracy.stoppedEpoch, 6);
  // min_delta: an improvement must beat the best by more than it
  assert.equal(earlyStopping(overfitHistory(), { patience: 1, minDelta: 0.11 }).stoppedEpoch, 3);
  assert.throws(() => earlyStopping(overfitHistory(), { monitor: "val_auc" }), /no "val_auc"/);
});
