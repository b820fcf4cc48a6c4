import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { gradCam, GradCamError } from "../lib/models/gradcam.ts";
import { heatmapOverlay, jet } from "../lib/report/heatmap.ts";

await tf.setBackend("cpu");
tf.env().set("PROD", true);

const SIZE = 16;

/** A seeded uniform generator (LCG), so the data and the test are the same every run. */
function rng(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1664525 + 1013904223) % 4294967296) / 4294967296;
}

/**
 * Images whose class shows only in one half: vertical stripes (class 1) or horizontal stripes
 * (class 0) in the `signal` half, the same kind of noise in the other half for both classes.
 */
function halves(n: number, signal: "left" | "right", seed: number) {
  const rand = rng(seed);
  const xs = new Float32Array(n * SIZE * SIZE);
  const ys = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const label = i % 2;
    ys[i] = label;
    const phase = Math.floor(rand() * 2);
    for (let r = 0; r < SIZE; r++) {
      for (let c = 0; c < SIZE; c++) {
        const inSignal = signal === "left" ? c < SIZE / 2 : c >= SIZE / 2;
        const stripe = label === 1 ? (c + phase) % 2 : (r + phase) % 2;
        xs[(i * SIZE + r) * SIZE + c] = inSignal ? stripe : rand();
      }
    }
  }
  return { xs: tf.tensor4d(xs, [n, SIZE, SIZE, 1]), ys: tf.tensor2d(ys, [n, 1]) };
}

function smallCnn(seed: number): tf.Sequential {
  const init = (k: number) => tf.initializers.glorotUniform({ seed: seed + k });
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({
        name: "conv_a",
        inputShape: [SIZE, SIZE, 1],
        filters: 4,
        kernelSize: 3,
        activation: "relu",
        kernelInitializer: init(0),
      }),
      tf.layers.conv2d({
        name: "conv_b",
        filters: 4,
        kernelSize: 3,
        activation: "relu",
        kernelInitializer: init(1),
      }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 1, activation: "sigmoid", kernelInitializer: init(2) }),
    ],
  });
  model.compile({
    optimizer: tf.train.adam(0.01),
    loss: "binaryCrossentropy",
    metrics: ["accuracy"],
  });
  return model;
}

async function trained(signal: "left" | "right"): Promise<tf.Sequential> {
  const model = smallCnn(7);
  const { xs, ys } = halves(64, signal, 1);
  await model.fit(xs, ys, { epochs: 12, batchSize: 16, shuffle: false, verbose: 0 });
  tf.dispose([xs, ys]);
  return model;
}

/** Mean share of the heatmap's mass in the left half, over fresh images of both classes. */
function leftShare(
  model: tf.LayersModel,
  signal: "left" | "right",
): { share: number; accuracy: number } {
  const { xs, ys } = halves(20, signal, 99);
  const labels = ys.dataSync();
  let share = 0, correct = 0;
  for (let i = 0; i < 20; i++) {
    const image = tf.tidy(() =>
      xs.slice([i, 0, 0, 0], [1, -1, -1, -1]).reshape([SIZE, SIZE, 1])
    ) as tf.Tensor3D;
    const cam = gradCam(model, image);
    image.dispose();
    let left = 0, total = 0;
    cam.heatmap.forEach((v, k) => {
      total += v;
      if (k % SIZE < SIZE / 2) left += v;
    });
    share += total > 0 ? left / total : 0.5;
    if (cam.classIndex === labels[i]) correct++;
  }
  tf.dispose([xs, ys]);
  return { share: share / 20, accuracy: correct / 20 };
}

Deno.test("Grad-CAM's mass falls on the half of the image that carries the class signal", async () => {
  const left = await trained("left");
  const onLeft = leftShare(left, "left");
  assert.ok(onLeft.accuracy >= 0.9, `the model learned the task (accuracy ${onLeft.accuracy})`);
  assert.ok(
    onLeft.share > 0.7,
    `signal on the left: ${onLeft.share.toFixed(2)} of the mass on the left`,
  );

  // the control: the same network trained on the mirrored task looks at the other half
  const right = await trained("right");
  const onRight = leftShare(right, "right");
  assert.ok(onRight.accuracy >= 0.9, `the mirrored model learned (accuracy ${onRight.accuracy})`);
  assert.ok(onRight.share < 0.3, `signal on the right: ${onRight.share.toFixed(2)} on the left`);
  left.dispose();
  right.dispose();
});

