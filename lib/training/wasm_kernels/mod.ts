/**
 * Training kernels for the tfjs `wasm` backend.
 *
 * `@tensorflow/tfjs-backend-wasm` 4.22 cannot train convolutional networks
 * (`Kernel 'Conv2DBackpropFilter' not registered for backend 'wasm'`, tfjs issue 8474) nor
 * depthwise ones (no `DepthwiseConv2dNativeBackpropFilter`/`Input`: MobileNet cannot be
 * fine-tuned), its
 * `MaxPoolGrad` is wrong (windows of values <= 0 and ties), and several kernels a training step
 * needs are slow scalar loops or needless copies (`Conv2DBackpropInput`, transposed `BatchMatMul`,
 * leading-axes `Sum`, `Identity`). This module provides replacements, each built from the wasm
 * backend's own native kernels (XNNPACK convolution, matrix product, pooling and element-wise ops,
 * transposes, pads, concatenations), with no JavaScript loops over tensor data. With all of them
 * the article's CNN trains at ~190 images/s at batch 32 on one core (tfjs cpu backend: 0.7).
 *
 * Usage: import the wasm backend, call {@linkcode registerWasmTrainingKernels}, then
 * `await tf.setBackend("wasm")` and train as usual. Under Deno the backend finds its `.wasm`
 * files by itself (the package's Node build reads them from its `dist/` folder; the SIMD,
 * single-threaded binary is used), so no `setWasmPaths` is needed.
 *
 * @module
 */
import {
  getKernel,
  type KernelConfig,
  type KernelFunc,
  registerKernel,
  unregisterKernel,
} from "@tensorflow/tfjs-core";
import { batchMatMulConfig } from "./batch_mat_mul.ts";
import { identityConfig } from "./identity.ts";
import { sumConfig } from "./sum.ts";
import { conv2DBackpropFilterConfig } from "./conv2d_backprop_filter.ts";
import { conv2DBackpropInputConfig } from "./conv2d_backprop_input.ts";
import { maxPoolGradConfig } from "./max_pool_grad.ts";
import {
  depthwiseBackpropFilterConfig,
  depthwiseBackpropInputConfig,
} from "./depthwise_backprop.ts";
import { scalarClipConfig } from "./scalar_clip.ts";
import { batchNormConfig } from "./batch_norm.ts";
import { tileConfig } from "./tile.ts";
import { MissingWasmKernelError, WASM_BACKEND_NAME } from "./ops.ts";

export { transposedMatMulWasm } from "./batch_mat_mul.ts";
export { conv2DBackpropFilterWasm, type FilterGradVariant } from "./conv2d_backprop_filter.ts";
export { conv2DBackpropInputWasm } from "./conv2d_backprop_input.ts";
export { depthwiseBackpropFilterWasm, depthwiseBackpropInputWasm } from "./depthwise_backprop.ts";
export { maxPoolGradWasm } from "./max_pool_grad.ts";
export { leadingAxesSumWasm } from "./sum.ts";
export { scalarClipWasm } from "./scalar_clip.ts";
export { channelBatchNormWasm } from "./batch_norm.ts";
export { concatTileWasm } from "./tile.ts";
export {
  createKernelScope,
  type KernelScope,
  MissingWasmKernelError,
  UnsupportedKernelArgumentError,
  withKernelScope,
} from "./ops.ts";

/** Why a kernel of this module is registered. */
export type KernelReason =
  /** The wasm backend has no such kernel. */
  | "missing"
  /** The wasm backend has one, but it gives wrong results. */
  | "incorrect"
  /** The wasm backend has a correct one that is much slower than this one. */
  | "slow";

/** One kernel this module provides. */
export interface TrainingKernel {
  /** tfjs kernel name, e.g. `"Conv2DBackpropFilter"`. */
  readonly kernelName: string;
  /** Why it is needed with tfjs-backend-wasm 4.22. */
  readonly reason: KernelReason;
  /** What is wrong or missing upstream, in one sentence. */
  readonly why: string;
  /**
   * Builds the kernel config to register, given the wasm kernel it replaces (`undefined` for a
   * missing kernel).
   */
  readonly config: (upstream: KernelFunc | undefined) => KernelConfig;
}

/** Options of {@linkcode registerWasmTrainingKernels}. */
export interface RegisterWasmTrainingKernelsOptions {
  /**
   * Also replace wasm kernels that exist upstream but are wrong (`MaxPoolGrad`) or slow
   * (`Conv2DBackpropInput`). Default `true`. With `false` only missing kernels are registered
   * (max-pool gradients are then wrong for windows of values <= 0 and for ties).
   */
  readonly replaceUpstream?: boolean;
}

/** Property marking kernel configs registered by this module (makes registration idempotent). */
const OWN_KERNEL = Symbol.for("wasm_kernels.training-kernel");

/**
 * The kernels this module provides, and why each is needed.
 *
 * @example
 * ```ts
 * import { wasmTrainingKernels } from "./mod.ts";
 *
 * for (const k of wasmTrainingKernels()) console.log(k.kernelName, k.reason);
 * ```
 */
