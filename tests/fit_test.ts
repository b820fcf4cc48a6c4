import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  type BatchSource,
  createTrainStep,
  evaluate,
  fit,
  type LabeledBatch,
  TrainingError,
} from "../lib/training/fit.ts";
import { createConsoleReporter, silentReporter } from "../lib/training/progress.ts";

await tf.setBackend("cpu");
tf.env().set("PROD", true);

/** Images of 4x4x1 whose label is 1 when the image is bright: learnable in a few steps. */
function brightnessSource(batchSize: number, seed: number): BatchSource & { drawn: number } {
  let state = seed;
  const rand = () => {
    state = (state * 1664525 + 1013904223) % 4294967296;
    return state / 4294967296;
  };
  const source = {
    drawn: 0,
    stepsPerPass: 2,
    next(): Promise<LabeledBatch> {
      const xs = new Float32Array(batchSize * 16);
      const ys = new Float32Array(batchSize);
      for (let i = 0; i < batchSize; i++) {
        ys[i] = rand() < 0.5 ? 0 : 1;
        for (let j = 0; j < 16; j++) xs[i * 16 + j] = ys[i] * 0.6 + rand() * 0.4;
      }
      source.drawn += batchSize;
      return Promise.resolve({ xs, ys, size: batchSize, shape: [batchSize, 4, 4, 1] });
    },
  };
  return source;
}

function tinyModel(): tf.Sequential {
  const model = tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [4, 4, 1] }),
      tf.layers.dense({
        units: 1,
        activation: "sigmoid",
        kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }),
      }),
    ],
  });
  model.compile({
    optimizer: tf.train.adam(0.2),
    loss: "binaryCrossentropy",
    metrics: ["accuracy"],
  });
  return model;
}

Deno.test("fit runs epochs x steps batches, validates each epoch and returns Keras' History", async () => {
  const model = tinyModel();
  const train = brightnessSource(8, 1);
  const val = brightnessSource(10, 2);
  const lines: string[] = [];
  const epochsSeen: number[] = [];
  const { history, epochSeconds } = await fit(model, train, {
    epochs: 4,
    stepsPerEpoch: 5,
    validationData: val,
    reporter: createConsoleReporter({ live: false, log: (l) => lines.push(l) }),
    onEpochEnd: (e) => {
      epochsSeen.push(e);
    },
  });
  assert.equal(train.drawn, 4 * 5 * 8);
  assert.equal(val.drawn, 4 * 2 * 10, "one validation pass (stepsPerPass batches) per epoch");
  assert.deepEqual(history.epoch, [0, 1, 2, 3]);
  assert.deepEqual(epochsSeen, [0, 1, 2, 3]);
  assert.deepEqual(Object.keys(history.history).sort(), [
    "accuracy",
    "loss",
    "val_accuracy",
    "val_loss",
  ]);
  for (const values of Object.values(history.history)) assert.equal(values.length, 4);
  assert.equal(epochSeconds.length, 4);
  assert.ok(
    history.history.loss[3] < history.history.loss[0],
    "the loss falls on a learnable task",
  );
  assert.ok(
    history.history.val_accuracy[3] >= 0.9,
    `val accuracy ${history.history.val_accuracy[3]}`,
  );
  assert.equal(lines[0], "Epoch 1/4");
  assert.match(
    lines[1],
    /^5\/5 \[=+\] - \d+m?s \d+(ms|us|s)\/step - loss: \d\.\d{4} - accuracy: \d\.\d{4} - val_loss: \d\.\d{4} - val_accuracy: \d\.\d{4}$/,
  );
  model.dispose();
});

