/**
 * Tests of the wasm training kernels (lib/wasm_kernels) against the tfjs cpu backend.
 *
 * Every kernel is compared with the cpu backend on random inputs (max |wasm - cpu| / max |cpu| <=
 * 1e-4); then the article's baseline CNN: full gradients, 5 Adam steps, no tensor leaks; and the
 * transfer head, with and without a frozen convolutional base in front.
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import assert from "node:assert/strict";
import {
  channelBatchNormWasm,
  concatTileWasm,
  registerWasmTrainingKernels,
  scalarClipWasm,
  UnsupportedKernelArgumentError,
  wasmTrainingKernels,
} from "../lib/training/wasm_kernels/mod.ts";
import { measureBaselineTraining } from "../tools/bench/measure.ts";
import { createBaselineModel } from "../lib/models/baseline.ts";
import { randomArray, relativeError, sizeOf } from "./kernel_fixtures.ts";

const TOLERANCE = 1e-4;

// The wasm backend's own kernels, kept to show why some are replaced.
const upstreamMaxPoolGrad = tf.getKernel("MaxPoolGrad", "wasm").kernelFunc;
const upstreamConv2DBackpropInput = tf.getKernel("Conv2DBackpropInput", "wasm").kernelFunc;
// Registration happens once, before the wasm backend initialises (as an application would).
const firstRegistration = registerWasmTrainingKernels();
await tf.setBackend("wasm");

/**
 * Runs `body` on `backend`, returning the results as arrays. On wasm the engine's kernel leak
 * check is on (`IS_TEST`): after every kernel it verifies that exactly the kernel's outputs were
 * added to the backend. (Only around plain kernels: tfjs-core's fused ops built with customGrad
 * trip it although they do not leak.)
 */
async function runOn(
  backend: string,
  body: () => tf.Tensor | tf.Tensor[],
): Promise<Float32Array[]> {
  assert.ok(await tf.setBackend(backend), `backend ${backend} must initialise`);
  tf.env().set("IS_TEST", backend === "wasm");
  try {
    return tf.tidy(() => {
      const out = body();
      return (Array.isArray(out) ? out : [out]).map((t) => t.dataSync() as Float32Array);
    });
  } finally {
    tf.env().set("IS_TEST", false);
    await tf.setBackend("wasm");
  }
}

function assertClose(label: string, wasm: Float32Array[], cpu: Float32Array[], tolerance: number) {
  assert.equal(wasm.length, cpu.length);
  wasm.forEach((w, i) => {
    const err = relativeError(w, cpu[i]);
    assert.ok(err <= tolerance, `${label}: relative error ${err} > ${tolerance}`);
  });
}

async function assertKernelMatchesCpu(
  label: string,
  body: () => tf.Tensor | tf.Tensor[],
  tolerance = TOLERANCE,
): Promise<void> {
  assertClose(label, await runOn("wasm", body), await runOn("cpu", body), tolerance);
}

type Pad = "valid" | "same" | number | [[number, number], [number, number], [
  number,
  number,
], [number, number]];

interface ConvCase {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: number | [number, number];
  pad: Pad;
}

const CONV_CASES: ConvCase[] = [
  { x: [1, 9, 9, 3], filter: [3, 3, 3, 32], strides: 1, pad: "valid" },
  { x: [64, 8, 10, 3], filter: [3, 3, 3, 8], strides: 1, pad: "same" },
  { x: [64, 9, 9, 3], filter: [3, 3, 3, 4], strides: 2, pad: "valid" },
  { x: [2, 11, 7, 32], filter: [3, 3, 32, 32], strides: 2, pad: "same" },
  { x: [2, 31, 31, 32], filter: [3, 3, 32, 32], strides: 1, pad: "valid" }, // the CNN's 2nd conv
  { x: [3, 10, 13, 5], filter: [2, 3, 5, 6], strides: [2, 1], pad: "valid" },
  { x: [2, 12, 9, 4], filter: [5, 3, 4, 3], strides: [1, 2], pad: "same" },
  { x: [2, 9, 8, 4], filter: [3, 3, 4, 5], strides: 1, pad: 1 },
  { x: [2, 9, 8, 4], filter: [3, 3, 4, 5], strides: 2, pad: [[0, 0], [1, 2], [0, 1], [0, 0]] },
];

