import assert from "node:assert/strict";
import {
  createConsoleReporter,
  formatDuration,
  formatEpochLine,
  formatEpochProgress,
  formatEpochSummary,
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

Deno.test("a finished epoch fits on one line of at most 100 characters, Keras' figures and names", () => {
  const values = { loss: 0.25, accuracy: 0.9, val_loss: 0.41234, val_accuracy: 0.85 };
  assert.equal(
    formatEpochSummary({ epochIndex: 2, epochs: 30, seconds: 13.5, values }),
    "Epoch 3/30 - 14s - loss: 0.2500 - accuracy: 0.9000 - val_loss: 0.4123 - val_accuracy: 0.8500",
  );
  // the widest the article's run gets: 30/30, three-digit seconds, tiny losses in e-notation
  const widest = formatEpochSummary({
    epochIndex: 29,
    epochs: 30,
    seconds: 276,
    values: { loss: 0.00001234, accuracy: 1, val_loss: 0.00004321, val_accuracy: 0.975 },
  });
  assert.match(widest, /^Epoch 30\/30 - 276s - loss: 1\.2340e-5 - /);
  assert.ok(widest.length <= 100, `${widest.length} characters: ${widest}`);
});

Deno.test("the running epoch's bar names the epoch and stays under 100 characters", () => {
  const line = formatEpochProgress(3, 30, {
    current: 12,
    target: 30,
    elapsedSeconds: 6,
    values: { loss: 0.5, accuracy: 0.78125 },
  });
  assert.equal(
    line,
    "Epoch 4/30  12/30 [=======>............] - ETA: 9s - loss: 0.5000 - accuracy: 0.7813",
  );
  assert.ok(line.length <= 100);
});