export function wasmTrainingKernels(): TrainingKernel[] {
  const need = (name: string, upstream: KernelFunc | undefined): KernelFunc => {
    if (upstream == null) throw new MissingWasmKernelError(name);
    return upstream;
  };
  return [
    {
      kernelName: "Conv2DBackpropFilter",
      reason: "missing",
      why: "not registered: no conv net can train on wasm (tfjs issue 8474)",
      config: () => conv2DBackpropFilterConfig(),
    },
    {
      kernelName: "DepthwiseConv2dNativeBackpropFilter",
      reason: "missing",
      why: "not registered: no depthwise convolution (MobileNet) can train on wasm",
      config: () => depthwiseBackpropFilterConfig(),
    },
    {
      kernelName: "DepthwiseConv2dNativeBackpropInput",
      reason: "missing",
      why: "not registered: gradients cannot flow back through a depthwise convolution on wasm",
      config: () => depthwiseBackpropInputConfig(),
    },
    {
      kernelName: "MaxPoolGrad",
      reason: "incorrect",
      why: "starts its running max at FLT_MIN (windows of values <= 0 go wrong) and lets the " +
        "last tie win",
      config: () => maxPoolGradConfig(),
    },
    {
      kernelName: "Conv2DBackpropInput",
      reason: "slow",
      why: "a scalar C++ loop nest, ~9x slower than the equivalent XNNPACK convolution",
      config: () => conv2DBackpropInputConfig(),
    },
    {
      kernelName: "BatchMatMul",
      reason: "slow",
      why: "transposed products (all matMul gradients) use a scalar loop instead of XNNPACK",
      config: (upstream) => batchMatMulConfig(need("BatchMatMul", upstream)),
    },
    {
      kernelName: "Sum",
      reason: "slow",
      why: "reducing leading axes (bias gradients) transposes the input element by element",
      config: (upstream) => sumConfig(need("Sum", upstream)),
    },
    {
      kernelName: "Identity",
      reason: "slow",
      why: "copies the data; tfjs-layers runs it on every layer input (the cpu backend shares it)",
      config: (upstream) => identityConfig(need("Identity", upstream)),
    },
    {
      kernelName: "Minimum",
      reason: "slow",
      why: "a generic broadcasting loop, 10x slower than a clamp for minimum(x, 6) (ReLU6)",
      config: (upstream) => scalarClipConfig("Minimum", need("Minimum", upstream)),
    },
    {
      kernelName: "Maximum",
      reason: "slow",
      why: "a generic broadcasting loop, 10x slower than a clamp against a single number",
      config: (upstream) => scalarClipConfig("Maximum", need("Maximum", upstream)),
    },
    {
      kernelName: "FusedBatchNorm",
      reason: "slow",
      why: "a scalar loop; per-channel normalisation is a 1x1 depthwise convolution (XNNPACK)",
      config: (upstream) => batchNormConfig(need("FusedBatchNorm", upstream)),
    },
    {
      kernelName: "Tile",
      reason: "slow",
      why: "an element-by-element loop with index arithmetic; concatenations copy whole blocks",
      config: (upstream) => tileConfig(need("Tile", upstream)),
    },
  ];
}

/**
 * Registers the kernels the tfjs `wasm` backend needs to train the article's CNNs.
 *
 * Idempotent: a kernel already registered by this function is left alone. Missing kernels are
 * always registered; kernels wasm has but gets wrong or slow are replaced unless
 * `replaceUpstream` is `false`. Call it after importing `@tensorflow/tfjs-backend-wasm` and
 * before (or after) `tf.setBackend("wasm")`.
 *
 * @param options see {@linkcode RegisterWasmTrainingKernelsOptions}
 * @returns the names of the kernels this call registered (empty when all were in place)
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import "@tensorflow/tfjs-backend-wasm";
 * import { registerWasmTrainingKernels } from "./mod.ts";
 *
 * // ["Conv2DBackpropFilter", "DepthwiseConv2dNativeBackpropFilter",
 * //  "DepthwiseConv2dNativeBackpropInput", "MaxPoolGrad", "Conv2DBackpropInput", "BatchMatMul",
 * //  "Sum", "Identity", "Minimum", "Maximum", "FusedBatchNorm", "Tile"]
 * console.log(registerWasmTrainingKernels());
 * console.log(registerWasmTrainingKernels()); // []
 * await tf.setBackend("wasm");
 * // model.fit(...) now works on wasm.
 * ```
 */
export function registerWasmTrainingKernels(
  options: RegisterWasmTrainingKernelsOptions = {},
): string[] {
  const replaceUpstream = options.replaceUpstream ?? true;
  const registered: string[] = [];
  for (const { kernelName, reason, config } of wasmTrainingKernels()) {
    const existing = getKernel(kernelName, WASM_BACKEND_NAME) as
      | (KernelConfig & { [OWN_KERNEL]?: true })
      | undefined;
    if (existing != null) {
      if (existing[OWN_KERNEL] === true) continue;
      if (reason === "missing" || !replaceUpstream) continue;
      unregisterKernel(kernelName, WASM_BACKEND_NAME);
    }
    const replacement: KernelConfig & { [OWN_KERNEL]?: true } = config(existing?.kernelFunc);
    // A replacement may call the kernel it replaces, whose setup (binding its wasm function)
    // runs when the backend initialises: keep the upstream setup/dispose hooks.
    if (existing?.setupFunc != null) replacement.setupFunc = existing.setupFunc;
    if (existing?.disposeFunc != null) replacement.disposeFunc = existing.disposeFunc;
    replacement[OWN_KERNEL] = true;
    registerKernel(replacement);
    registered.push(kernelName);
  }
  return registered;
}
