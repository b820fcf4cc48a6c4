import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { JUPYTER_DISPLAY } from "../lib/charts.ts";
import { experimentConfig } from "../lib/config.ts";
import type { History } from "../lib/history.ts";
import { loadModel } from "../lib/model_io.ts";
import {
  createNotebookReporter,
  earlyStopping,
  fitTableMarkdown,
  historyFiles,
  historyFromOutputsOrTrain,
  loadHistoryFromOutputs,
  markdownDisplay,
  markdownTable,
  modelFromOutputsOrTrain,
  type ModelKind,
  type NotebookModelRecord,
  protocolLine,
  saveNotebookModel,
  settleCellOutputs,
  trainArticleBaseline,
} from "../lib/notebook.ts";
import type { InputSpec } from "../lib/predict.ts";
import { silentReporter } from "../lib/progress.ts";
import { makeArticleLayout, withTempDir } from "./fixtures.ts";

await tf.setBackend("cpu");
tf.env().set("PROD", true);

Deno.test("the notebook reporter shows one display and updates it in place with Keras' lines", async () => {
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
  reporter.epochBegin(0, 2);
  reporter.batchEnd({ current: 1, target: 2, elapsedSeconds: 1, values: { loss: 0.5 } });
  reporter.epochEnd("2/2 [==============================] - 2s 1s/step - loss: 0.5000");
  reporter.epochBegin(1, 2);
  reporter.epochEnd("2/2 [==============================] - 2s 1s/step - loss: 0.4000");
  await reporter.settled();
  assert.equal(sent[0].type, "display_data");
  assert.ok(sent.slice(1).every((m) => m.type === "update_display_data"));
  assert.ok(sent.every((m) => m.id === "p1"));
  assert.match(sent[1].text, /^Epoch 1\/2\n1\/2 \[/);
  assert.equal(
    sent.at(-1)!.text,
    [
      "Epoch 1/2",
      "2/2 [==============================] - 2s 1s/step - loss: 0.5000",
      "Epoch 2/2",
      "2/2 [==============================] - 2s 1s/step - loss: 0.4000",
    ].join("\n"),
  );
});

Deno.test("markdownDisplay shows computed markdown, with the same text as plain text", () => {
  const shown = markdownDisplay("| a | b |\n| --- | --- |\n| 1 | 2 |");
  const bundle = shown[JUPYTER_DISPLAY]();
  assert.equal(bundle["text/markdown"], "| a | b |\n| --- | --- |\n| 1 | 2 |");
  assert.equal(bundle["text/plain"], bundle["text/markdown"]);
  assert.equal(shown.bundle, bundle);
});

function tinyModel(): tf.LayersModel {
  const model = tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [4, 4, 3] }),
      tf.layers.dense({ units: 1, activation: "sigmoid" }),
    ],
  });
  model.compile({ optimizer: "adam", loss: "binaryCrossentropy", metrics: ["accuracy"] });
  return model;
}

const SPEC: InputSpec = {
  classNames: ["cars", "planes"],
  targetSize: [4, 4],
  interpolation: "nearest",
  rescale: 1 / 255,
};

