/**
 * The project's own paths on tfjs-node (run when `deno task setup-native` has installed the
 * addon; CI does): gradients and Adam steps against the pure-JavaScript cpu backend, the faster
 * Step kernel, a quick reproduce, and models saved on node loading and predicting on wasm and
 * back.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { nativeAddonPlace, oneDnnMaxPoolGrad } from "../lib/training/native.ts";
import { initBackend } from "../lib/training/runtime.ts";
import { createBaselineModel } from "../lib/models/baseline.ts";
import { loadModel, saveModel } from "../lib/models/model_io.ts";
import { experimentConfig } from "../lib/config.ts";
import { reproduce } from "../lib/experiment/reproduce.ts";
import { silentReporter } from "../lib/training/progress.ts";
import { makeArticleLayout, withTempDir } from "./fixtures.ts";

const haveAddon = await Deno.stat(nativeAddonPlace().addonPath).then(() => true, () => false);
const ignore = !haveAddon; // without the addon there is no node backend to test (native_test.ts covers that path)
if (ignore) {
  console.log(
    `native_backend_test: ignored, no tfjs-node addon at ${nativeAddonPlace().addonPath} ` +
      "(`deno task setup-native` builds it)",
  );
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

function batch(n: number, size: number, seed: number): { xs: tf.Tensor4D; ys: tf.Tensor2D } {
  return tf.tidy(() => ({
    xs: tf.randomUniform([n, size, size, 3], 0, 1, "float32", seed) as tf.Tensor4D,
    ys: tf.tensor2d(Array.from({ length: n }, (_, i) => i % 2), [n, 1]),
  }));
}

/** Loss gradients of the baseline CNN (seeded weights) on `backend`, flattened per variable. */
async function baselineGradients(backend: "node" | "cpu"): Promise<Float32Array[]> {
  await initBackend(backend, { log: null, skipProbe: true });
  // 16x16 keeps the pure-JavaScript cpu backend's side of the comparison to about a second.
  const model = createBaselineModel({ seed: 3, inputShape: [16, 16, 3], compile: false });
  const { xs, ys } = batch(4, 16, 7);
  try {
    const { grads } = tf.variableGrads(() =>
      tf.losses.logLoss(ys, model.predict(xs) as tf.Tensor2D).asScalar()
    );
    const names = Object.keys(grads).sort();
    const out = names.map((n) => grads[n].dataSync() as Float32Array);
    tf.dispose(grads);
    return out;
  } finally {
    tf.dispose([xs, ys]);
    model.dispose();
  }
}

Deno.test({
  name: "node: the baseline's gradients match the cpu backend's",
  ignore,
  fn: async () => {
    const node = await baselineGradients("node");
    const cpu = await baselineGradients("cpu");
    assert.equal(node.length, cpu.length);
    assert.ok(node.length >= 8, `${node.length} gradients`);
    node.forEach((g, i) => {
      const scale = Math.max(1e-3, maxAbsDiff(cpu[i], new Float32Array(cpu[i].length)));
      assert.ok(maxAbsDiff(g, cpu[i]) / scale < 1e-4, `gradient ${i} differs`);
    });
    assert.ok(node.some((g) => g.some((v) => v !== 0)), "gradients are not all zero");
  },
});

/** The baseline's weights after `steps` Adam steps (trainOnBatch) on `backend`. */
async function afterAdam(backend: "node" | "cpu", steps: number): Promise<Float32Array[]> {
  await initBackend(backend, { log: null, skipProbe: true });
  const model = createBaselineModel({ seed: 5, inputShape: [16, 16, 3] });
  const { xs, ys } = batch(4, 16, 11);
  try {
    for (let s = 0; s < steps; s++) await model.trainOnBatch(xs, ys);
    return model.getWeights().map((w) => w.dataSync() as Float32Array);
  } finally {
    tf.dispose([xs, ys]);
    model.dispose();
  }
}

Deno.test({
  name: "node: five Adam steps follow the cpu backend's",
  ignore,
  fn: async () => {
    const node = await afterAdam("node", 5);
    const cpu = await afterAdam("cpu", 5);
    const start = await afterAdam("node", 0);
    node.forEach((w, i) => assert.ok(maxAbsDiff(w, cpu[i]) < 1e-5, `weight ${i} differs`));
    assert.ok(maxAbsDiff(node[0], start[0]) > 1e-4, "the steps moved the weights");
  },
});

Deno.test({
  name: "node: the Step kernel (ReLU's gradient) gives cpu's 0, 1, alpha and NaN",
  ignore,
  fn: async () => {
    const x = [-2, -0, 0, 1e-30, 3, Number.NaN, Number.POSITIVE_INFINITY, -Infinity];
    const results: Record<string, Float32Array[]> = {};
    for (const backend of ["node", "cpu"] as const) {
      await initBackend(backend, { log: null, skipProbe: true });
      results[backend] = [0, 0.2].map((alpha) =>
        tf.tidy(() => tf.step(tf.tensor1d(x), alpha).dataSync() as Float32Array)
      );
    }
    for (let a = 0; a < 2; a++) {
      assert.deepEqual(Array.from(results.node[a]), Array.from(results.cpu[a]), `alpha #${a}`);
    }
    assert.deepEqual(Array.from(results.node[0]).slice(0, 5), [0, 0, 0, 1, 1]);
  },
});

