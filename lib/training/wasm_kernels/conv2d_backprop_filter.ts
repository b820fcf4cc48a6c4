/**
 * `Conv2DBackpropFilter` for the tfjs `wasm` backend (missing upstream, tfjs issue 8474).
 *
 * The filter gradient of `y = conv2d(x, w)` (NHWC, stride s, dilation 1) is
 *
 *     dw[kh, kw, c, oc] = sum over n, oh, ow of  x[n, oh*s + kh, ow*s + kw, c] * dy[n, oh, ow, oc]
 *
 * which is itself a convolution ("conv" formulation, the default): with `xT = x` transposed to
 * `[C, H, W, N]` (channels become the batch, the batch becomes the channels) and `dyT = dy`
 * transposed to `[OH, OW, N, OC]` used as the filter, `conv2d(xT, dyT, stride 1, dilation s)` is
 * `[C, KH, KW, OC]`. The wasm backend runs that with XNNPACK's convolution, so the kernel is two
 * transposes of the inputs (the one of dy moves whole OC-channel rows, ~1 ms), one native
 * convolution and a transpose of the small result. Strides become dilations; padding becomes the
 * convolution's explicit padding (no copies).
 *
 * The "im2col" formulation (stride 1 only; selectable with the extra attribute
 * `variant: "im2col"`) stacks the KH*KW shifted copies of `x` transposed to `[C, N, H, W]` into
 * `col^T [KH*KW*C, N*OH*OW]` and multiplies by `dy [N*OH*OW, OC]` (one XNNPACK product). Measured
 * on the article's CNN at batch 32 it is slower for both convolutions (first: 40 vs 34 ms, second:
 * 49 vs 27 ms): XNNPACK repacks its right-hand operand on every call (about 5 ns per element, the
 * same cost the "conv" formulation pays for its dy filter), and the slices copy the input.
 *
 * @module
 */
import {
  backend_util,
  Conv2DBackpropFilter,
  type KernelConfig,
  type TensorInfo,
} from "@tensorflow/tfjs-core";
import {
  type KernelScope,
  UnsupportedKernelArgumentError,
  WASM_BACKEND_NAME,
  withKernelScope,
} from "./ops.ts";

/** Attributes of the `Conv2DBackpropFilter` kernel, as tfjs-core passes them. */
export interface Conv2DBackpropFilterAttrs {
  strides: number | [number, number];
  pad: "valid" | "same" | number | backend_util.ExplicitPadding;
  dataFormat: "NHWC" | "NCHW";
  dimRoundingMode?: "floor" | "round" | "ceil";
  filterShape: [number, number, number, number];
  /**
   * Not a tfjs attribute: `"im2col"` selects the im2col formulation for stride 1 (benchmarks and
   * tests); default (and for other strides) `"conv"`.
   */
  variant?: FilterGradVariant;
}

/**
 * Computes the filter gradient on the wasm backend from the wasm backend's own kernels.
 *
 * @param x the convolution input, `[N, H, W, C]` (or `[N, C, H, W]` with `dataFormat: "NCHW"`)
 * @param dy the gradient of the convolution output, `[N, OH, OW, OC]` (or NCHW)
 * @param attrs the forward convolution's strides, padding and the filter shape
 * @param scope where the intermediates are created and tracked
 * @returns the filter gradient `[KH, KW, C, OC]`
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import "@tensorflow/tfjs-backend-wasm";
 * import { conv2DBackpropFilterWasm } from "./conv2d_backprop_filter.ts";
 * import { withKernelScope } from "./ops.ts";
 *
 * await tf.setBackend("wasm");
 * const x = tf.ones([1, 4, 4, 1]);
 * const dy = tf.ones([1, 2, 2, 1]);
 * const info = withKernelScope(tf.backend(), (s) =>
 *   conv2DBackpropFilterWasm(x, dy, {
 *     strides: 1, pad: "valid", dataFormat: "NHWC", filterShape: [3, 3, 1, 1],
 *   }, s));
 * tf.engine().makeTensorFromTensorInfo(info).print(); // every entry is 4
 * ```
 */
export function conv2DBackpropFilterWasm(
  x: TensorInfo,
  dy: TensorInfo,
  attrs: Conv2DBackpropFilterAttrs,
  scope: KernelScope,
): TensorInfo {
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs;
  if (x.dtype !== "float32" || dy.dtype !== "float32") {
    throw new UnsupportedKernelArgumentError(
      "Conv2DBackpropFilter",
      `only float32 is supported, got x ${x.dtype} and dy ${dy.dtype}; cast the inputs first.`,
    );
  }
  // Work in NHWC; NCHW inputs are transposed once.
  const nchw = dataFormat === "NCHW";
  const xNhwc = nchw ? scope.transpose(x, [0, 2, 3, 1]) : x;
  const dyNhwc = nchw ? scope.transpose(dy, [0, 2, 3, 1]) : dy;
  const info = backend_util.computeConv2DInfo(
    xNhwc.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    "channelsLast",
  );
  const { inChannels, outHeight, outWidth, outChannels } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  if (dyNhwc.shape[1] !== outHeight || dyNhwc.shape[2] !== outWidth) {
    throw new UnsupportedKernelArgumentError(
      "Conv2DBackpropFilter",
      `dy has spatial shape ${dyNhwc.shape.slice(1, 3)} but the convolution of ${xNhwc.shape} ` +
        `with filter ${filterShape} gives ${outHeight},${outWidth}; check strides and padding.`,
    );
  }
  const dw = attrs.variant === "im2col" && sh === 1 && sw === 1
    ? filterGradIm2col(xNhwc, dyNhwc, info, scope)
    : filterGradConv(xNhwc, dyNhwc, info, scope);
  if (dw.shape.some((d, i) => d !== [kh, kw, inChannels, outChannels][i])) {
    throw new UnsupportedKernelArgumentError(
      "Conv2DBackpropFilter",
      `internal shape mismatch (${dw.shape} vs ${filterShape}); please report this input shape.`,
    );
  }
  return dw;
}

