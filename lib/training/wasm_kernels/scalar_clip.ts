/**
 * `Minimum` and `Maximum` for the tfjs `wasm` backend, when one side is a single number.
 *
 * The wasm backend runs both as a generic broadcasting loop: `minimum(x, 6)`, the cap of
 * Keras' `ReLU(max_value=6)` that MobileNet applies after each of its 27 convolutions, took
 * 20.8 ms on `[32, 112, 112, 8]` where `ClipByValue` (XNNPACK's clamp) takes 2.0 ms; in a
 * fine-tuning step of MobileNet v1 0.25 at 224 px (batch 32) the 27 calls took 218 of 1,094 ms.
 * With one float32 side of a single element (and no higher rank than the other), the result is
 * a clamp of the other side: `minimum(x, c) = clip(x, -Infinity, c)`,
 * `maximum(x, c) = clip(x, c, Infinity)`. Everything else goes to the upstream kernel.
 *
 * Caveat (cpu differs): a NaN in `x` may come out as the bound instead of NaN.
 *
 * @module
 */
import {
  type KernelConfig,
  type KernelFunc,
  Maximum,
  Minimum,
  type TensorInfo,
  util,
} from "@tensorflow/tfjs-core";
import { readValues, WASM_BACKEND_NAME, withKernelScope } from "./ops.ts";

/**
 * `minimum(a, b)` or `maximum(a, b)` as a clamp when `a` or `b` is a single float32 number
 * (rank no higher than the other's); `undefined` otherwise.
 *
 * @param kind which of the two
 * @param a first input
 * @param b second input
 * @param backend the wasm backend
 * @returns the result, or `undefined` to let the caller use the upstream kernel
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import "@tensorflow/tfjs-backend-wasm";
 * import { scalarClipWasm } from "./scalar_clip.ts";
 *
 * await tf.setBackend("wasm");
 * const info = scalarClipWasm("Minimum", tf.tensor([1, 7, 9]), tf.scalar(6), tf.backend());
 * tf.engine().makeTensorFromTensorInfo(info!).print(); // [1, 6, 6]
 * ```
 */
export function scalarClipWasm(
  kind: "Minimum" | "Maximum",
  a: TensorInfo,
  b: TensorInfo,
  backend: unknown,
): TensorInfo | undefined {
  if (a.dtype !== "float32" || b.dtype !== "float32") return undefined;
  const single = (t: TensorInfo) => util.sizeFromShape(t.shape) === 1;
  const [x, bound] = single(b) && b.shape.length <= a.shape.length
    ? [a, b]
    : single(a) && a.shape.length <= b.shape.length
    ? [b, a]
    : [undefined, undefined];
  if (x === undefined || bound === undefined || util.sizeFromShape(x.shape) === 0) {
    return undefined;
  }
  const value = readValues(backend, bound)[0];
  if (Number.isNaN(value)) return undefined;
  return withKernelScope(backend, (s) =>
    s.run("ClipByValue", { x }, {
      clipValueMin: kind === "Minimum" ? Number.NEGATIVE_INFINITY : value,
      clipValueMax: kind === "Minimum" ? value : Number.POSITIVE_INFINITY,
    }));
}

/**
 * The kernel config replacing the wasm `Minimum` or `Maximum`: a single-number side goes
 * through {@linkcode scalarClipWasm}, everything else to `upstream`.
 *
 * @param kind which kernel
 * @param upstream the wasm backend's own kernel function
 *
 * @example
 * ```ts
 * import "@tensorflow/tfjs-backend-wasm";
 * import { getKernel, registerKernel, unregisterKernel } from "@tensorflow/tfjs-core";
 * import { scalarClipConfig } from "./scalar_clip.ts";
 *
 * const upstream = getKernel("Minimum", "wasm").kernelFunc;
 * unregisterKernel("Minimum", "wasm");
 * registerKernel(scalarClipConfig("Minimum", upstream));
 * ```
 */
export function scalarClipConfig(kind: "Minimum" | "Maximum", upstream: KernelFunc): KernelConfig {
  return {
    kernelName: kind === "Minimum" ? Minimum : Maximum,
    backendName: WASM_BACKEND_NAME,
    kernelFunc: (args) =>
      scalarClipWasm(
        kind,
        args.inputs.a as TensorInfo,
        args.inputs.b as TensorInfo,
        args.backend,
      ) ?? upstream(args),
  };
}