Deno.test({
  name: "node: max-pooling gradients match cpu's (ties, same padding, strides 1 and 2)",
  ignore,
  fn: async () => {
    const cases: Array<[number[], number, number, "valid" | "same"]> = [
      [[2, 7, 9, 3], 2, 2, "valid"],
      [[2, 7, 9, 3], 3, 2, "same"],
      [[1, 6, 6, 2], 3, 1, "same"],
      [[4, 30, 30, 8], 2, 2, "valid"],
    ];
    const results: Record<string, Float32Array[]> = {};
    for (const backend of ["node", "cpu"] as const) {
      await initBackend(backend, { log: null, skipProbe: true });
      results[backend] = cases.map(([shape, k, s, pad], i) =>
        tf.tidy(() => {
          // Rounded to -1, 0, 1: most windows hold ties, where the first maximum must win.
          const x = tf.randomUniform(shape, -1, 1, "float32", i).round();
          const weights = tf.randomUniform(
            tf.maxPool(x as tf.Tensor4D, k, s, pad).shape,
            0,
            1,
            "float32",
            100 + i,
          );
          const f = (v: tf.Tensor) => tf.maxPool(v as tf.Tensor4D, k, s, pad).mul(weights).sum();
          return tf.grad(f)(x).dataSync() as Float32Array;
        })
      );
    }
    cases.forEach((c, i) => {
      assert.ok(maxAbsDiff(results.node[i], results.cpu[i]) < 1e-5, `case ${JSON.stringify(c)}`);
    });
    console.log(`max-pooling gradients on oneDNN: ${oneDnnMaxPoolGrad()}`);
  },
});

Deno.test({
  name: "node: sums of 4-D tensors (bias gradients and others) match cpu's",
  ignore,
  fn: async () => {
    const cases: Array<[number | number[], boolean]> = [
      [[0, 1, 2], false],
      [[-4, -3, -2], false],
      [[2, 0, 1], false],
      [[0, 1, 2], true],
      [[1, 2], false],
      [3, false],
    ];
    const results: Record<string, Float32Array[]> = {};
    for (const backend of ["node", "cpu"] as const) {
      await initBackend(backend, { log: null, skipProbe: true });
      results[backend] = cases.map(([axis, keepDims]) =>
        tf.tidy(() => {
          const x = tf.randomUniform([3, 9, 7, 5], -1, 1, "float32", 21);
          return tf.sum(x, axis, keepDims).dataSync() as Float32Array;
        })
      );
      const ints = tf.tidy(() =>
        tf.sum(tf.tensor4d([1, 2, 3, 4], [1, 2, 1, 2], "int32"), [0, 1, 2])
      );
      assert.deepEqual(Array.from(ints.dataSync()), [4, 6], `${backend}: int32 sums`);
      ints.dispose();
    }
    cases.forEach((c, i) => {
      assert.equal(results.node[i].length, results.cpu[i].length, JSON.stringify(c));
      assert.ok(maxAbsDiff(results.node[i], results.cpu[i]) < 1e-5, JSON.stringify(c));
    });
  },
});

Deno.test({
  name: "node: a model saved on node loads and predicts the same on wasm, and back",
  ignore,
  fn: async () => {
    await withTempDir(async (dir) => {
      const { xs } = batch(3, 32, 13);
      const input = { data: xs.dataSync().slice(), shape: xs.shape };
      xs.dispose();
      const predictOn = async (backend: "node" | "wasm", modelDir: string) => {
        await initBackend(backend, { log: null, skipProbe: true });
        const { model } = await loadModel(modelDir);
        const out = tf.tidy(() =>
          (model.predict(tf.tensor4d(input.data, input.shape)) as tf.Tensor).dataSync().slice()
        );
        return { model, out };
      };
      await initBackend("node", { log: null, skipProbe: true });
      const original = createBaselineModel({ seed: 9, inputShape: [32, 32, 3] });
      const x = tf.tensor4d(input.data, input.shape);
      const onNode = (original.predict(x) as tf.Tensor).dataSync().slice();
      x.dispose();
      await saveModel(original, join(dir, "from_node"));
      original.dispose();

      const wasm = await predictOn("wasm", join(dir, "from_node"));
      assert.ok(maxAbsDiff(wasm.out, onNode) < 1e-5, "wasm predicts what node predicted");
      await saveModel(wasm.model, join(dir, "from_wasm"));
      wasm.model.dispose();

      const back = await predictOn("node", join(dir, "from_wasm"));
      assert.ok(maxAbsDiff(back.out, onNode) < 1e-5, "node predicts the same after the round trip");
      back.model.dispose();
    });
  },
});

Deno.test({
  name: "node: a quick reproduce run trains on node and says so",
  ignore,
  fn: async () => {
    await withTempDir(async (dir) => {
      const data = await makeArticleLayout(join(dir, "data"), {
        train: { cars: 8, planes: 8 },
        val: { cars: 3, planes: 3 },
        test: { cars: 2, planes: 2 },
      });
      const lines: string[] = [];
      const metrics = await reproduce({
        dataDir: data,
        fetchData: false,
        outDir: join(dir, "out"),
        config: experimentConfig({
          quick: true,
          epochs: 2,
          stepsPerEpoch: 2,
          batchSize: 8,
          transfer: null,
          threads: 1,
        }),
        backend: "node",
        command: "test",
        log: (l) => lines.push(l),
        reporter: silentReporter(),
      });
      assert.ok(lines.some((l) => /^Using backend node: /.test(l)), lines.join("\n"));
      const saved = JSON.parse(await Deno.readTextFile(join(dir, "out", "metrics.json")));
      assert.equal(saved.backend.name, "node");
      assert.equal(saved.baseline.history.history.loss.length, 2);
      assert.ok(saved.baseline.history.history.loss.every(Number.isFinite));
      assert.equal(saved.baseline.finalValAccuracy, metrics.baseline.finalValAccuracy);
    });
  },
});
