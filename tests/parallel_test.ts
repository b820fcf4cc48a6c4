import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import {
  createDataParallelTrainStep,
  createParallelPredictor,
  ParallelError,
  splitShares,
  threadPlan,
} from "../lib/training/parallel.ts";
import { createTrainStep, type LabeledBatch } from "../lib/training/fit.ts";
import { FrozenModel } from "../lib/models/custom_layers.ts";

await tf.setBackend("cpu");

/** A small conv net like the article's (no Dropout), with seeded weights. */
function tinyModel(
  seed: number,
  dropout = false,
  optimizer: () => tf.Optimizer = () => tf.train.adam(0.01),
): tf.Sequential {
  const init = (k: number) => tf.initializers.glorotUniform({ seed: seed + k });
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({
        name: "conv",
        inputShape: [8, 8, 3],
        filters: 4,
        kernelSize: 3,
        activation: "relu",
        kernelInitializer: init(0),
      }),
      tf.layers.maxPooling2d({ name: "pool", poolSize: 2 }),
      tf.layers.flatten({ name: "flat" }),
      tf.layers.dense({ name: "hidden", units: 8, activation: "relu", kernelInitializer: init(1) }),
      ...(dropout ? [tf.layers.dropout({ name: "drop", rate: 0.5 })] : []),
      tf.layers.dense({ name: "out", units: 1, activation: "sigmoid", kernelInitializer: init(2) }),
    ],
  });
  model.compile({ optimizer: optimizer(), loss: "binaryCrossentropy", metrics: ["accuracy"] });
  return model;
}

function randomBatch(n: number, seed: number): LabeledBatch {
  let state = seed;
  const next = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  const xs = Float32Array.from({ length: n * 8 * 8 * 3 }, next);
  const ys = Float32Array.from({ length: n }, (_, i) => i % 2);
  return { xs, ys, size: n, shape: [n, 8, 8, 3] };
}

function maxDifference(a: tf.LayersModel, b: tf.LayersModel): number {
  let worst = 0;
  const wa = a.getWeights();
  const wb = b.getWeights();
  wa.forEach((t, i) => {
    const x = t.dataSync();
    const y = wb[i].dataSync();
    for (let j = 0; j < x.length; j++) worst = Math.max(worst, Math.abs(x[j] - y[j]));
  });
  return worst;
}

Deno.test("splitShares cuts a batch into near-equal contiguous shares, first shares larger", () => {
  assert.deepEqual(splitShares(7, 2), [[0, 4], [4, 7]]);
  assert.deepEqual(splitShares(32, 2), [[0, 16], [16, 32]]);
  assert.deepEqual(splitShares(7, 3), [[0, 3], [3, 5], [5, 7]]);
  assert.deepEqual(splitShares(1, 3), [[0, 1]]);
});

Deno.test("a data-parallel step gives the same new weights as one full-batch step", async () => {
  const parallelModel = tinyModel(7);
  const plainModel = tinyModel(7);
  assert.equal(maxDifference(parallelModel, plainModel), 0);
  const parallel = await createDataParallelTrainStep(parallelModel, { workers: 2, backend: "cpu" });
  const plain = createTrainStep(plainModel);
  try {
    assert.equal(parallel.threads, 3);
    for (const seed of [1, 2]) {
      const batch = randomBatch(7, seed); // shares of 3, 2 and 2 images
      const a = await parallel.step(batch);
      const b = await plain(batch);
      assert.equal(a.size, 7);
      assert.ok(Math.abs(a.loss - b.loss) < 1e-5, `loss ${a.loss} vs ${b.loss}`);
      assert.ok(
        Math.abs(a.accuracy - b.accuracy) < 1e-6,
        `accuracy ${a.accuracy} vs ${b.accuracy}`,
      );
      const diff = maxDifference(parallelModel, plainModel);
      assert.ok(diff < 1e-5, `weights differ by ${diff} after step with seed ${seed}`);
    }
    assert.ok(maxDifference(parallelModel, tinyModel(7)) > 1e-3, "the step changed the weights");
  } finally {
    await parallel.close();
  }
});

