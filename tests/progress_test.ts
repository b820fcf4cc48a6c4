import assert from "node:assert/strict";
import {
  createConsoleReporter,
  formatDuration,
  formatEpochLine,
  formatProgbar,
} from "../lib/training/progress.ts";

Deno.test("the epoch line reads like Keras' (1-based)", () => {
  assert.equal(formatEpochLine(2, 30), "Epoch 3/30");
});

Deno.test("the final progress line shows total time, time per step and the metrics", () => {
  const line = formatProgbar({
    current: 30,
    target: 30,
    elapsedSeconds: 13.5,
    values: { loss: 0.25, accuracy: 0.9, val_loss: 0.41234, val_accuracy: 0.85 },
  });
  assert.equal(
    line,
    "30/30 [==============================] - 14s 450ms/step - loss: 0.2500 - accuracy: 0.9000" +
      " - val_loss: 0.4123 - val_accuracy: 0.8500",
  );
});

Deno.test("a running bar shows an arrow head and the ETA", () => {
  const line = formatProgbar({ current: 3, target: 10, elapsedSeconds: 3, values: { loss: 1 } });
  assert.equal(line, " 3/10 [========>.....................] - ETA: 7s - loss: 1.0000");
});

Deno.test("durations use Keras' units", () => {
  assert.deepEqual([formatDuration(2.4), formatDuration(0.0123), formatDuration(2e-6)], [
    "2s",
    "12ms",
    "2us",
  ]);
});

Deno.test("the console reporter prints only whole lines when not live, and redraws in place when live", () => {
  const lines: string[] = [];
  const writes: string[] = [];
  const quiet = createConsoleReporter({
    live: false,
    log: (l) => lines.push(l),
    write: (t) => writes.push(t),
  });
  quiet.epochBegin(0, 2);
  quiet.batchEnd({ current: 1, target: 2, elapsedSeconds: 1, values: { loss: 1 } });
  quiet.epochEnd("2/2 [==] - done");
  assert.deepEqual(lines, ["Epoch 1/2", "2/2 [==] - done"]);
  assert.equal(writes.length, 0);
  const live = createConsoleReporter({
    live: true,
    log: (l) => lines.push(l),
    write: (t) => writes.push(t),
  });
  live.batchEnd({ current: 1, target: 2, elapsedSeconds: 1, values: { loss: 1 } });
  assert.ok(writes[0].startsWith("\r1/2 ["));
});
