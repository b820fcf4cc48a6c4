import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { initBackend } from "../lib/training/runtime.ts";
import { experimentConfig } from "../lib/config.ts";
import { createArticleFlows, extractTransferFeatures } from "../lib/training/experiment.ts";
import { collectImages } from "../lib/models/predict.ts";
import type { PretrainedBase } from "../lib/models/base.ts";
import { FrozenModel } from "../lib/models/custom_layers.ts";
import { silentReporter } from "../lib/training/progress.ts";
import { type SeedContext, trainDataSizePoint, trainSeed } from "../lib/experiment/seed_runs.ts";
import { summarizeSeeds } from "../lib/report/seeds.ts";
import { makeArticleLayout, withTempDir } from "./fixtures.ts";

await initBackend("wasm", { log: null, skipProbe: true });

function tinyMobileNet(): PretrainedBase {
  const input = tf.input({ shape: [16, 16, 3] });
  let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, name: "conv1" }).apply(
    input,
  ) as tf.SymbolicTensor;
  x = tf.layers.depthwiseConv2d({ kernelSize: 3, padding: "same", name: "conv_dw_1" })
    .apply(x) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ filters: 4, kernelSize: 1, name: "conv_pw_1" }).apply(
    x,
  ) as tf.SymbolicTensor;
  return {
    name: "mobilenet",
    inputShape: [16, 16, 3],
    preprocessor: [],
    preprocessing: "none",
    model: new FrozenModel({ inputs: input, outputs: x, name: "mobilenet_base" }),
    weightsSource: "random",
  };
}

const config = experimentConfig({
  quick: true,
  epochs: 2,
  stepsPerEpoch: 2,
  batchSize: 4,
  targetSize: [16, 16],
});

async function context(dir: string, fineTune: boolean): Promise<SeedContext> {
  const data = await makeArticleLayout(join(dir, "data"), {
    train: { cars: 6, planes: 6 },
    val: { cars: 2, planes: 2 },
    test: { cars: 2, planes: 1 },
  });
  const flows = await createArticleFlows(data, config, { log: () => {} });
  const base = tinyMobileNet();
  return {
    dataDir: data,
    config: { ...config, fineTune: fineTune ? { epochs: 1, learningRate: 1e-3 } : null },
    base,
    features: await extractTransferFeatures(base, flows, config, { log: () => {} }),
    testList: await collectImages([join(data, "test")], flows.inputSpec.classNames),
    log: () => {},
    reporter: silentReporter(),
  };
}

Deno.test("trainSeed trains the three models of a seed and leaves the base as it was", async () => {
  await withTempDir(async (dir) => {
    const ctx = await context(dir, true);
    const before = ctx.base!.model.getWeights().map((w) => Array.from(w.dataSync()));
    const a = await trainSeed(ctx, 1);
    const b = await trainSeed(ctx, 2);
    assert.deepEqual(Object.keys(a.models), ["baseline", "transfer", "fine-tuned"]);
    assert.equal(a.models.baseline.history.epoch.length, 2);
    assert.equal(a.models["fine-tuned"].history.epoch.length, 1);
    assert.deepEqual(
      [a.models.baseline.test!.total, a.models.transfer.test!.total],
      [3, 3],
    );
    assert.notDeepEqual(
      a.models.baseline.history.history.loss,
      b.models.baseline.history.history.loss,
      "another seed, another run",
    );
    assert.deepEqual(
      ctx.base!.model.getWeights().map((w) => Array.from(w.dataSync())),
      before,
      "fine-tuning restored the pretrained block",
    );
    assert.equal(ctx.base!.model.trainableWeights.length, 0);
    const again = await trainSeed(ctx, 1);
    assert.deepEqual(
      again.models.transfer.history.history.val_loss,
      a.models.transfer.history.history.val_loss,
      "the same seed gives the same transfer run",
    );
    const s = summarizeSeeds([a, b]);
    assert.equal(s.claims.find((c) => c.id === "fine-tuning-helps")?.of, 2);
  });
});

Deno.test("trainDataSizePoint trains on a per-class subset and cleans it up", async () => {
  await withTempDir(async (dir) => {
    const ctx = await context(dir, false);
    const scratch = join(dir, "scratch");
    const points = await trainDataSizePoint(ctx, 3, 5, scratch);
    assert.deepEqual(points.map((p) => [p.model, p.perClass, p.seed]), [
      ["baseline", 3, 5],
      ["transfer", 3, 5],
    ]);
    assert.ok(points.every((p) => p.valAccuracy >= 0 && p.valAccuracy <= 1));
    assert.deepEqual([...Deno.readDirSync(scratch)], [], "the subset folder is removed");
    await assert.rejects(() => trainDataSizePoint(ctx, 7, 5, scratch), /has only 6 training/);
  });
});