function convOutShape(c: ConvCase): number[] {
  return tf.tidy(() =>
    tf.conv2d(tf.zeros(c.x) as tf.Tensor4D, tf.zeros(c.filter) as tf.Tensor4D, c.strides, c.pad)
      .shape
  );
}

Deno.test("registerWasmTrainingKernels registers each kernel once and says why", () => {
  const names = wasmTrainingKernels().map((k) => k.kernelName);
  assert.deepEqual(firstRegistration, names);
  assert.deepEqual(registerWasmTrainingKernels(), []);
  for (const name of names) assert.ok(tf.getKernel(name, "wasm") != null, `${name} registered`);
  const reasons = Object.fromEntries(wasmTrainingKernels().map((k) => [k.kernelName, k.reason]));
  assert.equal(reasons.Conv2DBackpropFilter, "missing");
  assert.equal(reasons.MaxPoolGrad, "incorrect");
});

Deno.test("Conv2DBackpropFilter matches cpu (batch 1-64, strides 1/2, valid/same/explicit)", async () => {
  for (const [i, c] of CONV_CASES.entries()) {
    const dyShape = convOutShape(c);
    const xs = randomArray(sizeOf(c.x), 10 + i);
    const dys = randomArray(sizeOf(dyShape), 50 + i);
    const filterGrad = (variant?: string) => () =>
      tf.engine().runKernel("Conv2DBackpropFilter", {
        x: tf.tensor(xs, c.x),
        dy: tf.tensor(dys, dyShape),
      }, {
        strides: c.strides,
        pad: c.pad,
        dataFormat: "NHWC",
        filterShape: c.filter,
        // Only read by the wasm kernel (switch between its two formulations).
        ...(variant ? { variant } : {}),
      } as unknown as tf.NamedAttrMap) as tf.Tensor;
    const cpu = await runOn("cpu", filterGrad());
    const variants = c.strides === 1 ? [undefined, "conv", "im2col"] : [undefined];
    for (const variant of variants) {
      const label = `filter grad ${JSON.stringify(c)} ${variant ?? "default"}`;
      assertClose(label, await runOn("wasm", filterGrad(variant)), cpu, TOLERANCE);
    }
  }
});

Deno.test("Conv2DBackpropInput matches cpu (batch 1-64, strides 1/2, valid/same/explicit)", async () => {
  for (const [i, c] of CONV_CASES.entries()) {
    const dyShape = convOutShape(c);
    const ws = randomArray(sizeOf(c.filter), 20 + i);
    const dys = randomArray(sizeOf(dyShape), 60 + i);
    await assertKernelMatchesCpu(
      `input grad ${JSON.stringify(c)}`,
      () =>
        tf.engine().runKernel("Conv2DBackpropInput", {
          dy: tf.tensor(dys, dyShape),
          filter: tf.tensor(ws, c.filter),
        }, {
          strides: c.strides,
          pad: c.pad,
          dataFormat: "NHWC",
          inputShape: c.x,
        }) as tf.Tensor,
    );
  }
});

Deno.test("conv gradients with NCHW data match cpu", async () => {
  const x = randomArray(2 * 4 * 9 * 8, 3);
  const w = randomArray(3 * 3 * 4 * 5, 4);
  const dy = randomArray(2 * 5 * 5 * 4, 5); // NCHW [2, 5, 5, 4] for stride 2, same
  await assertKernelMatchesCpu(
    "NCHW filter grad",
    () =>
      tf.engine().runKernel("Conv2DBackpropFilter", {
        x: tf.tensor(x, [2, 4, 9, 8]),
        dy: tf.tensor(dy, [2, 5, 5, 4]),
      }, { strides: 2, pad: "same", dataFormat: "NCHW", filterShape: [3, 3, 4, 5] }) as tf.Tensor,
  );
  await assertKernelMatchesCpu(
    "NCHW input grad",
    () =>
      tf.engine().runKernel("Conv2DBackpropInput", {
        dy: tf.tensor(dy, [2, 5, 5, 4]),
        filter: tf.tensor(w, [3, 3, 4, 5]),
      }, { strides: 2, pad: "same", dataFormat: "NCHW", inputShape: [2, 4, 9, 8] }) as tf.Tensor,
  );
});