Deno.test("gradCam explains the last convolution by default, at the input size, in 0..1", () => {
  const model = smallCnn(3);
  const image = tf.randomUniform([SIZE, SIZE, 1], 0, 1, "float32", 5) as tf.Tensor3D;
  const before = tf.memory().numTensors;
  const cam = gradCam(model, image);
  assert.equal(tf.memory().numTensors, before, "no tensors leak");
  assert.equal(cam.layerName, "conv_b");
  assert.deepEqual(cam.featureSize, [12, 12]);
  assert.equal(cam.heatmap.length, SIZE * SIZE);
  assert.ok(cam.heatmap.every((v) => v >= 0 && v <= 1 + 1e-6));
  const p = (model.predict(image.expandDims(0)) as tf.Tensor).dataSync()[0];
  assert.equal(cam.classIndex, p > 0.5 ? 1 : 0, "the predicted class by default");
  assert.ok(Math.abs(cam.probability - (cam.classIndex === 1 ? p : 1 - p)) < 1e-6);
  const other = gradCam(model, image, { classIndex: 1 - cam.classIndex, layerName: "conv_a" });
  assert.equal(other.layerName, "conv_a");
  assert.deepEqual(other.featureSize, [14, 14]);
  assert.ok(Math.abs(other.probability - (1 - cam.probability)) < 1e-6);
  image.dispose();
  model.dispose();
});

Deno.test("gradCam works through a nested base model (the transfer model's shape)", () => {
  const baseInput = tf.input({ shape: [SIZE, SIZE, 1] });
  const baseOut = tf.layers.conv2d({ filters: 4, kernelSize: 3, activation: "relu" })
    .apply(baseInput) as tf.SymbolicTensor;
  const base = tf.model({ inputs: baseInput, outputs: baseOut, name: "tiny_base" });
  const input = tf.input({ shape: [SIZE, SIZE, 1] });
  let x = base.apply(input) as tf.SymbolicTensor;
  x = tf.layers.flatten().apply(x) as tf.SymbolicTensor;
  x = tf.layers.dropout({ rate: 0.5 }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 1, activation: "sigmoid" }).apply(x) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out, name: "transfer_tiny" });
  const image = tf.randomUniform([SIZE, SIZE, 1], 0, 1, "float32", 6) as tf.Tensor3D;
  const cam = gradCam(model, image);
  assert.equal(cam.layerName, "tiny_base");
  assert.deepEqual(cam.featureSize, [14, 14]);
  image.dispose();
  model.dispose();
});

Deno.test("gradCam refuses a missing layer, a flat layer, a bad class and a branching model", () => {
  const model = smallCnn(3);
  const image = tf.zeros([SIZE, SIZE, 1]) as tf.Tensor3D;
  assert.throws(
    () => gradCam(model, image, { layerName: "nope" }),
    /layerName "nope" is not a layer/,
  );
  const flat = model.layers.find((l) => l.getClassName() === "Flatten")!.name;
  assert.throws(() => gradCam(model, image, { layerName: flat }), /needs a feature map/);
  assert.throws(
    () => gradCam(model, image, { classIndex: 2 }),
    /classIndex must be an integer from 0 to 1, got 2/,
  );

  const input = tf.input({ shape: [SIZE, SIZE, 1] });
  const a = tf.layers.conv2d({ filters: 2, kernelSize: 3, name: "branch_a" }).apply(
    input,
  ) as tf.SymbolicTensor;
  const b = tf.layers.conv2d({ filters: 2, kernelSize: 3, name: "branch_b" }).apply(
    input,
  ) as tf.SymbolicTensor;
  const sum = tf.layers.add().apply([a, b]) as tf.SymbolicTensor;
  const flatOut = tf.layers.flatten().apply(sum) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 1, activation: "sigmoid" }).apply(
    flatOut,
  ) as tf.SymbolicTensor;
  const branching = tf.model({ inputs: input, outputs: out, name: "branching" });
  assert.throws(
    () => gradCam(branching, image),
    (e) => e instanceof GradCamError && /layers form a chain/.test(e.message),
  );
  image.dispose();
  model.dispose();
  branching.dispose();
});

Deno.test("the overlay blends the jet colour over the image", () => {
  assert.deepEqual(jet(0), [0, 0, 128]);
  assert.deepEqual(jet(1), [128, 0, 0]);
  assert.deepEqual(jet(0.5), [128, 255, 128]);
  const image = { width: 2, height: 1, data: new Uint8Array([100, 100, 100, 0, 0, 0]) };
  const over = heatmapOverlay(image, new Float32Array([0, 1]), 0.5);
  assert.deepEqual([...over.data], [50, 50, 114, 64, 0, 0]);
  assert.throws(
    () => heatmapOverlay(image, new Float32Array(3)),
    /heatmap has 3 values; the image is 2x1/,
  );
});
