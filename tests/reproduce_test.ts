/**
 * End to end: `reproduce` on a small fixture dataset, and the offline default on a fresh
 * machine (empty data folder, nothing downloadable: the embedded sample and the embedded
 * MobileNet, said so in metrics.json and report.md); plus the failure paths that must never
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
import { DownloadError } from "../lib/data/download.ts";
import { EMBEDDED_DATASET_DIR } from "../lib/data/sources.ts";
import { EMBEDDED_MOBILENET_DIR } from "../lib/models/bases.ts";
import { closedPortUrl } from "./data_fixtures.ts";
import { makeArticleLayout, withTempDir } from "./fixtures.ts";

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

Deno.test("offline on a fresh machine: the embedded sample and the embedded MobileNet, said so", async () => {
  await withTempDir(async (dir) => {
    const out = join(dir, "out");
    const data = join(dir, "data");
    const lines: string[] = [];
    const metrics = await reproduce(options(data, out, {
      fetchData: true,
      base: "vgg16",
      baseExplicit: false,
      parallel: true,
      cacheDir: join(dir, "cache"),
      config: experimentConfig({ quick: true, epochs: 3, stepsPerEpoch: 2 }),
      defaultSources: {
        articleUrls: [closedPortUrl("/master.tar.gz")],
        cifarUrl: closedPortUrl("/cifar-10-binary.tar.gz"),
        vgg16Weights: closedPortUrl("/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"),
      },
      log: (line) => lines.push(line),
    }));
    const log = lines.join("\n");
    // the data: each step says what it tried, and the sample is copied into the data folder
    assert.match(log, /trying the article's own images first/);
    assert.match(log, /falling back to CIFAR-10/);
    assert.match(log, /using the sample embedded in the repository/);
    assert.match(metrics.dataset.source ?? "", /^the sample embedded in the repository/);
    assert.ok(metrics.dataset.source!.includes(EMBEDDED_DATASET_DIR));
    assert.match(metrics.dataset.source!, /not available: the article's own images: .*; CIFAR-10:/);
    assert.deepEqual([metrics.dataset.train, metrics.dataset.val, metrics.dataset.test], [
      160,
      40,
      15,
    ]);
    // the base: the default VGG16 cannot be had, so the embedded MobileNet, not a skipped step
    assert.ok(!("skipped" in metrics.transfer));
    const t = metrics.transfer as Exclude<ReproduceMetrics["transfer"], { skipped: string }>;
    assert.equal(t.base, "mobilenet");
    assert.equal(t.weights, EMBEDDED_MOBILENET_DIR);
    assert.equal(t.choice?.requested, "default");
    assert.equal(t.choice?.used, "mobilenet");
    assert.match(t.choice?.fallbackReason ?? "", /Could not download/);
    assert.match(log, /VGG16's ImageNet weights cannot be had/);
    assert.equal(t.baseParams.trainable, 0);
    assert.equal(t.test.total, 15);
    // Features from a real ImageNet base separate cars from planes after 3 short epochs.
    assert.ok(t.bestValAccuracy >= 0.8, `transfer val accuracy ${t.bestValAccuracy}`);
    const saved = JSON.parse(await Deno.readTextFile(join(out, "metrics.json")));
    assert.equal(saved.transfer.choice.used, "mobilenet");
    assert.equal(saved.dataset.source, metrics.dataset.source);
    const report = await Deno.readTextFile(join(out, "report.md"));
    assert.match(report, /- Data source: the sample embedded in the repository/);
    assert.match(report, /- Transfer base: mobilenet \(the embedded MobileNet v1 0\.25/);
    assert.match(report, /\*\*mobilenet in place of the article's VGG16\*\*/);
    for (const name of ["models/transfer/model.json", "comparison.png", "transfer_loss.png"]) {
      assert.ok(await exists(join(out, name)), name);
    }
  });
});

Deno.test("a VGG16 asked for by name whose weights cannot be had fails, naming the file", async () => {
  await withTempDir(async (dir) => {
    const data = await makeArticleLayout(join(dir, "data"), {
      train: { cars: 4, planes: 4 },
      val: { cars: 2, planes: 2 },
      test: { cars: 1, planes: 1 },
    });
    const url = closedPortUrl("/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5");
    await assert.rejects(
      reproduce(options(data, join(dir, "out"), {
        base: "vgg16",
        baseExplicit: true,
        weights: url,
        cacheDir: join(dir, "cache"),
      })),
      (e: unknown) => e instanceof DownloadError && e.message.includes(url),
    );
    assert.equal(await exists(join(dir, "out", "metrics.json")), false);
  });
});
