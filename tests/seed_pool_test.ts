/**
 * Seeds trained side by side in Worker lanes give exactly the runs the same seeds give one after
 * another in this thread; an abort stops the lanes and keeps the seeds finished; a failing seed
 * is named.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { initBackend } from "../lib/training/runtime.ts";
import { experimentConfig } from "../lib/config.ts";
import { createArticleFlows, extractTransferFeatures } from "../lib/training/experiment.ts";
import { collectImages } from "../lib/models/predict.ts";
import { createBase, EMBEDDED_MOBILENET_DIR } from "../lib/models/bases.ts";
import { silentReporter } from "../lib/training/progress.ts";
import type { SeedContext } from "../lib/experiment/seed_runs.ts";
import {
  SeedLaneError,
  seedLanes,
  trainDataSizePoints,
  trainSeeds,
} from "../lib/experiment/seed_pool.ts";
import { makeArticleLayout, withTempDir } from "./fixtures.ts";

await initBackend("wasm", { log: null, skipProbe: true });

const config = {
  ...experimentConfig({
    quick: true,
    epochs: 2,
    stepsPerEpoch: 2,
    batchSize: 4,
    targetSize: [32, 32],
    threads: 1,
  }),
  fineTune: { epochs: 1, learningRate: 1e-4 },
};

async function context(dir: string, lines: string[] = []): Promise<SeedContext> {
  const data = await makeArticleLayout(join(dir, "data"), {
    train: { cars: 6, planes: 6 },
    val: { cars: 2, planes: 2 },
    test: { cars: 2, planes: 1 },
  });
  const flows = await createArticleFlows(data, config, { log: () => {} });
  const base = await createBase({
    base: "mobilenet",
    weights: EMBEDDED_MOBILENET_DIR,
    inputShape: [32, 32, 3],
  });
  return {
    dataDir: data,
    config,
    base,
    features: await extractTransferFeatures(base, flows, config, { log: () => {} }),
    testList: await collectImages([join(data, "test")], flows.inputSpec.classNames),
    log: (line) => lines.push(line),
    reporter: silentReporter(),
  };
}

Deno.test("seedLanes: one lane per thread on wasm and cpu, one on node or for a foreign base", () => {
  assert.equal(seedLanes(2, "wasm", 4), 2);
  assert.equal(seedLanes(2, "cpu", 4), 2);
  assert.equal(seedLanes(2, "wasm", 1), 1);
  assert.equal(seedLanes(1, "wasm", 4), 1);
  assert.equal(seedLanes(2, "node", 4), 1);
  assert.equal(seedLanes(2, "wasm", 4, { name: "tiny" }), 1);
  assert.equal(seedLanes(2, "wasm", 4, { name: "mobilenet" }), 2);
});

Deno.test("two lanes give exactly the runs of the same seeds trained one after another here", async () => {
  await withTempDir(async (dir) => {
    const lines: string[] = [];
    const ctx = await context(dir, lines);
    const here = await trainSeeds(ctx, [3, 4, 5], { lanes: 1, backend: "wasm" });
    const lanes = await trainSeeds(ctx, [3, 4, 5], { lanes: 2, backend: "wasm" });
    assert.deepEqual(lanes.map((r) => r.seed), [3, 4, 5]);
    assert.deepEqual(Object.keys(lanes[0].models), ["baseline", "transfer", "fine-tuned"]);
    assert.deepEqual(lanes, here);
    assert.ok(
      lines.some((l) =>
        /^Seed 4, baseline CNN: Epoch 2\/2 - \d+s - loss: \d\.\d{4} - accuracy/.test(l)
      ),
    );
    assert.ok(lines.some((l) => /^Seed 5, fine-tuning: Epoch 1\/1 - /.test(l)));
    assert.ok(lines.includes("Seed 5: fine-tuning"));
  });
});

Deno.test("data-size points in two lanes equal those trained here, in order; the subsets go", async () => {
  await withTempDir(async (dir) => {
    const ctx = await context(dir);
    const scratch = join(dir, "scratch");
    const here = await trainDataSizePoints(ctx, [3, 5], [1, 2], scratch, {
      lanes: 1,
      backend: "wasm",
    });
    const lanes = await trainDataSizePoints(ctx, [3, 5], [1, 2], scratch, {
      lanes: 2,
      backend: "wasm",
    });
    assert.deepEqual(lanes.map((p) => [p.model, p.perClass, p.seed]), [
      ["baseline", 3, 1],
      ["transfer", 3, 1],
      ["baseline", 3, 2],
      ["transfer", 3, 2],
      ["baseline", 5, 1],
      ["transfer", 5, 1],
      ["baseline", 5, 2],
      ["transfer", 5, 2],
    ]);
    assert.deepEqual(lanes, here);
    assert.deepEqual([...Deno.readDirSync(scratch)], [], "every subset folder is removed");
  });
});

Deno.test("an abort stops the lanes at once and returns only the seeds finished", async () => {
  await withTempDir(async (dir) => {
    const controller = new AbortController();
    const lines: string[] = [];
    const ctx = { ...(await context(dir, lines)), signal: controller.signal };
    ctx.log = (line) => {
      lines.push(line);
      if (line === "Seed 6: baseline CNN") controller.abort(new Error("stop"));
    };
    const runs = await trainSeeds(ctx, [3, 4, 5, 6, 7, 8], { lanes: 2, backend: "wasm" });
    assert.ok(runs.length < 6, `${runs.length} runs`);
    assert.ok(
      runs.every((r) => [3, 4, 5].includes(r.seed)),
      JSON.stringify(runs.map((r) => r.seed)),
    );
    assert.ok(!lines.includes("Seed 8: baseline CNN"), "no seed starts after the abort");
  });
});

Deno.test("a seed that fails in its lane is named, with the reason", async () => {
  await withTempDir(async (dir) => {
    const ctx = await context(dir);
    await assert.rejects(
      () =>
        trainSeeds({ ...ctx, dataDir: join(dir, "missing") }, [3, 4], {
          lanes: 2,
          backend: "wasm",
        }),
      (e: unknown) =>
        e instanceof SeedLaneError && /^Seed [34] failed in its Worker: .*missing/.test(e.message),
    );
  });
});
