import assert from "node:assert/strict";
import {
  appendEpoch,
  fromTfHistory,
  type History,
  HistoryError,
  historyFromCsv,
  historyToCsv,
  metricGoal,
  summarizeHistory,
  summarizeMetric,
} from "../lib/training/history.ts";

const sample: History = {
  epoch: [0, 1, 2],
  history: {
    loss: [0.6931471824645996, 0.5, 0.1 + 0.2],
    accuracy: [0.5, 0.75, 1 / 3],
    val_loss: [0.7, 0.65, 1e-7],
    val_accuracy: [0.45, 0.6, 0.8],
  },
};

Deno.test("historyToCsv writes a CSVLogger-style header and 0-based epochs", () => {
  const csv = historyToCsv(sample);
  const lines = csv.trimEnd().split("\n");
  assert.equal(lines[0], "epoch,loss,accuracy,val_loss,val_accuracy");
  assert.equal(lines.length, 4);
  assert.match(lines[1], /^0,0\.6931471824645996,0\.5,0\.7,0\.45$/);
  assert.ok(lines[3].startsWith("2,"));
});

Deno.test("a history survives a round trip through CSV exactly", () => {
  assert.deepEqual(historyFromCsv(historyToCsv(sample)), sample);
});

Deno.test("NaN and infinities round-trip as Python writes them", () => {
  const h: History = { epoch: [0, 1], history: { loss: [NaN, Infinity] } };
  const csv = historyToCsv(h);
  assert.equal(csv, "epoch,loss\n0,nan\n1,inf\n");
  const back = historyFromCsv(csv);
  assert.ok(Number.isNaN(back.history.loss[0]));
  assert.equal(back.history.loss[1], Infinity);
});

Deno.test("extra metrics are written after the standard ones, alphabetically", () => {
  const h: History = {
    epoch: [0],
    history: { zeta: [1], val_loss: [0.5], loss: [0.4], alpha: [2] },
  };
  assert.equal(historyToCsv(h).split("\n")[0], "epoch,loss,val_loss,alpha,zeta");
});

Deno.test("historyFromCsv reads Keras' own CSVLogger files (sorted keys, CRLF)", () => {
  const keras = "epoch,accuracy,loss,val_accuracy,val_loss\r\n0,0.5,0.69,0.55,0.68\r\n" +
    "1,0.6,0.6,0.58,0.66\r\n";
  const h = historyFromCsv(keras);
  assert.deepEqual(h.epoch, [0, 1]);
  assert.deepEqual(h.history.val_loss, [0.68, 0.66]);
  assert.deepEqual(h.history.accuracy, [0.5, 0.6]);
});

Deno.test("historyFromCsv names the line and column of a bad cell", () => {
  assert.throws(
    () => historyFromCsv("epoch,loss\n0,abc\n", { source: "run/history.csv" }),
    (err: unknown) =>
      err instanceof HistoryError && /run\/history\.csv line 2, column "loss"/.test(err.message),
  );
  assert.throws(() => historyFromCsv("loss\n0.5\n"), HistoryError);
  assert.throws(() => historyFromCsv(""), HistoryError);
  assert.throws(() => historyFromCsv("epoch,loss\n0\n"), /1 cells for 2 columns/);
});

Deno.test("historyToCsv refuses a metric with the wrong number of values", () => {
  assert.throws(
    () => historyToCsv({ epoch: [0, 1], history: { loss: [0.5] } }),
    /metric "loss" has 1 values for 2 epochs/,
  );
});

Deno.test("fromTfHistory renames acc to accuracy and reads scalar tensors", () => {
  const scalar = (x: number) => ({ dataSync: () => [x] });
  const h = fromTfHistory({
    epoch: [0, 1],
    history: { loss: [0.7, scalar(0.6)], acc: [0.5, 0.6], val_acc: [0.4, 0.5], val_loss: [1, 2] },
  });
  assert.deepEqual(Object.keys(h.history).sort(), ["accuracy", "loss", "val_accuracy", "val_loss"]);
  assert.deepEqual(h.history.loss, [0.7, 0.6]);
});

Deno.test("appendEpoch returns a new history and fills metrics that appear late with NaN", () => {
  const empty: History = { epoch: [], history: {} };
  const one = appendEpoch(empty, 0, { loss: 0.7, acc: 0.5 });
  const two = appendEpoch(one, 1, { loss: 0.6, accuracy: 0.6, val_loss: 0.65 });
  assert.deepEqual(empty, { epoch: [], history: {} });
  assert.deepEqual(two.epoch, [0, 1]);
  assert.deepEqual(two.history.accuracy, [0.5, 0.6]);
  assert.ok(Number.isNaN(two.history.val_loss[0]));
  assert.equal(two.history.val_loss[1], 0.65);
});

Deno.test("summarizeHistory gives first, last and best per metric: lowest loss, highest accuracy", () => {
  const s = summarizeHistory({
    epoch: [0, 1, 2, 3],
    history: {
      loss: [0.9, 0.5, 0.3, 0.2],
      val_loss: [0.8, 0.4, NaN, 0.6],
      val_accuracy: [0.5, 0.75, 0.75, 0.7],
    },
  });
  assert.deepEqual(s.val_loss, { first: 0.8, last: 0.6, best: 0.4, bestEpoch: 2 });
  assert.deepEqual(s.val_accuracy, { first: 0.5, last: 0.7, best: 0.75, bestEpoch: 2 });
  assert.deepEqual(s.loss, { first: 0.9, last: 0.2, best: 0.2, bestEpoch: 4 });
  assert.deepEqual(summarizeMetric([NaN, Infinity], "min"), {
    first: NaN,
    last: Infinity,
    best: NaN,
    bestEpoch: 0,
  });
  assert.equal(metricGoal("val_loss"), "min");
  assert.equal(metricGoal("accuracy"), "max");
});
