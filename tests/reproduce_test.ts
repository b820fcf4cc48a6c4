/**
 * End to end: `reproduce` on a small fixture dataset (always), and on the real car/plane photos
 * with the real MobileNet weights when ../shared is there; plus the failure paths that must never
 * leave a metrics.json that looks complete.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { experimentConfig } from "../lib/config.ts";
import { DatasetError } from "../lib/data/dataset.ts";
import { OutputError } from "../lib/runs/outputs.ts";
import { beginRun, readRunStatus } from "../lib/runs/staging.ts";
import { RunLockedError } from "../lib/runs/lock.ts";
import {
  reproduce,
  type ReproduceMetrics,
  type ReproduceOptions,
} from "../lib/experiment/reproduce.ts";
import { DownloadError } from "../lib/data/download.ts";
import { EMBEDDED_DATASET_DIR } from "../lib/data/sources.ts";
import { EMBEDDED_MOBILENET_DIR } from "../lib/models/bases.ts";
import { closedPortUrl } from "./data_fixtures.ts";
import { makeArticleLayout, withTempDir } from "./fixtures.ts";
import { reproduceOptions } from "./reproduce_fixtures.ts";

function options(
  dataDir: string,
  outDir: string,
  extra: Partial<ReproduceOptions> = {},
): ReproduceOptions {
  return reproduceOptions(dataDir, outDir, {}, extra);
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
  "baseline_gradcam.png",
  "report.md",
  "history.json",
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
    assert.match(
      await Deno.readTextFile(join(out, "report.md")),
      /!\[Grad-CAM, baseline\]\(baseline_gradcam\.png\)/,
    );
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
    const predictions = JSON.parse(await Deno.readTextFile(join(out, "predictions.json")));
    for (const row of predictions.baseline) {
      assert.equal(row.path, join(data, "test", row.file), "each row carries its file's path");
    }
    const beside: string[] = [];
    for await (const e of Deno.readDir(dir)) beside.push(e.name);
    assert.deepEqual(beside.sort(), ["data", "out"], "no staging folder left beside --out");
  });
});

/** The files of a folder (recursively) with their SHA-256, to compare before and after. */
async function snapshot(dir: string, prefix = ""): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for await (const e of Deno.readDir(join(dir, prefix))) {
    const name = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory) Object.assign(files, await snapshot(dir, name));
    else {
      const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(join(dir, name)));
      files[name] = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0"))
        .join("");
    }
  }
  return files;
}

async function fixtureData(dir: string): Promise<string> {
  return await makeArticleLayout(join(dir, "data"), {
    train: { cars: 4, planes: 4 },
    val: { cars: 2, planes: 2 },
    test: { cars: 1, planes: 1 },
  });
}

Deno.test("a missing dataset fails clearly and leaves the previous complete run whole", async () => {
  await withTempDir(async (dir) => {
    const out = join(dir, "out");
    await reproduce(options(await fixtureData(dir), out));
    const before = await snapshot(out);
    await assert.rejects(
      reproduce(options(join(dir, "nothing"), out)),
      (e: unknown) => e instanceof DatasetError && /deno task data --source DIR/.test(e.message),
    );
    const after = await snapshot(out);
    const attempt = JSON.parse(await Deno.readTextFile(join(out, "last_attempt.json")));
    delete after["last_attempt.json"];
    assert.deepEqual(after, before, "every file of the previous run unchanged");
    assert.equal(attempt.status, "failed");
    assert.match(attempt.error, /No dataset at/);
    const status = await readRunStatus(out);
    assert.equal(status.complete, true);
    assert.equal(status.lastAttempt?.status, "failed");
  });
});

Deno.test("a run that fails after the baseline (bad weights) leaves the previous run whole, not mixed", async () => {
  await withTempDir(async (dir) => {
    const data = await fixtureData(dir);
    const out = join(dir, "out");
    await reproduce(options(data, out));
    const before = await snapshot(out);
    const lines: string[] = [];
    const bad = options(data, out, { log: (l) => lines.push(l) });
    bad.config = {
      ...bad.config,
      seed: 7,
      transfer: {
        base: "mobilenet",
        weights: join(dir, "no-such-weights"),
        mode: "features",
        preprocessing: "rescale",
      },
    };
    await assert.rejects(reproduce(bad));
    assert.ok(lines.some((l) => l.includes("## Transfer learning")), "failed after the baseline");
    const after = await snapshot(out);
    delete after["last_attempt.json"];
    assert.deepEqual(after, before, "the new baseline did not replace the old one");
    assert.equal((await readRunStatus(out)).lastAttempt?.status, "failed");
  });
});

Deno.test("an output folder inside the dataset folder, or holding it, is refused before anything is written", async () => {
  await withTempDir(async (dir) => {
    const data = await fixtureData(dir);
    const inside = join(data, "training_set", "cars");
    const before = await snapshot(data);
    await assert.rejects(
      reproduce(options(data, inside)),
      (e: unknown) =>
        e instanceof OutputError &&
        e.message.includes(`output folder ${inside} is inside the dataset`),
    );
    await assert.rejects(
      reproduce(options(data, dir)),
      (e: unknown) =>
        e instanceof OutputError &&
        e.message.includes(`dataset folder ${data} is inside the output`),
    );
    await assert.rejects(reproduce(options(data, data)), OutputError);
    assert.deepEqual(await snapshot(data), before);
  });
});

Deno.test("a second run into an output folder in use is refused with the holder's pid", async () => {
  await withTempDir(async (dir) => {
    const data = await fixtureData(dir);
    const out = join(dir, "out");
    const first = await beginRun(out, { info: { command: "deno task reproduce --out out" } });
    try {
      await assert.rejects(
        reproduce(options(data, out)),
        (e: unknown) =>
          e instanceof RunLockedError && e.message.includes(`pid ${Deno.pid}`) &&
          e.message.includes("Wait for it to finish or choose another --out"),
      );
    } finally {
      await first.abandon(new Error("test over"), "failed");
    }
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
      config: experimentConfig({
        quick: true,
        epochs: 3,
        stepsPerEpoch: 2,
        threads: 2,
        cacheDir: join(dir, "cache"),
        transfer: { mode: "features", preprocessing: "rescale" },
      }),
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
    for (
      const name of [
        "models/transfer/model.json",
        "comparison.png",
        "transfer_loss.png",
        "transfer_gradcam.png",
      ]
    ) {
      assert.ok(await exists(join(out, name)), name);
    }
  });
});

Deno.test("a VGG16 asked for by name whose weights cannot be had fails, naming the file", async () => {
  await withTempDir(async (dir) => {
    const data = await fixtureData(dir);
    const url = closedPortUrl("/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5");
    const asked = options(data, join(dir, "out"));
    asked.config = {
      ...asked.config,
      cacheDir: join(dir, "cache"),
      transfer: { base: "vgg16", weights: url, mode: "features", preprocessing: "rescale" },
    };
    await assert.rejects(
      reproduce(asked),
      (e: unknown) => e instanceof DownloadError && e.unavailable && e.message.includes(url),
    );
    assert.equal(await exists(join(dir, "out", "metrics.json")), false);
  });
});