interface PoolCase {
  x: [number, number, number, number];
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: Pad;
}

const POOL_CASES: PoolCase[] = [
  { x: [1, 8, 8, 3], filterSize: 2, strides: 2, pad: "valid" },
  { x: [64, 6, 6, 32], filterSize: 2, strides: 2, pad: "valid" },
  { x: [4, 29, 29, 32], filterSize: 2, strides: 2, pad: "valid" }, // the CNN's 2nd pool (odd size)
  { x: [2, 9, 7, 3], filterSize: 2, strides: 2, pad: "same" },
  { x: [2, 9, 9, 3], filterSize: 3, strides: 2, pad: "same" },
  { x: [64, 7, 9, 3], filterSize: 3, strides: 2, pad: "valid" },
  { x: [3, 9, 9, 2], filterSize: 3, strides: 1, pad: "same" },
  { x: [2, 10, 11, 4], filterSize: [2, 3], strides: [3, 1], pad: "same" },
  { x: [2, 10, 11, 4], filterSize: 1, strides: 2, pad: "valid" },
  { x: [2, 10, 11, 4], filterSize: 3, strides: 3, pad: 1 },
];

function maxPoolGradOnBackend(c: PoolCase, xs: Float32Array, dys: Float32Array): tf.Tensor {
  const x = tf.tensor(xs, c.x) as tf.Tensor4D;
  const y = tf.maxPool(x, c.filterSize, c.strides, c.pad as "valid");
  return tf.engine().runKernel(
    "MaxPoolGrad",
    { dy: tf.tensor(dys, y.shape), input: x, output: y },
    {
      filterSize: c.filterSize,
      strides: c.strides,
      pad: c.pad,
    },
  ) as tf.Tensor;
}

Deno.test("MaxPoolGrad matches cpu (2x2/2, 3x3/2, 3x3/1, non-square, padding)", async () => {
  for (const [i, c] of POOL_CASES.entries()) {
    const outShape = tf.tidy(() =>
      tf.maxPool(tf.zeros(c.x) as tf.Tensor4D, c.filterSize, c.strides, c.pad as "valid").shape
    );
    const xs = randomArray(sizeOf(c.x), 30 + i);
    const dys = randomArray(sizeOf(outShape), 70 + i);
    await assertKernelMatchesCpu(
      `max pool grad ${JSON.stringify(c)}`,
      () => maxPoolGradOnBackend(c, xs, dys),
    );
  }
});

Deno.test("MaxPoolGrad: first maximum wins ties, windows of negatives and zeros work", async () => {
  // Rounded, ReLU'd values: many ties, all-zero windows; plus an all-negative image.
  for (const [i, c] of POOL_CASES.entries()) {
    const outShape = tf.tidy(() =>
      tf.maxPool(tf.zeros(c.x) as tf.Tensor4D, c.filterSize, c.strides, c.pad as "valid").shape
    );
    const xs = randomArray(sizeOf(c.x), 90 + i, 2).map((v) => Math.max(0, Math.round(v)));
    const negative = randomArray(sizeOf(c.x), 95 + i).map((v) => -Math.abs(v) - 0.5);
    const dys = randomArray(sizeOf(outShape), 99 + i);
    await assertKernelMatchesCpu(
      `ties ${JSON.stringify(c)}`,
      () => maxPoolGradOnBackend(c, xs, dys),
      1e-6,
    );
    await assertKernelMatchesCpu(
      `negative ${JSON.stringify(c)}`,
      () => maxPoolGradOnBackend(c, negative, dys),
      1e-6,
    );
  }
  // The exact routing on a tiny example: the first of equal maxima takes the gradient.
  await tf.setBackend("wasm");
  const dx = tf.tidy(() => {
    const x = tf.tensor4d([1, 1, 1, 1, 2, 2, 2, 2, -1, -2, -3, -4, 0, 0, 0, 0], [1, 4, 4, 1]);
    return tf.grad((t) => tf.maxPool(t as tf.Tensor4D, 2, 2, "valid").sum())(x).dataSync();
  });
  assert.deepEqual(Array.from(dx), [0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0]);
});

