import assert from "node:assert/strict";
import { JUPYTER_DISPLAY } from "../lib/report/charts.ts";
import { experimentConfig } from "../lib/config.ts";
import {
  createNotebookReporter,
  fitTableMarkdown,
  markdownDisplay,
  markdownTable,
  protocolLine,
  settleCellOutputs,
} from "../lib/notebook/display.ts";
import { historyOf, overfitHistory } from "./history_fixtures.ts";

Deno.test("the notebook reporter updates one display in place: a line per finished epoch, a live bar, a closing note", async () => {
  const sent: { type: string; text: string; id: unknown }[] = [];
  const reporter = createNotebookReporter(
    (type, content) => {
      const data = content.data as Record<string, string>;
      const transient = content.transient as Record<string, unknown>;
      sent.push({ type, text: data["text/plain"], id: transient.display_id });
      return Promise.resolve();
    },
    { displayId: "p1", throttleMs: 0 },
  );
  const values = { loss: 0.5, accuracy: 0.75, val_loss: 0.61234, val_accuracy: 0.8 };
  reporter.epochBegin(0, 30);
  reporter.batchEnd({ current: 1, target: 30, elapsedSeconds: 1, values: { loss: 0.5 } });
  reporter.epochEnd("30/30 [====] - 14s", { epochIndex: 0, epochs: 30, seconds: 14.2, values });
  reporter.epochBegin(1, 30);
  reporter.batchEnd({ current: 12, target: 30, elapsedSeconds: 6, values: { loss: 0.4 } });
  reporter.close("Stopped.");
  await reporter.settled();
  assert.equal(sent[0].type, "display_data");
  assert.ok(sent.slice(1).every((m) => m.type === "update_display_data"));
  assert.ok(sent.every((m) => m.id === "p1"));
  assert.equal(sent[0].text, "Epoch 1/30");
  assert.equal(sent[1].text, "Epoch 1/30   1/30 [....................] - ETA: 29s - loss: 0.5000");
  const finished = "Epoch 1/30 - 14s - loss: 0.5000 - accuracy: 0.7500 - val_loss: 0.6123 - " +
    "val_accuracy: 0.8000";
  assert.equal(sent[2].text, finished);
  assert.equal(
    sent[4].text,
    `${finished}\nEpoch 2/30  12/30 [=======>............] - ETA: 9s - loss: 0.4000`,
  );
  assert.equal(sent.at(-1)!.text, `${finished}\nStopped.`);
  assert.ok(sent.every((m) => m.text.split("\n").every((line) => line.length <= 100)));
});

Deno.test("without a summary (an older reporter caller) the finished epoch shows Keras' line", async () => {
  const texts: string[] = [];
  const reporter = createNotebookReporter((_, content) => {
    texts.push((content.data as Record<string, string>)["text/plain"]);
    return Promise.resolve();
  }, { throttleMs: 0 });
  reporter.epochBegin(0, 2);
  reporter.epochEnd("2/2 [==============================] - 2s 1s/step - loss: 0.5000");
  reporter.close();
  await reporter.settled();
  assert.equal(texts.at(-1), "2/2 [==============================] - 2s 1s/step - loss: 0.5000");
});

Deno.test("markdownDisplay shows computed markdown, with the same text as plain text", () => {
  const shown = markdownDisplay("| a | b |\n| --- | --- |\n| 1 | 2 |");
  const bundle = shown[JUPYTER_DISPLAY]();
  assert.equal(bundle["text/markdown"], "| a | b |\n| --- | --- |\n| 1 | 2 |");
  assert.equal(bundle["text/plain"], bundle["text/markdown"]);
  assert.equal(shown.bundle, bundle);
});

Deno.test("markdownTable right-aligns numbers and escapes pipes", () => {
  assert.equal(
    markdownTable(["split", "images", "share"], [["training_set", 160, 0.8], ["a|b", 40, 0.2]]),
    [
      "| split | images | share |",
      "| --- | ---: | ---: |",
      "| training_set | 160 | 0.800 |",
      "| a\\|b | 40 | 0.200 |",
    ].join("\n"),
  );
  assert.equal(
    markdownTable(["a", "b"], [["1", 2]], { align: ["right", "left"] }).split("\n")[1],
    "| ---: | --- |",
  );
});

Deno.test("fitTableMarkdown puts each run's figures and verdict in one row", () => {
  const table = fitTableMarkdown({ baseline: overfitHistory(), transfer: historyOf(3) });
  const lines = table.split("\n");
  assert.equal(lines.length, 4);
  assert.match(lines[0], /^\| model \| epochs \| train acc \(last\) \| val acc \(last\) \|/);
  assert.equal(
    lines[2],
    "| baseline | 7 | 0.990 | 0.775 | 0.825 (epoch 4) | 0.450 (epoch 3) | 0.750 | overfitting |",
  );
  assert.equal(lines[1], "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
  assert.equal(
    fitTableMarkdown({
      perfect: {
        ...overfitHistory(),
        history: { ...overfitHistory().history, accuracy: [0.5, 0.6, 0.7, 0.8, 0.9, 1, 1] },
      },
    })
      .split("\n")[2].split(" | ")[2],
    "1.000",
  );
  assert.match(lines[3], /^\| transfer \| 3 \| 0\.500 \|.*underfitting \|$/);
});

Deno.test("settleCellOutputs makes the kernel's end-of-cell hook wait after queueing the result", async () => {
  const calls: string[] = [];
  const target = {
    broadcastResult(count: number, result: unknown) {
      calls.push(`result ${count} ${result}`);
      return Promise.resolve();
    },
  };
  assert.equal(settleCellOutputs({ delayMs: 40, target }), true);
  const started = performance.now();
  await target.broadcastResult(3, "x");
  assert.ok(performance.now() - started >= 35, "waited after broadcasting");
  assert.deepEqual(calls, ["result 3 x"]);
  // a second call does not wrap twice, only changes the delay
  const wrapped = target.broadcastResult;
  assert.equal(settleCellOutputs({ delayMs: 0, target }), true);
  assert.equal(target.broadcastResult, wrapped);
  const again = performance.now();
  await target.broadcastResult(4, undefined);
  assert.ok(performance.now() - again < 30);
  assert.deepEqual(calls, ["result 3 x", "result 4 undefined"]);
  // outside the Deno kernel there is nothing to wrap
  assert.equal(settleCellOutputs(), false);
});

Deno.test("protocolLine states the protocol and flags quick mode", () => {
  assert.equal(
    protocolLine(experimentConfig({}, () => undefined)),
    "protocol: 30 epochs x 30 steps x batch 32 at 64x64, seed 42",
  );
  assert.match(
    protocolLine(experimentConfig({ quick: true })),
    /^protocol: 2 epochs x 2 steps .*QUICK MODE/,
  );
});