function historyOf(epochs: number): History {
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

function record(kind: ModelKind, epochs: number): NotebookModelRecord {
  return {
    kind,
    model: tinyModel(),
    inputSpec: SPEC,
    history: historyOf(epochs),
    config: experimentConfig({ epochs, quick: epochs < 5 }),
    extra: kind === "transfer" ? { base: "mobilenet" } : undefined,
  };
}

Deno.test("saveNotebookModel writes the model, history.csv and history.json where reproduce does", async () => {
  await withTempDir(async (dir) => {
    const saved = await saveNotebookModel(dir, record("baseline", 3));
    assert.equal(saved.modelDir, join(dir, "models", "baseline"));
    assert.equal(saved.historyCsv, join(dir, "history.csv"));
    const { metadata } = await loadModel(saved.modelDir);
    assert.equal(metadata.kind, "baseline");
    assert.deepEqual(metadata.classNames, ["cars", "planes"]);
    assert.deepEqual(metadata.protocol, {
      epochs: 3,
      stepsPerEpoch: 2,
      batchSize: 32,
      quick: true,
    });
    const json = JSON.parse(await Deno.readTextFile(saved.historyJson));
    assert.equal(json.kind, "baseline");
    assert.equal(json.history.val_loss[1], null); // NaN as null
    const back = await loadHistoryFromOutputs(dir, "baseline");
    assert.deepEqual(back, historyOf(3));
    // another protocol's history is not reused, and says why
    const lines: string[] = [];
    const other = await loadHistoryFromOutputs(dir, "baseline", {
      config: experimentConfig({ quick: false }),
      log: (l) => lines.push(l),
    });
    assert.equal(other, null);
    assert.match(lines[0], /has 3 epochs and this run's protocol has 30/);
    assert.equal(await loadHistoryFromOutputs(dir, "transfer"), null);
    assert.deepEqual(historyFiles("transfer"), {
      csv: "transfer_history.csv",
      json: "transfer_history.json",
    });
  });
});

Deno.test("modelFromOutputsOrTrain trains and saves when nothing is saved, then loads", async () => {
  await withTempDir(async (dir) => {
    const lines: string[] = [];
    let trained = 0;
    const options = {
      outputsDir: dir,
      kinds: ["transfer", "baseline"] as const,
      config: experimentConfig({ epochs: 2, quick: true }),
      train: () => {
        trained++;
        return Promise.resolve(record("baseline", 2));
      },
      log: (l: string) => lines.push(l),
    };
    const first = await modelFromOutputsOrTrain(options);
    assert.equal(first.origin, "trained");
    assert.equal(first.kind, "baseline");
    assert.equal(trained, 1);
    assert.match(lines.join("\n"), /No usable saved model in .*transfer or .*baseline/);
    assert.match(first.description, /^Trained the baseline model \(2 epochs x 2 steps, quick/);
    const second = await modelFromOutputsOrTrain(options);
    assert.equal(second.origin, "loaded");
    assert.equal(trained, 1);
    assert.deepEqual(second.inputSpec, SPEC);
    assert.deepEqual(second.history, historyOf(2));
    assert.match(second.description, /^Loaded the baseline model \(2 epochs/);
    // a transfer model is preferred when present
    await saveNotebookModel(dir, record("transfer", 2));
    const third = await modelFromOutputsOrTrain(options);
    assert.equal(third.kind, "transfer");
    assert.match(third.description, /mobilenet base/);
    // a full run does not reuse quick models: it trains
    lines.length = 0;
    const full = await modelFromOutputsOrTrain({
      ...options,
      config: experimentConfig({}, () => undefined),
    });
    assert.equal(full.origin, "trained");
    assert.equal(trained, 2);
    assert.match(lines[0], /Not reusing the transfer model .* 2 epochs .* has 30/);
    // a broken model is skipped with a line saying why
    await Deno.writeTextFile(join(dir, "models", "transfer", "model.json"), "{ not json");
    lines.length = 0;
    const broken = await modelFromOutputsOrTrain(options);
    assert.equal(broken.kind, "baseline");
    assert.match(lines[0], /Cannot load the saved transfer model/);
    for (const m of [first, second, third, full, broken]) m.model.dispose();
  });
});

Deno.test("trainArticleBaseline trains the article's CNN on the article's layout", async () => {
  await withTempDir(async (dir) => {
    await makeArticleLayout(dir, {
      train: { cars: 4, planes: 4 },
      val: { cars: 2, planes: 2 },
      test: { cars: 1, planes: 1 },
    });
    const lines: string[] = [];
    const config = experimentConfig({
      epochs: 1,
      stepsPerEpoch: 1,
      batchSize: 4,
      targetSize: [32, 32],
      quick: true,
    });
    const result = await trainArticleBaseline({
      dataDir: dir,
      config,
      parallel: false,
      reporter: silentReporter(),
      log: (l) => lines.push(l),
    });
    assert.deepEqual(lines, [
      "Found 8 images belonging to 2 classes.",
      "Found 4 images belonging to 2 classes.",
    ]);
    assert.equal(result.kind, "baseline");
    assert.deepEqual(result.inputSpec.targetSize, [32, 32]);
    assert.equal(result.history.epoch.length, 1);
    assert.deepEqual(result.model.inputs[0].shape, [null, 32, 32, 3]);
    result.model.dispose();
  });
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

/** val_loss falls to its minimum in epoch 3, then rises; train keeps improving. */
function overfitHistory(): History {
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

Deno.test("historyFromOutputsOrTrain reuses a saved history of the same protocol, else trains", async () => {
  await withTempDir(async (dir) => {
    const lines: string[] = [];
    let trained = 0;
    const options = {
      outputsDir: dir,
      kind: "baseline" as const,
      config: experimentConfig({ epochs: 2, quick: true }),
      train: () => {
        trained++;
        return Promise.resolve(record("baseline", 2));
      },
      log: (l: string) => lines.push(l),
    };
    const first = await historyFromOutputsOrTrain(options);
    assert.equal(first.origin, "trained");
    assert.match(first.description, /^Trained the baseline \(2 epochs\) and saved it/);
    assert.ok(await Deno.stat(join(dir, "models", "baseline", "model.json")));
    const second = await historyFromOutputsOrTrain(options);
    assert.equal(second.origin, "loaded");
    assert.deepEqual(second.history, historyOf(2));
    assert.equal(trained, 1);
    const full = await historyFromOutputsOrTrain({
      ...options,
      config: experimentConfig({}, () => undefined),
    });
    assert.equal(full.origin, "trained");
    assert.ok(lines.some((l) => /Not reusing .*history\.csv: it has 2 epochs/.test(l)));
  });
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