Deno.test("with plain SGD, where the gradients' scale shows, the steps agree too", async () => {
  const sgd = () => tf.train.sgd(0.5);
  const parallelModel = tinyModel(4, false, sgd);
  const plainModel = tinyModel(4, false, sgd);
  const parallel = await createDataParallelTrainStep(parallelModel, { workers: 1, backend: "cpu" });
  try {
    const batch = randomBatch(5, 3); // shares of 3 and 2 images
    await parallel.step(batch);
    await createTrainStep(plainModel)(batch);
    const diff = maxDifference(parallelModel, plainModel);
    assert.ok(diff < 1e-5, `weights differ by ${diff}`);
    assert.ok(maxDifference(parallelModel, tinyModel(4)) > 1e-4, "the step changed the weights");
  } finally {
    await parallel.close();
  }
});

Deno.test("data-parallel steps leave no tensors behind on the main thread", async () => {
  const model = tinyModel(3, true);
  const parallel = await createDataParallelTrainStep(model, { workers: 1, backend: "cpu" });
  try {
    await parallel.step(randomBatch(6, 1)); // creates Adam's moment variables
    const before = tf.memory().numTensors;
    for (const seed of [2, 3]) {
      const result = await parallel.step(randomBatch(6, seed));
      assert.ok(Number.isFinite(result.loss));
    }
    assert.equal(tf.memory().numTensors, before);
  } finally {
    await parallel.close();
  }
});

Deno.test("an error inside a worker reaches the caller with the worker's message", async () => {
  class OnlyOnMainThread extends tf.layers.Layer {
    static className = "OnlyOnMainThread";
    override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
      return Array.isArray(inputs) ? inputs[0] : inputs;
    }
  }
  tf.serialization.registerClass(OnlyOnMainThread);
  const model = tf.sequential({
    layers: [
      new OnlyOnMainThread({ inputShape: [4] }),
      tf.layers.dense({ units: 1, activation: "sigmoid" }),
    ],
  });
  model.compile({ optimizer: "adam", loss: "binaryCrossentropy" });
  await assert.rejects(
    () => createDataParallelTrainStep(model, { workers: 1, backend: "cpu" }),
    (error: Error) => {
      assert.ok(error instanceof ParallelError);
      assert.match(error.message, /Worker 1 failed: .*Unknown layer: OnlyOnMainThread/);
      return true;
    },
  );
});

Deno.test("a model compiled with another loss is refused with what to do", async () => {
  const model = tinyModel(1);
  model.compile({ optimizer: "adam", loss: "meanSquaredError" });
  await assert.rejects(
    () => createDataParallelTrainStep(model, { workers: 1, backend: "cpu" }),
    /compile the model with one of them/,
  );
});

Deno.test("close() terminates the workers and a closed step refuses to run", async () => {
  const parallel = await createDataParallelTrainStep(tinyModel(5), { workers: 2, backend: "cpu" });
  assert.equal(parallel.activeWorkers, 2);
  await parallel.close();
  assert.equal(parallel.activeWorkers, 0);
  await assert.rejects(() => parallel.step(randomBatch(4, 1)), /was closed: create a new one/);
  await parallel.close(); // closing twice is harmless
});

Deno.test("the parallel predictor gives model.predict's outputs for a frozen nested base", async () => {
  const input = tf.input({ shape: [8, 8, 3] });
  const conv = tf.layers.conv2d({
    name: "base_conv",
    filters: 5,
    kernelSize: 3,
    kernelInitializer: tf.initializers.glorotUniform({ seed: 11 }),
  }).apply(input) as tf.SymbolicTensor;
  const base = new FrozenModel({ inputs: input, outputs: conv, name: "base" });
  const outer = tf.input({ shape: [8, 8, 3] });
  const features = tf.layers.globalAveragePooling2d({ name: "gap" }).apply(
    base.apply(outer) as tf.SymbolicTensor,
  ) as tf.SymbolicTensor;
  const model = tf.model({ inputs: outer, outputs: features });
  const predictor = await createParallelPredictor(model, { workers: 1, backend: "cpu" });
  try {
    const batch = randomBatch(5, 9);
    const got = await predictor.predict(batch.xs, batch.shape);
    const want = tf.tidy(() =>
      (model.predict(tf.tensor4d(batch.xs, [5, 8, 8, 3])) as tf.Tensor).dataSync()
    );
    assert.equal(got.length, 5 * 5);
    for (let i = 0; i < got.length; i++) {
      assert.ok(Math.abs(got[i] - want[i]) < 1e-6, `output ${i}: ${got[i]} vs ${want[i]}`);
    }
  } finally {
    await predictor.close();
  }
  assert.equal(predictor.activeWorkers, 0);
});

