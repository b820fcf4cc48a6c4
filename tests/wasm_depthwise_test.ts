/**
 * The wasm depthwise-convolution gradient kernels (lib/training/wasm_kernels/depthwise_backprop.ts)
 * against the tfjs cpu backend, and the gradients of a MobileNet v1 block (depthwise, BN in
 * inference mode, ReLU6, pointwise) on wasm against cpu: what fine-tuning MobileNet's top block
 * needs.
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import assert from "node:assert/strict";
import {
  registerWasmTrainingKernels,
  UnsupportedKernelArgumentError,
  wasmTrainingKernels,
} from "../lib/training/wasm_kernels/mod.ts";
import { FrozenModel } from "../lib/models/custom_layers.ts";
import { randomArray, relativeError, sizeOf } from "./kernel_fixtures.ts";

const TOLERANCE = 1e-4;
registerWasmTrainingKernels();
await tf.setBackend("wasm");

async function runOn(backend: string, body: () => tf.Tensor): Promise<Float32Array> {
  assert.ok(await tf.setBackend(backend), `backend ${backend} must initialise`);
  tf.env().set("IS_TEST", backend === "wasm");
  try {
    return tf.tidy(() => body().dataSync() as Float32Array);
  } finally {
    tf.env().set("IS_TEST", false);
    await tf.setBackend("wasm");
  }
}

type Pad = "valid" | "same" | number | [[number, number], [number, number], [
  number,
  number,
], [number, number]];

interface DwCase {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: number | [number, number];
  pad: Pad;
}

const CASES: DwCase[] = [
  { x: [1, 7, 7, 64], filter: [3, 3, 64, 1], strides: 1, pad: "same" }, // MobileNet 0.25 block 13
  { x: [16, 14, 14, 32], filter: [3, 3, 32, 1], strides: 2, pad: "same" }, // block 12 (stride 2)
  { x: [32, 8, 8, 5], filter: [3, 3, 5, 1], strides: 1, pad: "valid" },
  { x: [3, 9, 9, 4], filter: [3, 3, 4, 1], strides: 2, pad: "valid" },
  { x: [2, 10, 13, 3], filter: [2, 3, 3, 2], strides: [2, 1], pad: "valid" }, // multiplier 2
  { x: [2, 12, 9, 4], filter: [5, 3, 4, 3], strides: [1, 2], pad: "same" }, // multiplier 3
  { x: [2, 9, 8, 4], filter: [3, 3, 4, 1], strides: 1, pad: 1 },
  { x: [2, 9, 8, 4], filter: [3, 3, 4, 2], strides: 2, pad: [[0, 0], [1, 2], [0, 1], [0, 0]] },
];

function outShape(c: DwCase): number[] {
  return tf.tidy(() =>
    tf.depthwiseConv2d(
      tf.zeros(c.x) as tf.Tensor4D,
      tf.zeros(c.filter) as tf.Tensor4D,
      c.strides,
      c.pad,
    ).shape
  );
}

Deno.test("depthwise gradient kernels are registered as missing upstream", () => {
  const reasons = Object.fromEntries(wasmTrainingKernels().map((k) => [k.kernelName, k.reason]));
  assert.equal(reasons.DepthwiseConv2dNativeBackpropFilter, "missing");
  assert.equal(reasons.DepthwiseConv2dNativeBackpropInput, "missing");
  assert.ok(tf.getKernel("DepthwiseConv2dNativeBackpropFilter", "wasm") != null);
  assert.ok(tf.getKernel("DepthwiseConv2dNativeBackpropInput", "wasm") != null);
});

Deno.test("DepthwiseConv2dNativeBackpropFilter matches cpu (batch 1-32, strides, pads, multipliers)", async () => {
  for (const [i, c] of CASES.entries()) {
    const dyShape = outShape(c);
    const xs = randomArray(sizeOf(c.x), 10 + i);
    const dys = randomArray(sizeOf(dyShape), 50 + i);
    const body = () =>
      tf.engine().runKernel(
        "DepthwiseConv2dNativeBackpropFilter",
        {
          x: tf.tensor(xs, c.x),
          dy: tf.tensor(dys, dyShape),
        },
        { strides: c.strides, pad: c.pad, dilations: 1, filterShape: c.filter } as never,
      ) as tf.Tensor;
    const err = relativeError(await runOn("wasm", body), await runOn("cpu", body));
    assert.ok(err <= TOLERANCE, `filter grad ${JSON.stringify(c)}: relative error ${err}`);
  }
});

Deno.test("DepthwiseConv2dNativeBackpropInput matches cpu (batch 1-32, strides, pads, multipliers)", async () => {
  for (const [i, c] of CASES.entries()) {
    const dyShape = outShape(c);
    const ws = randomArray(sizeOf(c.filter), 20 + i);
    const dys = randomArray(sizeOf(dyShape), 60 + i);
    const body = () =>
      tf.engine().runKernel("DepthwiseConv2dNativeBackpropInput", {
        dy: tf.tensor(dys, dyShape),
        filter: tf.tensor(ws, c.filter),
      }, { strides: c.strides, pad: c.pad, dilations: 1, inputShape: c.x } as never) as tf.Tensor;
    const err = relativeError(await runOn("wasm", body), await runOn("cpu", body));
    assert.ok(err <= TOLERANCE, `input grad ${JSON.stringify(c)}: relative error ${err}`);
  }
});

Deno.test("depthwise gradient kernels refuse int32 and dilations with an actionable error", async () => {
  await tf.setBackend("wasm");
  assert.throws(
    () =>
      tf.engine().runKernel("DepthwiseConv2dNativeBackpropFilter", {
        x: tf.zeros([1, 5, 5, 2], "int32"),
        dy: tf.zeros([1, 3, 3, 2]),
      }, { strides: 1, pad: "valid", filterShape: [3, 3, 2, 1] } as never),
    (e: unknown) => e instanceof UnsupportedKernelArgumentError && /float32/.test(e.message),
  );
  assert.throws(
    () =>
      tf.engine().runKernel("DepthwiseConv2dNativeBackpropInput", {
        dy: tf.zeros([1, 1, 1, 2]),
        filter: tf.zeros([3, 3, 2, 1]),
      }, { strides: 1, pad: "valid", dilations: 2, inputShape: [1, 5, 5, 2] } as never),
    (e: unknown) => e instanceof UnsupportedKernelArgumentError && /dilations/.test(e.message),
  );
});

/**
 * A MobileNet v1 tail: a frozen block, then the "unfrozen" block 13 (depthwise 3x3, BN, ReLU6,
 * pointwise 1x1, BN, ReLU6) inside a FrozenModel (BN in inference mode), then a dense head.
 */
