/** The run store: one shape on disk, saved things found by what they are. */
import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { experimentConfig } from "../lib/config.ts";
import { loadModel, saveModel } from "../lib/models/model_io.ts";
import { historyFiles, openRunStore, RUN_ENTRIES } from "../lib/runs/store.ts";
import { withTempDir } from "./fixtures.ts";
import { historyOf } from "./history_fixtures.ts";
import { record, SPEC, tinyModel } from "./store_fixtures.ts";

await tf.setBackend("cpu");
tf.env().set("PROD", true);

Deno.test("the run store writes the model, history.csv and history.json with the protocol", async () => {
  await withTempDir(async (dir) => {
    const store = openRunStore(dir);
    const saved = await store.saveModel(record("baseline", 3));
    assert.equal(saved.modelDir, join(dir, "models", "baseline"));
    assert.equal(saved.historyCsv, join(dir, "history.csv"));
    const { metadata } = await loadModel(saved.modelDir);
    assert.equal(metadata.kind, "baseline");
    assert.deepEqual(metadata.classNames, ["cars", "planes"]);
    assert.deepEqual(metadata.protocol, {
      epochs: 3,
      stepsPerEpoch: 2,
      batchSize: 32,
      targetSize: [64, 64],
      seed: 42,
      quick: true,
    });
    const json = JSON.parse(await Deno.readTextFile(saved.historyJson));
    assert.equal(json.kind, "baseline");
    assert.equal(json.history.val_loss[1], null); // NaN as null
    const config = experimentConfig({ epochs: 3, quick: true });
    assert.deepEqual(await store.findHistory("baseline", { config }), historyOf(3));
    // another protocol's history is not reused, and says why
    const lines: string[] = [];
    const other = await store.findHistory("baseline", {
      config: experimentConfig({ quick: false }),
      log: (l) => lines.push(l),
    });
    assert.equal(other, null);
    assert.match(
      lines[0],
      /it was trained with epochs 3, stepsPerEpoch 2, quick true and this run asks for epochs 30, stepsPerEpoch 30, quick false/,
    );
    assert.equal(await store.findHistory("transfer", { config }), null);
    assert.deepEqual(historyFiles("transfer"), {
      csv: "transfer_history.csv",
      json: "transfer_history.json",
    });
    for (const name of ["history.csv", "history.json", "models/baseline"]) {
      assert.ok(RUN_ENTRIES.includes(name), `${name} is a run entry`);
    }
  });
});

Deno.test("a saved model is found by what it is, not by how long its history is", async () => {
  await withTempDir(async (dir) => {
    const store = openRunStore(dir);
    await store.saveModel(record("baseline", 2));
    const lines: string[] = [];
    const log = (l: string) => lines.push(l);
    // Same number of epochs, other steps per epoch: another model.
    const otherSteps = experimentConfig({ epochs: 2, stepsPerEpoch: 3, quick: true });
    assert.equal(await store.findModel(["baseline"], { config: otherSteps, log }), null);
    assert.match(lines.join("\n"), /stepsPerEpoch 2 and this run asks for stepsPerEpoch 3/);
    // Same protocol: found, with its history.
    const same = await store.findModel(["baseline"], {
      config: experimentConfig({ epochs: 2, quick: true }),
    });
    assert.equal(same?.kind, "baseline");
    assert.deepEqual(same?.history, historyOf(2));
    same?.model.dispose();
    // A model without a protocol record (an older run) is not reused.
    const bare = tinyModel();
    await saveModel(bare, join(dir, "models", "transfer"), {
      metadata: { ...SPEC, kind: "transfer" },
    });
    bare.dispose();
    lines.length = 0;
    const found = await store.findModel(["transfer", "baseline"], {
      config: experimentConfig({ epochs: 2, quick: true }),
      log,
    });
    assert.equal(found?.kind, "baseline");
    assert.match(lines[0], /Not reusing the transfer model .*: it has no protocol record/);
    found?.model.dispose();
  });
});
