/**
 * End to end: `reproduce` on a small fixture dataset (always), and on the real car/plane photos
 * with the real MobileNet weights when ../shared is there; plus the failure paths that must never
 * leave a metrics.json that looks complete.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { experimentConfig } from "../lib/config.ts";
import { DatasetError } from "../lib/data/dataset.ts";
import { OutputError, readRunStatus } from "../lib/runs/outputs.ts";
import {
  reproduce,
  type ReproduceMetrics,
  type ReproduceOptions,
} from "../lib/experiment/reproduce.ts";
import { silentReporter } from "../lib/training/progress.ts";
import { makeArticleLayout, withTempDir } from "./fixtures.ts";

const SHARED = new URL("../../shared/", import.meta.url).pathname;
const sharedData = join(SHARED, "datasets/car-plane");
const sharedMobileNet = join(SHARED, "models/mobilenet_v1_0.25_224");
const haveShared = await Deno.stat(join(sharedData, "training_set")).then(() => true, () => false);

function options(
  dataDir: string,
  outDir: string,
  extra: Partial<ReproduceOptions> = {},
): ReproduceOptions {
  return {
    dataDir,
    fetchData: false,
    outDir,
    config: experimentConfig({ quick: true, epochs: 2, stepsPerEpoch: 2, batchSize: 8 }),
    backend: "auto",
    base: "none",
    baseExplicit: true,
    mode: "features",
    preprocessing: "rescale",
    parallel: false,
    strict: false,
    command: "test",
    log: () => {},
    reporter: silentReporter(),
    ...extra,
  };
}

const OUTPUTS = [
  "metrics.json",
  "run.json",
  "history.csv",
  "model_loss.vl.json",
  "model_loss.svg",
  "model_loss.png",
  "model_accuracy.vl.json",
  "model_accuracy.svg",
  "model_accuracy.png",
  "predictions.json",
  "test_predictions.png",
  "report.md",
  "models/baseline/model.json",
  "models/baseline/weights.bin",
];

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

Deno.test("a quick reproduce run on a fixture dataset writes every output, metrics.json last", async () => {
  await withTempDir(async (dir) => {
    const data = await makeArticleLayout(join(dir, "data"), {
      train: { cars: 8, planes: 8 },
      val: { cars: 3, planes: 3 },
      test: { cars: 2, planes: 2 },
    });
    const out = join(dir, "out");
    const lines: string[] = [];
    const metrics = await reproduce(options(data, out, { log: (l) => lines.push(l) }));
    for (const name of OUTPUTS) assert.ok(await exists(join(out, name)), `${name} written`);
    const saved: ReproduceMetrics = JSON.parse(await Deno.readTextFile(join(out, "metrics.json")));
    assert.deepEqual(saved.dataset.classNames, ["cars", "planes"]);
    assert.deepEqual([saved.dataset.train, saved.dataset.val, saved.dataset.test], [16, 6, 4]);
    assert.equal(saved.baseline.history.history.loss.length, 2);
    assert.equal(saved.baseline.params.total, 813217);
    assert.equal(saved.baseline.test.total, 4);
    assert.deepEqual(saved.transfer, { skipped: "--base none" });
    assert.equal(saved.baseline.finalValAccuracy, metrics.baseline.finalValAccuracy);
    assert.ok(lines.includes("Found 16 images belonging to 2 classes."));
    assert.ok(lines.some((l) => /^correctly predicted \d out of 4 images \(\d+%\)$/.test(l)));
    assert.equal((await readRunStatus(out)).record?.status, "complete");
    const csv = (await Deno.readTextFile(join(out, "history.csv"))).trim().split("\n");
    assert.equal(csv[0], "epoch,loss,accuracy,val_loss,val_accuracy");
    assert.equal(csv.length, 3);
    const report = await Deno.readTextFile(join(out, "report.md"));
    assert.match(report, /QUICK smoke run/);
    assert.match(report, /!\[Model Loss\]\(model_loss.png\)/);
  });
});

Deno.test("a missing dataset fails clearly and leaves no metrics.json, even over an old complete run", async () => {
  await withTempDir(async (dir) => {
    const out = join(dir, "out");
    await Deno.mkdir(out);
    await Deno.writeTextFile(join(out, "metrics.json"), '{"stale": true}');
    await assert.rejects(
      reproduce(options(join(dir, "nothing"), out)),
      (e: unknown) => e instanceof DatasetError && /deno task data --source DIR/.test(e.message),
    );
    assert.equal(await exists(join(out, "metrics.json")), false);
    const status = await readRunStatus(out);
    assert.equal(status.record?.status, "failed");
    assert.match(String(status.record?.error), /No dataset at/);
  });
});

Deno.test("train and validation sets with different classes are refused before training", async () => {
  await withTempDir(async (dir) => {
    const data = await makeArticleLayout(join(dir, "data"), {
      train: { cars: 2, planes: 2 },
      val: { cars: 1, ships: 1 },
      test: { cars: 1, planes: 1 },
    });
    const out = join(dir, "out");
    await assert.rejects(reproduce(options(data, out)), /(different classes|differ)/);
    assert.equal(await exists(join(out, "metrics.json")), false);
  });
});

Deno.test("an output folder that cannot be created is an OutputError naming it", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "a-file");
    await Deno.writeTextFile(file, "x");
    await assert.rejects(
      reproduce(options(join(dir, "data"), join(file, "out"))),
      (e: unknown) => e instanceof OutputError && e.message.includes(join(file, "out")),
    );
  });
});

Deno.test({
  name: "on the real car/plane photos, MobileNet transfer learning runs and predicts the test set",
  ignore: !haveShared,
  fn: async () => {
    console.log(`ran on ${sharedData} with ${sharedMobileNet}`);
    await withTempDir(async (dir) => {
      const out = join(dir, "out");
      const metrics = await reproduce(options(sharedData, out, {
        base: "mobilenet",
        weights: sharedMobileNet,
        parallel: true,
        config: experimentConfig({ quick: true, epochs: 3, stepsPerEpoch: 2 }),
      }));
      assert.ok(!("skipped" in metrics.transfer));
      const t = metrics.transfer as Exclude<ReproduceMetrics["transfer"], { skipped: string }>;
      assert.equal(t.baseParams.trainable, 0);
      assert.equal(metrics.dataset.test, 15);
      assert.equal(t.test.total, 15);
      // Features from a real ImageNet base separate cars from planes after 3 short epochs.
      assert.ok(t.bestValAccuracy >= 0.8, `transfer val accuracy ${t.bestValAccuracy}`);
      for (const name of ["models/transfer/model.json", "comparison.png", "transfer_loss.png"]) {
        assert.ok(await exists(join(out, name)), name);
      }
    });
  },
});