Deno.test("evaluate averages binary cross-entropy and accuracy over images like Keras", async () => {
  const model = tinyModel();
  const batches: LabeledBatch[] = [];
  const source: BatchSource = {
    async next() {
      const b = await brightnessSource(5, batches.length + 7).next();
      batches.push(b);
      return b;
    },
  };
  const result = await evaluate(model, source, 3);
  const xs = tf.concat(batches.map((b) => tf.tensor4d(b.xs, [5, 4, 4, 1])));
  const ys = tf.concat(batches.map((b) => tf.tensor2d(b.ys!, [5, 1])));
  const [loss, acc] = model.evaluate(xs, ys) as tf.Scalar[];
  assert.equal(result.samples, 15);
  assert.ok(
    Math.abs(result.loss - loss.dataSync()[0]) < 1e-5,
    `${result.loss} vs ${loss.dataSync()[0]}`,
  );
  assert.ok(Math.abs(result.accuracy - acc.dataSync()[0]) < 1e-6);
  tf.dispose([xs, ys, loss, acc]);
  model.dispose();
});

Deno.test("a loss that becomes NaN stops training with a TrainingError that says what to do", async () => {
  const model = tinyModel();
  await assert.rejects(
    fit(model, brightnessSource(4, 1), {
      epochs: 1,
      stepsPerEpoch: 2,
      reporter: silentReporter(),
      trainStep: () => Promise.resolve({ loss: Number.NaN, accuracy: 0, size: 4 }),
    }),
    (e: unknown) => e instanceof TrainingError && /epoch 1, step 1.*learning rate/.test(e.message),
  );
  model.dispose();
});

Deno.test("a batch without labels is refused with a clear error", async () => {
  const model = tinyModel();
  const unlabeled: BatchSource = {
    next: () =>
      Promise.resolve({ xs: new Float32Array(16), ys: null, size: 1, shape: [1, 4, 4, 1] }),
  };
  await assert.rejects(
    fit(model, unlabeled, { epochs: 1, stepsPerEpoch: 1, reporter: silentReporter() }),
    /no labels: use classMode binary/,
  );
  model.dispose();
});

Deno.test("fit leaks no tensors across epochs", async () => {
  const model = tinyModel();
  await fit(model, brightnessSource(4, 1), {
    epochs: 1,
    stepsPerEpoch: 2,
    validationData: brightnessSource(4, 2),
    reporter: silentReporter(),
  });
  const before = tf.memory().numTensors;
  await fit(model, brightnessSource(4, 1), {
    epochs: 2,
    stepsPerEpoch: 3,
    validationData: brightnessSource(4, 2),
    reporter: silentReporter(),
  });
  assert.equal(tf.memory().numTensors, before);
  model.dispose();
});

Deno.test("an aborted signal stops fit before the next batch and keeps the finished epochs", async () => {
  const model = tinyModel();
  const train = brightnessSource(8, 1);
  const controller = new AbortController();
  let steps = 0;
  const inner = createTrainStep(model);
  const trainStep = (batch: LabeledBatch) => {
    steps++;
    // abort in the middle of the third epoch (steps 11..15)
    if (steps === 12) controller.abort();
    return inner(batch);
  };
  // a first step creates Adam's moments; what is alive after it must be all that stays alive
  await fit(model, train, { epochs: 1, stepsPerEpoch: 1, reporter: silentReporter() });
  const before = tf.memory().numTensors;
  const result = await fit(model, train, {
    epochs: 5,
    stepsPerEpoch: 5,
    validationData: brightnessSource(10, 2),
    reporter: silentReporter(),
    trainStep,
    signal: controller.signal,
  });
  assert.equal(result.interrupted, true);
  assert.equal(steps, 12, "no batch runs after the abort");
  assert.deepEqual(result.history.epoch, [0, 1], "the epoch under way is dropped");
  assert.equal(result.history.history.val_loss.length, 2);
  assert.equal(result.epochSeconds.length, 2);
  assert.equal(tf.memory().numTensors, before, "no tensors leak when stopping");

  const again = await fit(model, train, {
    epochs: 2,
    stepsPerEpoch: 2,
    reporter: silentReporter(),
    signal: new AbortController().signal,
  });
  assert.equal(again.interrupted, false, "a signal that never fires changes nothing");
  assert.deepEqual(again.history.epoch, [0, 1]);
  model.dispose();
});
