/**
 * `BatchMatMul` for the tfjs `wasm` backend, routing transposed products to XNNPACK.
 *
 * tfjs-backend-wasm 4.22 only uses XNNPACK's fast matrix product when neither operand is
 * transposed and the batch is 1; `transposeA`/`transposeB` fall back to a scalar blocked loop
 * (about 20 ms for each of the two gradient products of the article's Dense(6272 -> 128) layer
 * at batch 32, more than the layer's forward pass). Gradients of `matMul` always use transposed
 * products. This kernel materialises the transposes with the (fast) Transpose kernel and calls
 * the upstream kernel without transposes, in whichever orientation moves less data:
 *
 * - `op(A) @ op(B)` directly, transposing the operands that need it, or
 * - `(op(B)^T @ op(A)^T)^T`, transposing the other operands and the result.
 *
 * Anything else (batched products, non-float32) goes to the upstream kernel unchanged.
 *
 * @module
 */
import {
  BatchMatMul,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from "@tensorflow/tfjs-core";
import { type KernelScope, WASM_BACKEND_NAME, withKernelScope } from "./ops.ts";

/** Attributes of the `BatchMatMul` kernel. */
export interface BatchMatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

const size = (t: TensorInfo) => t.shape.reduce((a, b) => a * b, 1);

/**
 * Computes `op(a) @ op(b)` for rank-2 (or batch-1) float32 operands with at least one transpose,
 * using only untransposed products of the `upstream` kernel.
 *
 * @param a left operand
 * @param b right operand
 * @param attrs which operands are transposed
 * @param upstream the wasm backend's own `BatchMatMul` kernel function
 * @param scope where the intermediates are created and tracked
 * @returns the product, of the shape the upstream kernel would return
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import "@tensorflow/tfjs-backend-wasm";
 * import { getKernel } from "@tensorflow/tfjs-core";
 * import { transposedMatMulWasm } from "./batch_mat_mul.ts";
 * import { withKernelScope } from "./ops.ts";
 *
 * await tf.setBackend("wasm");
 * const upstream = getKernel("BatchMatMul", "wasm").kernelFunc;
 * const a = tf.tensor2d([[1, 2], [3, 4]]);
 * const info = withKernelScope(tf.backend(), (s) =>
 *   transposedMatMulWasm(a, a, { transposeA: true, transposeB: false }, upstream, s));
 * tf.engine().makeTensorFromTensorInfo(info).print(); // [[10, 14], [14, 20]]
 * ```
 */
export function transposedMatMulWasm(
  a: TensorInfo,
  b: TensorInfo,
  attrs: BatchMatMulAttrs,
  upstream: KernelFunc,
  scope: KernelScope,
): TensorInfo {
  const { transposeA, transposeB } = attrs;
  const a2 = scope.reshape(a, a.shape.slice(-2));
  const b2 = scope.reshape(b, b.shape.slice(-2));
  const m = transposeA ? a2.shape[1] : a2.shape[0];
  const n = transposeB ? b2.shape[0] : b2.shape[1];
  const outShape = [...(a.shape.length >= b.shape.length ? a.shape : b.shape).slice(0, -2), m, n];
  const mm = (x: TensorInfo, y: TensorInfo) => {
    const out = upstream({
      inputs: { a: x, b: y },
      backend: scope.backend,
      attrs: { transposeA: false, transposeB: false },
    }) as TensorInfo;
    return scope.track(out);
  };
  // Data moved: transposes, plus XNNPACK packing its right operand, plus the result transpose.
  const direct = (transposeA ? size(a) : 0) + (transposeB ? size(b) : 0) + size(b);
  const swapped = (transposeA ? 0 : size(a)) + (transposeB ? 0 : size(b)) + size(a) + m * n;
  let out: TensorInfo;
  if (direct <= swapped) {
    const left = transposeA ? scope.transpose(a2, [1, 0]) : a2;
    const right = transposeB ? scope.transpose(b2, [1, 0]) : b2;
    out = mm(left, right);
  } else {
    const left = transposeB ? b2 : scope.transpose(b2, [1, 0]); // op(B)^T: [N, K]
    const right = transposeA ? a2 : scope.transpose(a2, [1, 0]); // op(A)^T: [K, M]
    out = scope.transpose(mm(left, right), [1, 0]);
  }
  return scope.reshape(out, outShape);
}

/**
 * The kernel config replacing the wasm `BatchMatMul`: transposed rank-2 products go through
 * {@linkcode transposedMatMulWasm}, everything else to `upstream` (the kernel being replaced).
 *
 * @param upstream the wasm backend's own `BatchMatMul` kernel function
 *
 * @example
 * ```ts
 * import "@tensorflow/tfjs-backend-wasm";
 * import { getKernel, registerKernel, unregisterKernel } from "@tensorflow/tfjs-core";
 * import { batchMatMulConfig } from "./batch_mat_mul.ts";
 *
 * const upstream = getKernel("BatchMatMul", "wasm").kernelFunc;
 * unregisterKernel("BatchMatMul", "wasm");
 * registerKernel(batchMatMulConfig(upstream));
 * ```
 */
export function batchMatMulConfig(upstream: KernelFunc): KernelConfig {
  return {
    kernelName: BatchMatMul,
    backendName: WASM_BACKEND_NAME,
    kernelFunc: (args) => {
      const { inputs, backend, attrs } = args;
      const a = inputs.a as TensorInfo;
      const b = inputs.b as TensorInfo;
      const { transposeA, transposeB } = attrs as unknown as BatchMatMulAttrs;
      const batch = (t: TensorInfo) => t.shape.slice(0, -2).reduce((x, y) => x * y, 1);
      if (
        (!transposeA && !transposeB) || batch(a) !== 1 || batch(b) !== 1 ||
        a.dtype !== "float32" || b.dtype !== "float32"
      ) {
        return upstream(args);
      }
      return withKernelScope(
        backend,
        (s: KernelScope) => transposedMatMulWasm(a, b, { transposeA, transposeB }, upstream, s),
      );
    },
  };
}