Deno.test("upstream wasm MaxPoolGrad is wrong, upstream Conv2DBackpropInput right (why replaced)", async () => {
  const c = POOL_CASES[0];
  const negative = randomArray(sizeOf(c.x), 5).map((v) => -Math.abs(v) - 0.5);
  const dys = randomArray(4 * 4 * 3, 6);
  const cpu = await runOn("cpu", () => maxPoolGradOnBackend(c, negative, dys));
  const ours = await runOn("wasm", () => maxPoolGradOnBackend(c, negative, dys));
  const upstream = tf.tidy(() => {
    const x = tf.tensor(negative, c.x) as tf.Tensor4D;
    const y = tf.maxPool(x, 2, 2, "valid");
    const info = upstreamMaxPoolGrad({
      inputs: { dy: tf.tensor(dys, y.shape), input: x, output: y },
      backend: tf.backend(),
      attrs: { filterSize: 2, strides: 2, pad: "valid" },
    }) as tf.TensorInfo;
    return tf.engine().makeTensorFromTensorInfo(info).dataSync() as Float32Array;
  });
  assert.ok(relativeError(ours[0], cpu[0]) <= TOLERANCE);
  assert.ok(
    relativeError(upstream, cpu[0]) > 0.1,
    "upstream MaxPoolGrad was fixed: replace no more",
  );

  const k = CONV_CASES[3];
  const dyShape = convOutShape(k);
  const dy = randomArray(sizeOf(dyShape), 7);
  const w = randomArray(sizeOf(k.filter), 8);
  const attrs = { strides: k.strides, pad: k.pad, dataFormat: "NHWC", inputShape: k.x };
  const cpuDx = await runOn("cpu", () =>
    tf.engine().runKernel("Conv2DBackpropInput", {
      dy: tf.tensor(dy, dyShape),
      filter: tf.tensor(w, k.filter),
    }, attrs) as tf.Tensor);
  const upstreamDx = tf.tidy(() => {
    const info = upstreamConv2DBackpropInput({
      inputs: { dy: tf.tensor(dy, dyShape), filter: tf.tensor(w, k.filter) },
      backend: tf.backend(),
      attrs,
    }) as tf.TensorInfo;
    return tf.engine().makeTensorFromTensorInfo(info).dataSync() as Float32Array;
  });
  assert.ok(relativeError(upstreamDx, cpuDx[0]) <= TOLERANCE);
});

Deno.test("BatchMatMul with transposes and leading-axes Sum match cpu", async () => {
  const a = randomArray(16 * 300, 1);
  const b = randomArray(300 * 40, 2);
  for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
    const aShape = ta ? [300, 16] : [16, 300];
    const bShape = tb ? [40, 300] : [300, 40];
    await assertKernelMatchesCpu(`matMul ${ta} ${tb}`, () => [
      tf.matMul(tf.tensor(a, aShape), tf.tensor(b, bShape), ta, tb),
      tf.matMul(tf.tensor(a, [1, ...aShape]), tf.tensor(b, [1, ...bShape]), ta, tb),
      tf.matMul(tf.tensor(b, bShape), tf.tensor(a, aShape), !tb, !ta),
    ]);
  }
  await assertKernelMatchesCpu(
    "batched matMul (upstream)",
    () =>
      tf.matMul(
        tf.tensor(a.subarray(0, 4 * 12 * 50), [4, 12, 50]),
        tf.tensor(b.subarray(0, 4 * 7 * 12), [4, 7, 12]),
        true,
        true,
      ),
  );
  const x = randomArray(8 * 20 * 20 * 16, 3);
  await assertKernelMatchesCpu("sum", () => {
    const t = tf.tensor(x, [8, 20, 20, 16]);
    return [
      tf.sum(t, [0, 1, 2]),
      tf.sum(t, [2, 0, 1], true),
      tf.sum(t, 0),
      tf.sum(t, [0, 1]),
      tf.sum(t, [1, 2]),
      tf.sum(t),
      tf.sum(tf.reshape(t, [-1, 16]), 0),
    ];
  });
  await tf.setBackend("wasm");
  assert.deepEqual(tf.tidy(() => Array.from(tf.sum(tf.ones([600, 2], "int32"), 0).dataSync())), [
    600,
    600,
  ]);
});

