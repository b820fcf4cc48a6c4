/**
 * `reproduce` beyond the article, end to end: repeated seeds and the data-size experiment (on a
 * fixture dataset), an interrupt between seeds, and fine-tuning MobileNet's top block (on the
 * embedded car/plane photos and MobileNet weights).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ConfigError } from "../lib/config.ts";
import { reproduce, type ReproduceMetrics } from "../lib/experiment/reproduce.ts";
import { RunInterruptedError } from "../lib/runs/staging.ts";
import { EMBEDDED_DATASET_DIR } from "../lib/data/sources.ts";
import { EMBEDDED_MOBILENET_DIR } from "../lib/models/bases.ts";
import { makeArticleLayout, withTempDir } from "./fixtures.ts";
import { reproduceOptions } from "./reproduce_fixtures.ts";

const options = reproduceOptions;

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

function fixture(dir: string) {
  return makeArticleLayout(join(dir, "data"), {
    train: { cars: 8, planes: 8 },
    val: { cars: 3, planes: 3 },
    test: { cars: 2, planes: 2 },
  });
}

Deno.test("--seeds and --train-per-class: every seed's history, the claims, the data-size points", async () => {
  await withTempDir(async (dir) => {
    const data = await fixture(dir);
    const out = join(dir, "out");
    const single = await reproduce(options(data, join(dir, "single")));
    const m = await reproduce(options(data, out, { seeds: [42, 7], trainPerClass: [3, 5] }));
    // The first seed is the single run, unchanged.
    assert.deepEqual(m.baseline.history, single.baseline.history);
    assert.equal(single.seeds, undefined);
    const saved: ReproduceMetrics = JSON.parse(await Deno.readTextFile(join(out, "metrics.json")));
    assert.deepEqual(saved.seeds!.seeds, [42, 7]);
    assert.equal(saved.seeds!.runs.length, 2);
    assert.deepEqual(saved.seeds!.runs[0].models.baseline.history, single.baseline.history);
    assert.equal(saved.seeds!.runs[1].models.baseline.history.epoch.length, 2);
    assert.notDeepEqual(
      saved.seeds!.runs[1].models.baseline.history.history.loss,
      saved.seeds!.runs[0].models.baseline.history.history.loss,
    );
    assert.equal(saved.seeds!.runs[1].models.baseline.test!.total, 4);
    assert.ok(saved.seeds!.claims.some((c) => c.id === "baseline-overfits"));
    assert.deepEqual(
      saved.dataSize!.points.map((p) => [p.perClass, p.seed]),
      [[3, 42], [3, 7], [5, 42], [5, 7]],
    );
    assert.equal(saved.dataSize!.fullPerClass, 8);
    for (const f of ["seeds_bands.png", "seeds_bands.vl.json", "data_size.png"]) {
      assert.ok(await exists(join(out, f)), `${f} written`);
    }
    assert.ok(!(await exists(join(out, ".subsets"))), "the subsets are removed");
    const report = await Deno.readTextFile(join(out, "report.md"));
    assert.match(report, /## Over 2 seeds \(42, 7\)/);
    assert.match(
      report,
      /val_loss rises after its minimum \(overfitting\) in \d of 2 baseline runs/,
    );
    assert.match(report, /## Accuracy against training-set size/);
    assert.match(report, /!\[Validation loss and accuracy over seeds\]\(seeds_bands\.png\)/);
    const singleReport = await Deno.readTextFile(join(dir, "single", "report.md"));
    assert.doesNotMatch(singleReport, /seeds|fine-tuned|training-set size/);
  });
});

Deno.test("an interrupt during the second seed keeps the previous run whole", async () => {
  await withTempDir(async (dir) => {
    const data = await fixture(dir);
    const out = join(dir, "out");
    await reproduce(options(data, out));
    const before = await Deno.readTextFile(join(out, "metrics.json"));
    const controller = new AbortController();
    const log = (line: string) => {
      if (line.includes("## Seeds 7")) controller.abort(new RunInterruptedError("SIGINT"));
    };
    await assert.rejects(
      () => reproduce(options(data, out, { seeds: [42, 7] }, { signal: controller.signal, log })),
      RunInterruptedError,
    );
    assert.equal(await Deno.readTextFile(join(out, "metrics.json")), before);
    const attempt = JSON.parse(await Deno.readTextFile(join(out, "last_attempt.json")));
    assert.equal(attempt.status, "interrupted");
    const entries = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(entries, ["data", "out"], "no staging folder left behind");
  });
});

Deno.test("--fine-tune on the embedded photos with MobileNet (2 threads): a third model saved, predicted, reported", async () => {
  await withTempDir(async (dir) => {
    const out = join(dir, "out");
    const lines: string[] = [];
    const m = await reproduce(options(EMBEDDED_DATASET_DIR, out, {
      transfer: {
        base: "mobilenet",
        weights: EMBEDDED_MOBILENET_DIR,
        mode: "features",
        preprocessing: "rescale",
      },
      threads: 2,
      fineTune: { epochs: 1, learningRate: 1e-5 },
    }, { log: (l) => lines.push(l) }));
    assert.deepEqual(m.fineTuned!.unfrozen, ["conv_dw_13", "conv_pw_13"]);
    assert.equal(m.fineTuned!.history.epoch.length, 1);
    assert.equal(m.fineTuned!.test.total, 15);
    assert.equal(m.fineTuned!.learningRate, 1e-5);
    assert.ok(lines.some((l) => l.startsWith("Fine-tuning conv_dw_13, conv_pw_13 of mobilenet")));
    for (
      const f of [
        "models/fine_tuned/model.json",
        "fine_tuned_history.csv",
        "fine_tuned_history.json",
        "fine_tuned_loss.png",
        "fine_tuned_accuracy.png",
        "fine_tuned_gradcam.png",
      ]
    ) assert.ok(await exists(join(out, f)), `${f} written`);
    const meta = JSON.parse(await Deno.readTextFile(join(out, "models/fine_tuned/model.json")));
    assert.equal(meta.userDefinedMetadata?.kind ?? meta.kind ?? "fine_tuned", "fine_tuned");
    const predictions = JSON.parse(await Deno.readTextFile(join(out, "predictions.json")));
    assert.equal(predictions.fineTuned.length, 15);
    assert.equal(m.seeds, undefined, "one seed: no over-seeds section");
    const report = await Deno.readTextFile(join(out, "report.md"));
    assert.match(report, /\| this run: fine-tuned \|/);
    assert.match(report, /## Fine-tuning: the top block of the mobilenet base/);
    assert.match(report, /fine_tuned_gradcam\.png/);
  });
});

Deno.test("--train-per-class above the smallest class is refused before any training", async () => {
  await withTempDir(async (dir) => {
    const data = await fixture(dir);
    const lines: string[] = [];
    await assert.rejects(
      () =>
        reproduce(
          options(data, join(dir, "out"), { trainPerClass: [4, 9] }, {
            log: (l) => lines.push(l),
          }),
        ),
      (e: unknown) =>
        e instanceof ConfigError && e.setting === "--train-per-class" &&
        /asks for 9 training images per class, but the smallest class .* has 8: ask for at most 8\./
          .test(e.message),
    );
    assert.ok(!lines.some((l) => l.includes("## Baseline CNN")), "nothing trained");
  });
});
