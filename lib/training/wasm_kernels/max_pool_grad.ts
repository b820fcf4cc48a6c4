/**
 * `MaxPoolGrad` for the tfjs `wasm` backend.
 *
 * tfjs-backend-wasm 4.22 registers a `MaxPoolGrad` that is wrong: it starts its running maximum
 * at `FLT_MIN` (the smallest *positive* float), so windows whose values are all <= 0 send their
 * gradient to the wrong place, and on ties the *last* maximum wins where TensorFlow and the tfjs
 * cpu backend let the *first* (row-major) one win. This kernel reproduces the cpu backend.
 *
 * It only uses fast native kernels (XNNPACK element-wise ops with broadcasting, MaxPool, Relu,
 * Step) and reshapes; no per-window sampling:
 *
 * 1. Group the window offsets `(i, j) = (qh*sh + rh, qw*sw + rw)` by `(qh, qw)`. Within one group
 *    the offsets tile the input without overlap: the input cropped/padded (with -Infinity) to the
 *    group's "frame" of `OH*sh x OW*sw` pixels, viewed as `[N*OH, sh, OW, sw, C]`, holds at
 *    `[n*OH + oh, rh, ow, rw, c]` the value at offset `(i, j)` of window `(n, oh, ow, c)`.
 *    A non-overlapping pool (2x2 stride 2) is one group whose frame is (a crop of) the input;
 *    3x3 stride 2 has 4 groups.
 * 2. For each position, `v = step(y - x, alpha = -1) * (-w)` where `w = K - (i*KW + j) >= 1`
 *    ranks the offsets (earlier offset, larger rank): maxima get `v = w >= 1`, other positions
 *    `v <= -1` (positions outside the window get 0). The per-window maximum of `v`
 *    (`MaxPool` on the frame, then `Maximum` over groups) is the rank of the *first* maximum.
 * 3. `first = relu(v - (vmax - 1))` is exactly 1 at the first maximum and 0 elsewhere (all values
 *    are small integers), and `dx = first * dy` broadcast over the window, scattered back by
 *    un-cropping each group's frame (Pad) and adding the groups (AddN).
 *
 * Caveats (cpu differs): NaN inputs, and windows whose values are all -Infinity.
 *
 * @module
 */
import {
  backend_util,
  type KernelConfig,
  MaxPoolGrad,
  type TensorInfo,
} from "@tensorflow/tfjs-core";
import {
  type KernelScope,
  UnsupportedKernelArgumentError,
  WASM_BACKEND_NAME,
  withKernelScope,
} from "./ops.ts";

/** Attributes of the `MaxPoolGrad` kernel, as tfjs-core passes them. */
export interface MaxPoolGradAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: "valid" | "same" | number | backend_util.ExplicitPadding;
  dimRoundingMode?: "floor" | "round" | "ceil";
}

/**
 * Crops (negative amounts) and pads (positive amounts) the rows and columns of an NHWC tensor.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import "@tensorflow/tfjs-backend-wasm";
 * import { padOrCrop2D } from "./max_pool_grad.ts";
 * import { withKernelScope } from "./ops.ts";
 *
 * await tf.setBackend("wasm");
 * const x = tf.zeros([2, 29, 29, 8]);
 * // Drop the last row and column: [2, 28, 28, 8].
 * const info = withKernelScope(tf.backend(), (s) => padOrCrop2D(x, [0, -1], [0, -1], 0, s));
 * console.log(info.shape);
 * ```
 */
export function padOrCrop2D(
  x: TensorInfo,
  rows: [number, number],
  cols: [number, number],
  value: number,
  scope: KernelScope,
): TensorInfo {
  const [n, h, w, c] = x.shape;
  let out = x;
  if (rows[0] < 0 || rows[1] < 0 || cols[0] < 0 || cols[1] < 0) {
    // A 3D view [N, H, W*C] keeps whole rows contiguous, so the slice copies long runs.
    const r0 = Math.max(0, -rows[0]);
    const c0 = Math.max(0, -cols[0]);
    const hh = h - r0 - Math.max(0, -rows[1]);
    const ww = w - c0 - Math.max(0, -cols[1]);
    const view = scope.reshape(x, [n, h, w * c]);
    const cropped = scope.slice(view, [0, r0, c0 * c], [n, hh, ww * c]);
    out = scope.reshape(cropped, [n, hh, ww, c]);
  }
  const pr: [number, number] = [Math.max(0, rows[0]), Math.max(0, rows[1])];
  const pc: [number, number] = [Math.max(0, cols[0]), Math.max(0, cols[1])];
  if (pr[0] + pr[1] + pc[0] + pc[1] > 0) {
    out = scope.pad(out, [[0, 0], pr, pc, [0, 0]], value);
  }
  return out;
}