Deno.test("Minimum/Maximum against one number, FusedBatchNorm and Tile match cpu, fallbacks too", async () => {
  const x = randomArray(4 * 9 * 7 * 8, 11).map((v) => v * 8);
  const y = randomArray(4 * 9 * 7 * 8, 12);
  const c = (seed: number, lo = -1, hi = 1) =>
    randomArray(8, seed).map((v) => lo + (v + 1) / 2 * (hi - lo));
  await assertKernelMatchesCpu("minimum, maximum", () => {
    const t = tf.tensor(x, [4, 9, 7, 8]);
    return [
      tf.minimum(t, 6), // ReLU6's cap: the fast path
      tf.minimum(tf.scalar(6), t),
      tf.maximum(t, tf.tensor([-2], [1, 1])),
      tf.minimum(t, tf.tensor(y, [4, 9, 7, 8])), // same shape: upstream
      tf.maximum(t, tf.tensor(c(1), [8])), // per channel: upstream
      tf.minimum(tf.tensor([3], [1, 1, 1, 1, 1]), tf.tensor([1, 5])), // higher-rank scalar
      tf.relu6(t),
    ];
  });
  await assertKernelMatchesCpu("batchNorm", () => {
    const t = tf.tensor(x, [4, 9, 7, 8]);
    const [mean, variance, offset, scale] = [c(2), c(3, 0.1, 2), c(4), c(5)].map((v) =>
      tf.tensor(v, [8])
    );
    return [
      tf.batchNorm(t, mean, variance, offset, scale, 1e-3),
      tf.batchNorm(t, mean, variance, undefined, undefined, 1e-3),
      tf.batchNorm(t, tf.tensor([0.5]), tf.tensor([2]), offset, tf.tensor([3]), 1e-5),
      tf.batchNorm(tf.reshape(t, [4, 63, 8]), mean, variance, offset, scale, 1e-3), // rank 3
      tf.batchNorm( // statistics per position, not per channel: upstream
        t,
        tf.tensor(x.subarray(0, 504), [1, 9, 7, 8]),
        tf.tensor(y.subarray(0, 504), [1, 9, 7, 8]).abs(),
      ),
    ];
  });
  await assertKernelMatchesCpu("tile", () => {
    const t = tf.tensor(c(6), [1, 1, 1, 8]);
    return [
      tf.tile(t, [4, 7, 7, 1]), // a BatchNorm gradient's spread
      tf.tile(tf.tensor(x.subarray(0, 24), [2, 3, 4]), [3, 1, 2]),
      tf.tile(tf.tensor(x.subarray(0, 6), [6]), [1]),
      tf.tile(tf.tensor(x.subarray(0, 6), [2, 3]), [2, 3]),
    ];
  });
  await tf.setBackend("wasm");
  assert.deepEqual(
    tf.tidy(() => Array.from(tf.tile(tf.tensor([1, 2], [2], "int32"), [3]).dataSync())),
    [1, 2, 1, 2, 1, 2],
  );
  assert.deepEqual(tf.tidy(() => tf.tile(tf.zeros([0, 2]), [3, 1]).shape), [0, 2]);
  // Which inputs take the fast paths (undefined: the upstream kernel).
  tf.tidy(() => {
    const t = tf.ones([2, 3, 3, 8]);
    const b = tf.backend();
    const fast = (info: tf.TensorInfo | undefined) => {
      if (info !== undefined) tf.engine().makeTensorFromTensorInfo(info).dispose();
      return info !== undefined;
    };
    assert.ok(fast(scalarClipWasm("Minimum", t, tf.scalar(6), b)));
    assert.ok(!fast(scalarClipWasm("Minimum", t, tf.ones([8]), b)));
    assert.ok(!fast(scalarClipWasm("Minimum", t, tf.scalar(6, "int32"), b)));
    const v = tf.ones([8]);
    assert.ok(
      fast(channelBatchNormWasm({ x: t, mean: v, variance: v }, { varianceEpsilon: 0 }, b)),
    );
    assert.ok(
      !fast(channelBatchNormWasm({ x: tf.ones([3, 8]), mean: v, variance: v }, {
        varianceEpsilon: 0,
      }, b)),
    );
    assert.ok(fast(concatTileWasm(t, { reps: [1, 2, 1, 1] }, b)));
    assert.ok(!fast(concatTileWasm(tf.zeros([0, 2]), { reps: [2, 1] }, b)));
  });
});

