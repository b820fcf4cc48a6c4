/**
 * `Sum` for the tfjs `wasm` backend, for reductions over leading axes.
 *
 * The wasm backend reduces only innermost axes; any other reduction first transposes the whole
 * input element by element. Bias gradients reduce `[N, H, W, C]` over `N, H, W` (17 ms for the
 * article's first convolution at batch 32). A reduction over a prefix of the axes is a global
 * average pool of the input viewed as `[1, R / d, d, rest]` (XNNPACK, at memory speed; 1.5 ms),
 * times the count. (A product with a row of ones is not faster: XNNPACK repacks the large
 * right-hand operand on every call.) Every other case goes to the upstream kernel.
 *
 * @module
 */
import {
  type KernelConfig,
  type KernelFunc,
  Sum,
  type TensorInfo,
  util,
} from "@tensorflow/tfjs-core";
import { WASM_BACKEND_NAME, withKernelScope } from "./ops.ts";

/** Attributes of the `Sum` kernel. */
export interface SumAttrs {
  axis: number | number[];
  keepDims: boolean;
}

/**
 * `x` summed over its leading axes `[0, ..., k-1]` as a global average pool times the count, or
 * `undefined` when the reduction is not of that form (or too small to matter).
 *
 * @param x the tensor to reduce
 * @param attrs reduction axes and keepDims
 * @param backend the wasm backend
 * @returns the sum, or `undefined` to let the caller use the upstream kernel
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import "@tensorflow/tfjs-backend-wasm";
 * import { leadingAxesSumWasm } from "./sum.ts";
 *
 * await tf.setBackend("wasm");
 * const x = tf.ones([64, 64, 8]);
 * const info = leadingAxesSumWasm(x, { axis: [0, 1], keepDims: false }, tf.backend());
 * tf.engine().makeTensorFromTensorInfo(info!).print(); // eight 4096s
 * ```
 */
export function leadingAxesSumWasm(
  x: TensorInfo,
  attrs: SumAttrs,
  backend: unknown,
): TensorInfo | undefined {
  if (x.dtype !== "float32" || x.shape.length < 2) return undefined;
  const axes = util.parseAxisParam(attrs.axis, x.shape).slice().sort((p, q) => p - q);
  const k = axes.length;
  if (k === 0 || k === x.shape.length || axes.some((ax, i) => ax !== i)) return undefined;
  const rows = util.sizeFromShape(x.shape.slice(0, k));
  const rest = x.shape.slice(k);
  const cols = util.sizeFromShape(rest);
  if (rows < 256 || cols === 0) return undefined;
  // Pool window [rows / d, d] over the reduced rows, d = the last reduced axis.
  const d = x.shape[k - 1];
  const outShape = attrs.keepDims ? [...x.shape.slice(0, k).map(() => 1), ...rest] : rest;
  return withKernelScope(backend, (s) => {
    const view = s.reshape(x, [1, rows / d, d, cols]);
    const mean = s.run("AvgPool", { x: view }, {
      filterSize: [rows / d, d],
      strides: [1, 1],
      pad: "valid",
      dimRoundingMode: undefined as unknown as string,
    });
    const count = s.fill([1], rows);
    return s.reshape(s.binary("Multiply", mean, count), outShape);
  });
}

/**
 * The kernel config replacing the wasm `Sum`: leading-axes float32 reductions go through
 * {@linkcode leadingAxesSumWasm}, everything else to `upstream`.
 *
 * @param upstream the wasm backend's own `Sum` kernel function
 *
 * @example
 * ```ts
 * import "@tensorflow/tfjs-backend-wasm";
 * import { getKernel, registerKernel, unregisterKernel } from "@tensorflow/tfjs-core";
 * import { sumConfig } from "./sum.ts";
 *
 * const upstream = getKernel("Sum", "wasm").kernelFunc;
 * unregisterKernel("Sum", "wasm");
 * registerKernel(sumConfig(upstream));
 * ```
 */
export function sumConfig(upstream: KernelFunc): KernelConfig {
  return {
    kernelName: Sum,
    backendName: WASM_BACKEND_NAME,
    kernelFunc: (args) =>
      leadingAxesSumWasm(
        args.inputs.x as TensorInfo,
        args.attrs as unknown as SumAttrs,
        args.backend,
      ) ??
        upstream(args),
  };
}