/**
 * Computes the gradient of an NHWC 2D max pool on the wasm backend.
 *
 * @param dy gradient of the pooled output `[N, OH, OW, C]`
 * @param input the pool's input `[N, H, W, C]`
 * @param output the pool's output `[N, OH, OW, C]`
 * @param attrs the pool's filter size, strides and padding
 * @param scope where the intermediates are created and tracked
 * @returns the input gradient `[N, H, W, C]`
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import "@tensorflow/tfjs-backend-wasm";
 * import { maxPoolGradWasm } from "./max_pool_grad.ts";
 * import { withKernelScope } from "./ops.ts";
 *
 * await tf.setBackend("wasm");
 * const x = tf.tensor4d([1, 3, 2, 3], [1, 2, 2, 1]);
 * const y = tf.maxPool(x, 2, 2, "valid");
 * const dy = tf.ones(y.shape);
 * const info = withKernelScope(tf.backend(), (s) =>
 *   maxPoolGradWasm(dy, x, y, { filterSize: 2, strides: 2, pad: "valid" }, s));
 * tf.engine().makeTensorFromTensorInfo(info).print(); // [0, 1, 0, 0]: the first 3 wins
 * ```
 */
export function maxPoolGradWasm(
  dy: TensorInfo,
  input: TensorInfo,
  output: TensorInfo,
  attrs: MaxPoolGradAttrs,
  scope: KernelScope,
): TensorInfo {
  const { filterSize, strides, pad, dimRoundingMode } = attrs;
  if (input.dtype !== "float32" || dy.dtype !== "float32" || output.dtype !== "float32") {
    throw new UnsupportedKernelArgumentError(
      "MaxPoolGrad",
      `only float32 is supported, got input ${input.dtype}, output ${output.dtype}, dy ` +
        `${dy.dtype}; cast the pool's input to float32.`,
    );
  }
  const info = backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    filterSize,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const { batchSize: n, inHeight, inWidth, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  const qhCount = Math.ceil(kh / sh);
  const qwCount = Math.ceil(kw / sw);

  // The "superframe" holds the windows of every group: rows [-top, -top + bh * sh) of the input
  // (padding with -Infinity, cropping rows no window reaches), same for columns, viewed as
  // blocks [N * bh, sh, bw, sw, C]. Group (qh, qw) compares block (b, b') with window
  // (b - qh, b' - qw), so instead of shifting the (large) input per group, the (pooled-size)
  // y, dy and thresholds are shifted by padding.
  const bh = oh + qhCount - 1;
  const bw = ow + qwCount - 1;
  const rowsToSuper: [number, number] = [top, bh * sh - top - inHeight];
  const colsToSuper: [number, number] = [left, bw * sw - left - inWidth];
  const superframe = padOrCrop2D(input, rowsToSuper, colsToSuper, Number.NEGATIVE_INFINITY, scope);
  const x5 = scope.reshape(superframe, [n * bh, sh, bw, sw, c]);
  const toBlocks = (t: TensorInfo, qh: number, qw: number, value: number) => {
    const shifted = padOrCrop2D(t, [qh, qhCount - 1 - qh], [qw, qwCount - 1 - qw], value, scope);
    return scope.reshape(shifted, [n * bh, 1, bw, 1, c]);
  };

  // Pass 1: per group, v = rank of the offset at maxima, <= -1 (or 0) elsewhere.
  const groups: Array<{ qh: number; qw: number; v: TensorInfo }> = [];
  let vmax: TensorInfo | undefined;
  for (let qh = 0; qh < qhCount; qh++) {
    for (let qw = 0; qw < qwCount; qw++) {
      // Blocks without a window get y = +Infinity: nothing there counts as a maximum.
      const y5 = toBlocks(output, qh, qw, Number.POSITIVE_INFINITY);
      const gap = scope.binary("Sub", y5, x5); // 0 exactly at maxima, > 0 elsewhere
      scope.dispose(y5);
      const notMax = scope.run("Step", { x: gap }, { alpha: -1 }); // -1 at maxima, else 1
      scope.dispose(gap);
      const negRank = scope.write(rankPattern(qh, qw, kh, kw, sh, sw), [1, sh, 1, sw, 1]);
      const v5 = scope.binary("Multiply", notMax, negRank);
      scope.dispose(notMax);
      scope.dispose(negRank);
      const blockMax = scope.run("MaxPool", { x: scope.reshape(v5, [n, bh * sh, bw * sw, c]) }, {
        filterSize: [sh, sw],
        strides: [sh, sw],
        pad: "valid",
        dimRoundingMode: undefined as unknown as string,
      });
      // Back from blocks to windows.
      const pooled = padOrCrop2D(
        blockMax,
        [-qh, qh + 1 - qhCount],
        [-qw, qw + 1 - qwCount],
        0,
        scope,
      );
      // Running maximum over groups as a + relu(b - a) (exact on these small integers; the
      // wasm Maximum kernel is a slow scalar loop).
      if (vmax === undefined) {
        vmax = pooled;
      } else {
        const d = scope.binary("Sub", pooled, vmax);
        const r = scope.unary("Relu", d);
        const m = scope.binary("Add", vmax, r);
        [d, r, vmax, pooled, blockMax].forEach((t) => scope.dispose(t));
        vmax = m;
      }
      groups.push({ qh, qw, v: v5 });
    }
  }
  if (superframe !== input) scope.dispose(superframe);
  // threshold = vmax - 1, so relu(v - threshold) is 1 only at the first maximum.
  const minusOne = scope.fill([1], -1);
  const threshold = scope.binary("Add", vmax!, minusOne);

  // Pass 2: route dy to the first maximum, in the superframe; then back to the input's shape.
  const parts: TensorInfo[] = [];
  for (const { qh, qw, v } of groups) {
    const diff = scope.binary("Sub", v, toBlocks(threshold, qh, qw, 0));
    scope.dispose(v);
    const first = scope.unary("Relu", diff);
    scope.dispose(diff);
    parts.push(scope.binary("Multiply", first, toBlocks(dy, qh, qw, 0)));
    scope.dispose(first);
  }
  const summed = parts.length === 1 ? parts[0] : scope.addN(parts);
  const dxSuper = scope.reshape(summed, [n, bh * sh, bw * sw, c]);
  return padOrCrop2D(
    dxSuper,
    [-rowsToSuper[0], -rowsToSuper[1]],
    [
      -colsToSuper[0],
      -colsToSuper[1],
    ],
    0,
    scope,
  );
}

/**
 * `-rank` of each position `(rh, rw)` of group `(qh, qw)`: offset `(i, j)` of a window has rank
 * `K - (i*KW + j)` (K = KH*KW), so earlier offsets rank higher; positions outside the window
 * (`i >= KH` or `j >= KW`) get 0.
 */
function rankPattern(
  qh: number,
  qw: number,
  kh: number,
  kw: number,
  sh: number,
  sw: number,
): Float32Array {
  const windowSize = kh * kw;
  const pattern = new Float32Array(sh * sw);
  for (let rh = 0; rh < sh; rh++) {
    for (let rw = 0; rw < sw; rw++) {
      const i = qh * sh + rh;
      const j = qw * sw + rw;
      pattern[rh * sw + rw] = i < kh && j < kw ? -(windowSize - (i * kw + j)) : 0;
    }
  }
  return pattern;
}

/**
 * The kernel config registering {@linkcode maxPoolGradWasm} as `MaxPoolGrad` for the `wasm`
 * backend.
 *
 * @example
 * ```ts
 * import "@tensorflow/tfjs-backend-wasm";
 * import { registerKernel, unregisterKernel } from "@tensorflow/tfjs-core";
 * import { maxPoolGradConfig } from "./max_pool_grad.ts";
 *
 * unregisterKernel("MaxPoolGrad", "wasm"); // the upstream one is wrong
 * registerKernel(maxPoolGradConfig());
 * ```
 */
export function maxPoolGradConfig(): KernelConfig {
  return {
    kernelName: MaxPoolGrad,
    backendName: WASM_BACKEND_NAME,
    kernelFunc: ({ inputs, backend, attrs }) =>
      withKernelScope(
        backend,
        (s) =>
          maxPoolGradWasm(
            inputs.dy as TensorInfo,
            inputs.input as TensorInfo,
            inputs.output as TensorInfo,
            attrs as unknown as MaxPoolGradAttrs,
            s,
          ),
      ),
  };
}