Deno.test("a MobileNet-style block (conv, BN, ReLU6, depthwise) trains like cpu: outputs and gradients", async () => {
  const xs = randomArray(2 * 12 * 12 * 4, 21);
  const params = [
    randomArray(3 * 3 * 4 * 8, 22).map((v) => v * 0.3),
    randomArray(3 * 3 * 8, 23).map((v) => v * 0.3),
  ];
  const bn = [1, 2, 3, 4].map((s) => randomArray(8, 30 + s).map((v) => (s === 2 ? 1 + v / 2 : v)));
  const body = () => {
    const x = tf.tensor(xs, [2, 12, 12, 4]);
    const w1 = tf.tensor(params[0], [3, 3, 4, 8]);
    const dw = tf.tensor(params[1], [3, 3, 8, 1]);
    const [mean, variance, offset, scale] = bn.map((v) => tf.tensor(v, [8]));
    const f = (a: tf.Tensor, b: tf.Tensor) => {
      let h: tf.Tensor = tf.conv2d(x as tf.Tensor4D, a as tf.Tensor4D, 1, "same");
      h = tf.batchNorm(h, mean, variance, offset, scale, 1e-3);
      h = tf.minimum(tf.relu(h), 6);
      h = tf.depthwiseConv2d(h as tf.Tensor4D, b as tf.Tensor4D, 1, "same");
      h = tf.batchNorm(h, mean, variance, offset, scale, 1e-3);
      return tf.sum(tf.square(tf.minimum(tf.relu(h), 6)));
    };
    const { value, grads } = tf.valueAndGrads(f)([w1, dw]);
    return [value, ...grads];
  };
  assertClose("block", await runOn("wasm", body), await runOn("cpu", body), 1e-4);
});

Deno.test("Identity shares data safely: clones outlive their source, variables stay separate", async () => {
  await tf.setBackend("wasm");
  const before = tf.engine().backend.numDataIds();
  const a = tf.tensor([1, 2, 3]);
  const b = tf.clone(a);
  assert.equal(tf.engine().backend.numDataIds(), before + 1, "no copy");
  a.dispose();
  assert.deepEqual(Array.from(b.dataSync()), [1, 2, 3]);
  const v = tf.variable(b);
  const c = tf.tensor([4, 5, 6]);
  v.assign(c);
  c.dispose();
  assert.deepEqual(Array.from(b.dataSync()), [1, 2, 3]);
  assert.deepEqual(Array.from(v.dataSync()), [4, 5, 6]);
  b.dispose();
  v.dispose();
  assert.equal(tf.engine().backend.numDataIds(), before);
});

Deno.test("kernels reject what they cannot do with an actionable error", async () => {
  await tf.setBackend("wasm");
  assert.throws(
    () =>
      tf.engine().runKernel("Conv2DBackpropFilter", {
        x: tf.zeros([1, 5, 5, 2], "int32"),
        dy: tf.zeros([1, 3, 3, 2]),
      }, { strides: 1, pad: "valid", dataFormat: "NHWC", filterShape: [3, 3, 2, 2] }),
    (e: unknown) => e instanceof UnsupportedKernelArgumentError && /float32/.test(e.message),
  );
});