/** Which formulation computes the filter gradient (see the module documentation). */
export type FilterGradVariant = "conv" | "im2col";

/** dw as the convolution of x^T [C, H, W, N] with dy^T [OH, OW, N, OC], dilated by the stride. */
function filterGradConv(
  x: TensorInfo,
  dy: TensorInfo,
  info: backend_util.Conv2DInfo,
  scope: KernelScope,
): TensorInfo {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  // Padding of the "transposed" convolution: the forward top/left padding, and whatever
  // bottom/right padding makes the output exactly KH x KW (it can be negative when a 'valid'
  // convolution's stride skips the last rows; those rows are cropped).
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  let bottom = kh + sh * (outHeight - 1) - inHeight - top;
  let right = kw + sw * (outWidth - 1) - inWidth - left;

  let xT = scope.transpose(x, [3, 1, 2, 0]); // [C, H, W, N]
  if (bottom < 0 || right < 0) {
    const h = inHeight + Math.min(bottom, 0);
    const w = inWidth + Math.min(right, 0);
    xT = scope.slice(xT, [0, 0, 0, 0], [inChannels, h, w, batchSize]);
    bottom = Math.max(bottom, 0);
    right = Math.max(right, 0);
  }
  const dyT = scope.transpose(dy, [1, 2, 0, 3]); // [OH, OW, N, OC]
  const dwT = scope.conv2d(xT, dyT, [1, 1], [[top, bottom], [left, right]], [sh, sw]); // [C,KH,KW,OC]
  return scope.transpose(dwT, [1, 2, 0, 3]);
}

/**
 * dw by im2col (stride 1 only): the KH*KW shifted copies of x^T [C, N, H, W] stacked into
 * col^T [KH*KW*C, N*OH*OW], times dy [N*OH*OW, OC] (one XNNPACK matrix product, no transposes of
 * the large dy).
 */
function filterGradIm2col(
  x: TensorInfo,
  dy: TensorInfo,
  info: backend_util.Conv2DInfo,
  scope: KernelScope,
): TensorInfo {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
  const { filterHeight: kh, filterWidth: kw } = info;
  const { top, left } = info.padInfo;
  const bottom = Math.max(0, kh - 1 + outHeight - inHeight - top);
  const right = Math.max(0, kw - 1 + outWidth - inWidth - left);
  let xT = scope.transpose(x, [3, 0, 1, 2]); // [C, N, H, W]
  if (top > 0 || left > 0 || bottom > 0 || right > 0) {
    xT = scope.pad(xT, [[0, 0], [0, 0], [top, bottom], [left, right]]);
  }
  const pieces: TensorInfo[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      pieces.push(
        scope.slice(xT, [0, 0, i, j], [inChannels, batchSize, outHeight, outWidth]),
      );
    }
  }
  const p = batchSize * outHeight * outWidth;
  const colT = scope.reshape(scope.concat(pieces, 0), [1, kh * kw * inChannels, p]);
  pieces.forEach((t) => scope.dispose(t));
  // A private copy: XNNPACK operators are cached by the right operand's id (not its shape).
  const dy2 = scope.reshape(scope.copy(dy), [1, p, outChannels]);
  const dw = scope.matMul(colT, dy2); // [1, KH*KW*C, OC]
  return scope.reshape(dw, [kh, kw, inChannels, outChannels]);
}

/**
 * The kernel config registering {@linkcode conv2DBackpropFilterWasm} as `Conv2DBackpropFilter`
 * for the `wasm` backend.
 *
 * @example
 * ```ts
 * import { registerKernel } from "@tensorflow/tfjs-core";
 * import { conv2DBackpropFilterConfig } from "./conv2d_backprop_filter.ts";
 *
 * registerKernel(conv2DBackpropFilterConfig());
 * ```
 */
export function conv2DBackpropFilterConfig(): KernelConfig {
  return {
    kernelName: Conv2DBackpropFilter,
    backendName: WASM_BACKEND_NAME,
    kernelFunc: ({ inputs, backend, attrs }) =>
      withKernelScope(
        backend,
        (s) =>
          conv2DBackpropFilterWasm(
            inputs.x as TensorInfo,
            inputs.dy as TensorInfo,
            attrs as unknown as Conv2DBackpropFilterAttrs,
            s,
          ),
      ),
  };
}