Deno.test("on wasm, with the project's training kernels, the steps agree too", async () => {
  const { initBackend } = await import("../lib/training/runtime.ts");
  await initBackend("wasm", { log: null, skipProbe: true });
  try {
    const parallelModel = tinyModel(8);
    const plainModel = tinyModel(8);
    const parallel = await createDataParallelTrainStep(parallelModel, { workers: 1 });
    try {
      for (const seed of [1, 2]) {
        const batch = randomBatch(6, seed);
        const a = await parallel.step(batch);
        const b = await createTrainStep(plainModel)(batch);
        assert.ok(Math.abs(a.loss - b.loss) < 1e-5, `loss ${a.loss} vs ${b.loss}`);
        const diff = maxDifference(parallelModel, plainModel);
        assert.ok(diff < 1e-5, `weights differ by ${diff} after step with seed ${seed}`);
      }
    } finally {
      await parallel.close();
      parallelModel.dispose();
      plainModel.dispose();
    }
  } finally {
    await tf.setBackend("cpu");
  }
});

Deno.test("a step started while another runs is refused rather than mixing weights", async () => {
  const parallel = await createDataParallelTrainStep(tinyModel(6), { workers: 1, backend: "cpu" });
  try {
    const first = parallel.step(randomBatch(4, 1));
    await assert.rejects(() => parallel.step(randomBatch(4, 2)), /await each step/);
    assert.equal((await first).size, 4);
  } finally {
    await parallel.close();
  }
});

Deno.test("an error in a worker's share of a step reaches the caller", async () => {
  // A layer that works on the main thread but throws inside a Worker, registered in both.
  const source = `
    import * as tf from "@tensorflow/tfjs";
    export class FailsInWorker extends tf.layers.Layer {
      static className = "FailsInWorker";
      call(inputs) {
        if (typeof globalThis.WorkerGlobalScope === "function") {
          throw new Error("share too heavy for this worker");
        }
        return Array.isArray(inputs) ? inputs[0] : inputs;
      }
    }
    tf.serialization.registerClass(FailsInWorker);
  `;
  const url = `data:text/javascript,${encodeURIComponent(source)}`;
  const { FailsInWorker } = await import(url);
  const model = tf.sequential({
    layers: [
      new FailsInWorker({ inputShape: [8, 8, 3] }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 1, activation: "sigmoid" }),
    ],
  });
  model.compile({ optimizer: "adam", loss: "binaryCrossentropy" });
  const parallel = await createDataParallelTrainStep(model, {
    workers: 1,
    backend: "cpu",
    modules: [url],
  });
  try {
    const before = tf.memory().numTensors;
    await assert.rejects(
      () => parallel.step(randomBatch(4, 1)),
      /Worker 1 failed: share too heavy for this worker/,
    );
    assert.equal(tf.memory().numTensors, before, "the main thread's gradients were freed");
  } finally {
    await parallel.close();
  }
});

Deno.test("threadPlan: the requested threads on wasm and cpu, one on tfjs-node, with what fit needs", async () => {
  const two = threadPlan(2, "wasm");
  assert.equal(two.threads, 2);
  assert.equal(two.line, "Training on 2 threads (main + 1 Worker, data parallel).");
  assert.ok(two.trainStep && two.predictFeatures);
  for (const backend of ["tensorflow", "node"]) {
    const native = threadPlan(2, backend);
    assert.equal(native.threads, 1);
    assert.equal(native.trainStep, undefined);
    assert.equal(native.predictFeatures, undefined);
  }
  const one = threadPlan(1, "cpu");
  assert.deepEqual([one.threads, one.trainStep, one.predictFeatures], [1, undefined, undefined]);
  assert.throws(() => threadPlan(0, "cpu"), ParallelError);
  const model = tf.sequential({
    layers: [tf.layers.dense({ inputShape: [2], units: 1, activation: "sigmoid" })],
  });
  model.compile({ optimizer: "adam", loss: "binaryCrossentropy", metrics: ["accuracy"] });
  const step = await threadPlan(2, "cpu").trainStep!(model);
  try {
    assert.equal(step.threads, 2);
  } finally {
    await step.close();
    model.dispose();
  }
});