/** The weights of a freshly initialised baseline CNN (seeded), as plain arrays. */
function initialWeights(seed: number): { values: Float32Array; shape: number[] }[] {
  const model = createBaselineModel({ seed, compile: false });
  const weights = weightArrays(model);
  model.dispose();
  return weights;
}

/** Copies the weights of `model` into plain arrays (backend-independent). */
function weightArrays(model: tf.LayersModel): { values: Float32Array; shape: number[] }[] {
  return model.getWeights().map((w) => ({ values: w.dataSync() as Float32Array, shape: w.shape }));
}

function baselineOn(weights: { values: Float32Array; shape: number[] }[]): tf.LayersModel {
  const model = createBaselineModel({ seed: 1, compile: false });
  model.setWeights(weights.map((w) => tf.tensor(w.values, w.shape)));
  return model;
}

const BATCH = 2;
const images = (seed: number) => randomArray(BATCH * 64 * 64 * 3, seed).map((v) => (v + 1) / 2);
const labels = new Float32Array([1, 0]);

Deno.test("baseline CNN: gradients of the BCE loss on wasm match cpu", async () => {
  await tf.setBackend("cpu");
  const weights = initialWeights(7);
  const xs = images(123);
  const grads = async (backend: string) => {
    await tf.setBackend(backend);
    const model = baselineOn(weights);
    const out = tf.tidy(() => {
      const x = tf.tensor(xs, [BATCH, 64, 64, 3]);
      const y = tf.tensor(labels, [BATCH, 1]);
      const { value, grads } = tf.variableGrads(() =>
        tf.metrics.binaryCrossentropy(y, model.apply(x) as tf.Tensor).mean() as tf.Scalar
      );
      return {
        loss: value.dataSync()[0],
        grads: model.trainableWeights.map((w) => grads[w.name].dataSync() as Float32Array),
      };
    });
    model.dispose();
    return out;
  };
  const wasm = await grads("wasm");
  const cpu = await grads("cpu");
  await tf.setBackend("wasm");
  assert.ok(Math.abs(wasm.loss - cpu.loss) <= 1e-5 * Math.max(1, Math.abs(cpu.loss)));
  assert.equal(wasm.grads.length, 8);
  wasm.grads.forEach((g, i) => {
    const err = relativeError(g, cpu.grads[i]);
    assert.ok(err <= TOLERANCE, `gradient ${i}: relative error ${err}`);
  });
});

Deno.test("baseline CNN: 5 Adam steps follow the cpu loss curve", async () => {
  await tf.setBackend("cpu");
  const weights = initialWeights(11);
  // Batches of one image keep the (slow) cpu reference within the test budget.
  const batches = [0, 1, 2, 3, 4].map((i) => images(200 + i).subarray(0, 64 * 64 * 3));
  const curve = async (backend: string) => {
    await tf.setBackend(backend);
    const model = baselineOn(weights);
    const optimizer = tf.train.adam();
    model.compile({ optimizer, loss: "binaryCrossentropy", metrics: ["accuracy"] });
    const losses: number[] = [];
    for (const [i, xs] of batches.entries()) {
      const x = tf.tensor(xs, [1, 64, 64, 3]);
      const y = tf.tensor([i % 2], [1, 1]);
      const [loss] = (await model.trainOnBatch(x, y)) as number[];
      losses.push(loss);
      x.dispose();
      y.dispose();
    }
    optimizer.dispose();
    model.dispose();
    return losses;
  };
  const wasm = await curve("wasm");
  const cpu = await curve("cpu");
  await tf.setBackend("wasm");
  wasm.forEach((l, i) => {
    assert.ok(Number.isFinite(l));
    assert.ok(
      Math.abs(l - cpu[i]) <= 1e-3 * Math.abs(cpu[i]),
      `step ${i}: wasm ${l} vs cpu ${cpu[i]}`,
    );
  });
});