function mobileNetTail(seed: number): { model: tf.LayersModel; trainable: string[] } {
  const input = tf.input({ shape: [7, 7, 16] });
  const init = (s: number) => tf.initializers.glorotUniform({ seed: seed + s });
  let x = tf.layers.depthwiseConv2d({
    kernelSize: 3,
    padding: "same",
    useBias: false,
    depthwiseInitializer: init(1),
    name: "conv_dw_12",
  }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.conv2d({
    filters: 16,
    kernelSize: 1,
    useBias: false,
    kernelInitializer: init(2),
    name: "conv_pw_12",
  }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.depthwiseConv2d({
    kernelSize: 3,
    padding: "same",
    useBias: false,
    depthwiseInitializer: init(3),
    name: "conv_dw_13",
  }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({
    name: "conv_dw_13_bn",
    movingMeanInitializer: tf.initializers.constant({ value: 0.1 }),
    movingVarianceInitializer: tf.initializers.constant({ value: 2 }),
  }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU({ maxValue: 6, name: "conv_dw_13_relu" }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.conv2d({
    filters: 32,
    kernelSize: 1,
    useBias: false,
    kernelInitializer: init(4),
    name: "conv_pw_13",
  }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ name: "conv_pw_13_bn" }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU({ maxValue: 6, name: "conv_pw_13_relu" }).apply(x) as tf.SymbolicTensor;
  const base = new FrozenModel({ inputs: input, outputs: x, name: "base" });
  base.trainable = true;
  for (const layer of base.layers) {
    layer.trainable = /^conv_(dw|pw)_13$/.test(layer.name);
  }
  const outer = tf.input({ shape: [7, 7, 16] });
  let y = base.apply(outer) as tf.SymbolicTensor;
  y = tf.layers.flatten().apply(y) as tf.SymbolicTensor;
  y = tf.layers.dense({
    units: 1,
    activation: "sigmoid",
    kernelInitializer: init(5),
    name: "head",
  }).apply(
    y,
  ) as tf.SymbolicTensor;
  const model = tf.model({ inputs: outer, outputs: y });
  return { model, trainable: model.trainableWeights.map((w) => w.originalName) };
}

Deno.test("a MobileNet block with BN in inference mode: gradients on wasm match cpu", async () => {
  const xs = randomArray(8 * 7 * 7 * 16, 99, 3);
  const ys = new Float32Array([1, 0, 1, 1, 0, 0, 1, 0]);
  const grads = async (backend: string) => {
    await tf.setBackend(backend);
    const { model, trainable } = mobileNetTail(5);
    const out = tf.tidy(() => {
      const x = tf.tensor(xs, [8, 7, 7, 16]);
      const y = tf.tensor(ys, [8, 1]);
      const { value, grads } = tf.variableGrads(
        () =>
          tf.metrics.binaryCrossentropy(y, model.apply(x, { training: true }) as tf.Tensor)
            .mean() as tf.Scalar,
        model.trainableWeights.map((w) => w.read() as tf.Variable),
      );
      return {
        loss: value.dataSync()[0],
        grads: model.trainableWeights.map((w) =>
          grads[(w.read() as tf.Variable).name].dataSync() as Float32Array
        ),
      };
    });
    model.dispose();
    return { ...out, trainable };
  };
  const wasm = await grads("wasm");
  const cpu = await grads("cpu");
  await tf.setBackend("wasm");
  // Only block 13's two convolutions and the head train; BN weights and block 12 stay frozen.
  assert.deepEqual(
    wasm.trainable,
    ["conv_dw_13/depthwise_kernel", "conv_pw_13/kernel", "head/kernel", "head/bias"],
  );
  assert.ok(Math.abs(wasm.loss - cpu.loss) <= 1e-5 * Math.max(1, Math.abs(cpu.loss)));
  wasm.grads.forEach((g, i) => {
    assert.ok(g.some((v) => v !== 0), `gradient of ${wasm.trainable[i]} is all zero`);
    const err = relativeError(g, cpu.grads[i]);
    assert.ok(err <= TOLERANCE, `${wasm.trainable[i]}: relative error ${err}`);
  });
});
