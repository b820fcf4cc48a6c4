import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { experimentConfig } from "../lib/config.ts";
import { silentReporter } from "../lib/training/progress.ts";
import {
  historyFromOutputsOrTrain,
  modelFromOutputsOrTrain,
  trainArticleBaseline,
} from "../lib/runs/saved_runs.ts";
import { openRunStore } from "../lib/runs/store.ts";
import { makeArticleLayout, withTempDir } from "./fixtures.ts";
import { historyOf } from "./history_fixtures.ts";
import { record, SPEC } from "./store_fixtures.ts";

await tf.setBackend("cpu");
tf.env().set("PROD", true);

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
    await openRunStore(dir).saveModel(record("transfer", 2));
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
    assert.match(lines[0], /Not reusing the transfer model .* epochs 2, .* asks for epochs 30/);
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
      threads: 1,
    });
    const result = await trainArticleBaseline({
      dataDir: dir,
      config,
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
    assert.ok(
      lines.some((l) => /Not reusing .*history\.json: it was trained with epochs 2/.test(l)),
    );
  });
});