Deno.test("baseline CNN training on wasm leaks no tensors across steps", async () => {
  await tf.setBackend("wasm");
  const model = createBaselineModel({ seed: 1, compile: false });
  const optimizer = tf.train.adam();
  model.compile({ optimizer, loss: "binaryCrossentropy", metrics: ["accuracy"] });
  const x = tf.tensor(images(5), [BATCH, 64, 64, 3]);
  const y = tf.tensor(labels, [BATCH, 1]);
  const counts = () => [tf.memory().numTensors, tf.engine().backend.numDataIds()];
  for (let i = 0; i < 2; i++) await model.trainOnBatch(x, y); // optimizer slots now exist
  const before = counts();
  for (let i = 0; i < 3; i++) await model.trainOnBatch(x, y);
  assert.deepEqual(counts(), before);
  x.dispose();
  y.dispose();
  optimizer.dispose();
  model.dispose();
});

function transferHead(inputShape: number[]): tf.Sequential {
  const head = tf.sequential();
  head.add(tf.layers.flatten({ inputShape }));
  head.add(tf.layers.dense({ units: 256, activation: "relu" }));
  head.add(tf.layers.dropout({ rate: 0.5 }));
  head.add(tf.layers.dense({ units: 1, activation: "sigmoid" }));
  return head;
}

Deno.test("transfer head trains on wasm; a frozen conv base needs no conv/pool gradients", async () => {
  await tf.setBackend("wasm");
  const features = tf.tensor(randomArray(8 * 2 * 2 * 64, 9).map(Math.abs), [8, 2, 2, 64]);
  const y = tf.tensor([1, 0, 1, 0, 1, 1, 0, 0], [8, 1]);
  const head = transferHead([2, 2, 64]);
  head.compile({
    optimizer: tf.train.adam(1e-3),
    loss: "binaryCrossentropy",
    metrics: ["accuracy"],
  });
  const losses: number[] = [];
  for (let i = 0; i < 30; i++) losses.push(((await head.trainOnBatch(features, y)) as number[])[0]);
  assert.ok(losses.every(Number.isFinite));
  assert.ok(losses.at(-1)! < losses[0], `head loss should fall: ${losses[0]} -> ${losses.at(-1)}`);

  // Frozen base (conv + pool) in front of a head: only the head's weights get gradients.
  const base = tf.sequential();
  base.add(
    tf.layers.conv2d({ inputShape: [16, 16, 3], filters: 8, kernelSize: 3, activation: "relu" }),
  );
  base.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  // Freeze layer by layer: with tfjs-layers 4.22, `base.trainable = false` on a Sequential that is
  // then added to another Sequential is undone (its variables become trainable again).
  for (const layer of base.layers) layer.trainable = false;
  const model = tf.sequential();
  model.add(base);
  model.add(transferHead(base.outputs[0].shape.slice(1) as number[]));
  model.compile({ optimizer: tf.train.adam(), loss: "binaryCrossentropy" });
  const x = tf.tensor(randomArray(8 * 16 * 16 * 3, 10), [8, 16, 16, 3]);
  const frozenBefore = weightArrays(base);
  const profile = await tf.profile(async () => {
    await model.trainOnBatch(x, y);
  });
  const kernels = new Set(profile.kernels.map((k) => k.name));
  for (const name of ["Conv2DBackpropFilter", "Conv2DBackpropInput", "MaxPoolGrad"]) {
    assert.ok(!kernels.has(name), `${name} ran although the base is frozen`);
  }
  assert.ok(kernels.has("BatchMatMul"), "the head's gradients were computed");
  weightArrays(base).forEach((w, i) => assert.deepEqual(w.values, frozenBefore[i].values));
  [features, y, x].forEach((t) => t.dispose());
  head.dispose();
  model.dispose();
});

Deno.test("measureBaselineTraining reports a positive throughput", async () => {
  const rate = await measureBaselineTraining({
    backend: "wasm",
    batchSize: 2,
    steps: 1,
    warmupSteps: 1,
  });
  assert.ok(Number.isFinite(rate) && rate > 0);
});
