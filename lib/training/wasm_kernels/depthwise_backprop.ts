/**
 * `DepthwiseConv2dNativeBackpropFilter` and `DepthwiseConv2dNativeBackpropInput` for the tfjs
 * `wasm` backend, which has neither (tfjs-backend-wasm 4.22): without them no depthwise
 * convolution trains on wasm, so MobileNet cannot be fine-tuned there. Both are built from the
 * backend's own native `DepthwiseConv2dNative` (XNNPACK) plus transposes, reshapes and a sum.
 *
 * With `x [N, H, W, C]`, filter `w [KH, KW, C, M]` (channel multiplier M), stride s and
 * `dy [N, OH, OW, C*M]`:
 *
 * **Filter gradient** `dw[kh, kw, c, m] = sum over n, oh, ow of x[n, oh*s + kh, ow*s + kw, c] *
 * dy[n, oh, ow, c*M + m]` is, per channel, a correlation of x with dy. Folding the batch into the
 * channels makes it one depthwise convolution: `x` as `[1, H, W, N*C]` (transposed to
 * `[H, W, N, C]`), `dy` as the filter `[OH, OW, N*C, M]`, the stride as the dilation, the
 * forward padding as explicit padding; the result `[1, KH, KW, N*C*M]` summed over N is `dw`.
 *
 * **Input gradient** is the "full" depthwise convolution of `dy` dilated by s with the filter
 * rotated by 180 degrees: with `dy` viewed as C*M channels and the rotated filter as
 * `[KH, KW, C*M, 1]`, one depthwise convolution gives `[N, H, W, C*M]`, summed over M.
 *
 * Both are tested against the `cpu` backend in `tests/wasm_depthwise_test.ts` (multipliers 1-3,
 * strides 1 and 2, valid/same/explicit padding, batch 1-32), as is a MobileNet block's gradient.
 *
 * @module
 */
import {
  backend_util,
  DepthwiseConv2dNativeBackpropFilter,
  DepthwiseConv2dNativeBackpropInput,
  type KernelConfig,
  type TensorInfo,
} from "@tensorflow/tfjs-core";
import {
  type KernelScope,
  type Padding2D,
  UnsupportedKernelArgumentError,
  WASM_BACKEND_NAME,
  withKernelScope,
} from "./ops.ts";
import { dilateWithTrailingZeros } from "./conv2d_backprop_input.ts";

/** Attributes of the depthwise backprop kernels, as tfjs-core passes them. */
export interface DepthwiseBackpropAttrs {
  strides: number | [number, number];
  pad: "valid" | "same" | number | backend_util.ExplicitPadding;
  dilations?: number | [number, number];
  dimRoundingMode?: "floor" | "round" | "ceil";
  /** `DepthwiseConv2dNativeBackpropFilter`: `[KH, KW, C, M]`. */
  filterShape?: [number, number, number, number];
  /** `DepthwiseConv2dNativeBackpropInput`: `[N, H, W, C]`. */
  inputShape?: [number, number, number, number];
}

function depthwise(
  scope: KernelScope,
  x: TensorInfo,
  filter: TensorInfo,
  padding: Padding2D,
  dilations: [number, number],
): TensorInfo {
  return scope.run("DepthwiseConv2dNative", { x, filter }, {
    strides: [1, 1],
    pad: [[0, 0], padding[0], padding[1], [0, 0]],
    dilations,
    dataFormat: "NHWC",
    dimRoundingMode: undefined as unknown as string,
  });
}

function checkAttrs(kernel: string, a: TensorInfo, b: TensorInfo, attrs: DepthwiseBackpropAttrs) {
  if (a.dtype !== "float32" || b.dtype !== "float32") {
    throw new UnsupportedKernelArgumentError(
      kernel,
      `only float32 is supported, got ${a.dtype} and ${b.dtype}; cast the inputs first.`,
    );
  }
  const d = attrs.dilations ?? 1;
  if ((Array.isArray(d) ? d : [d, d]).some((x) => x !== 1)) {
    throw new UnsupportedKernelArgumentError(
      kernel,
      `dilations ${d} are not supported (tfjs' own gradient refuses them too); use dilation 1.`,
    );
  }
}

function convInfo(
  xShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  attrs: DepthwiseBackpropAttrs,
) {
  return backend_util.computeConv2DInfo(
    xShape,
    filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    true,
    "channelsLast",
  );
}

/**
 * The filter gradient of a depthwise convolution on the wasm backend.
 *
 * @param x the forward input `[N, H, W, C]`
 * @param dy the gradient of the output `[N, OH, OW, C*M]`
 * @param attrs the forward strides and padding, and `filterShape` `[KH, KW, C, M]`
 * @param scope where intermediates are created and tracked
 * @returns `dw` of shape `filterShape`
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import "@tensorflow/tfjs-backend-wasm";
 * import { depthwiseBackpropFilterWasm } from "./depthwise_backprop.ts";
 * import { withKernelScope } from "./ops.ts";
 *
 * await tf.setBackend("wasm");
 * const info = withKernelScope(tf.backend(), (s) =>
 *   depthwiseBackpropFilterWasm(tf.ones([1, 4, 4, 2]), tf.ones([1, 2, 2, 2]), {
 *     strides: 1, pad: "valid", filterShape: [3, 3, 2, 1],
 *   }, s));
 * tf.engine().makeTensorFromTensorInfo(info).print(); // every entry is 4
 * ```
 */
export function depthwiseBackpropFilterWasm(
  x: TensorInfo,
  dy: TensorInfo,
  attrs: DepthwiseBackpropAttrs,
  scope: KernelScope,
): TensorInfo {
  const name = "DepthwiseConv2dNativeBackpropFilter";
  checkAttrs(name, x, dy, attrs);
  const filterShape = attrs.filterShape;
  if (filterShape === undefined || filterShape.length !== 4) {
    throw new UnsupportedKernelArgumentError(name, "needs filterShape [KH, KW, C, M].");
  }
  const info = convInfo(x.shape as [number, number, number, number], filterShape, attrs);
  const { batchSize: n, inHeight, inWidth, inChannels: c, outHeight, outWidth } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const m = filterShape[3];
  if (dy.shape[1] !== outHeight || dy.shape[2] !== outWidth || dy.shape[3] !== c * m) {
    throw new UnsupportedKernelArgumentError(
      name,
      `dy has shape ${dy.shape} but the depthwise convolution of ${x.shape} with filter ` +
        `${filterShape} gives ${[n, outHeight, outWidth, c * m]}; check strides and padding.`,
    );
  }
  // Padding that makes the correlation exactly KH x KW (negative: crop the rows a 'valid'
  // stride skips).
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  let bottom = kh + sh * (outHeight - 1) - inHeight - top;
  let right = kw + sw * (outWidth - 1) - inWidth - left;
  let xT = scope.transpose(x, [1, 2, 0, 3]); // [H, W, N, C]
  if (bottom < 0 || right < 0) {
    const h = inHeight + Math.min(bottom, 0);
    const w = inWidth + Math.min(right, 0);
    xT = scope.slice(xT, [0, 0, 0, 0], [h, w, n, c]);
    bottom = Math.max(bottom, 0);
    right = Math.max(right, 0);
  }
  const x1 = scope.reshape(xT, [1, xT.shape[0], xT.shape[1], n * c]);
  const dyT = scope.transpose(dy, [1, 2, 0, 3]); // [OH, OW, N, C*M]
  const filter = scope.reshape(dyT, [outHeight, outWidth, n * c, m]);
  const out = depthwise(scope, x1, filter, [[top, bottom], [left, right]], [sh, sw]); // [1,KH,KW,N*C*M]
  if (out.shape[1] !== kh || out.shape[2] !== kw) {
    throw new UnsupportedKernelArgumentError(
      name,
      `internal shape mismatch (${out.shape} for filter ${filterShape}); please report this shape.`,
    );
  }
  if (n === 1) return scope.reshape(out, [kh, kw, c, m]);
  const perImage = scope.reshape(out, [kh, kw, n, c * m]);
  const summed = scope.run("Sum", { x: perImage }, { axis: [2], keepDims: false });
  return scope.reshape(summed, [kh, kw, c, m]);
}

/**
 * The input gradient of a depthwise convolution on the wasm backend.
 *
 * @param dy the gradient of the output `[N, OH, OW, C*M]`
 * @param filter the forward filter `[KH, KW, C, M]`
 * @param attrs the forward strides and padding, and `inputShape` `[N, H, W, C]`
 * @param scope where intermediates are created and tracked
 * @returns `dx` of shape `inputShape`
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import "@tensorflow/tfjs-backend-wasm";
 * import { depthwiseBackpropInputWasm } from "./depthwise_backprop.ts";
 * import { withKernelScope } from "./ops.ts";
 *
 * await tf.setBackend("wasm");
 * const info = withKernelScope(tf.backend(), (s) =>
 *   depthwiseBackpropInputWasm(tf.ones([1, 2, 2, 1]), tf.ones([3, 3, 1, 1]), {
 *     strides: 1, pad: "valid", inputShape: [1, 4, 4, 1],
 *   }, s));
 * tf.engine().makeTensorFromTensorInfo(info).print(); // how many windows cover each pixel
 * ```
 */
export function depthwiseBackpropInputWasm(
  dy: TensorInfo,
  filter: TensorInfo,
  attrs: DepthwiseBackpropAttrs,
  scope: KernelScope,
): TensorInfo {
  const name = "DepthwiseConv2dNativeBackpropInput";
  checkAttrs(name, dy, filter, attrs);
  const inputShape = attrs.inputShape;
  if (inputShape === undefined || inputShape.length !== 4) {
    throw new UnsupportedKernelArgumentError(name, "needs inputShape [N, H, W, C].");
  }
  const fShape = filter.shape as [number, number, number, number];
  const info = convInfo(inputShape, fShape, attrs);
  const { batchSize: n, inHeight, inWidth, inChannels: c, outHeight, outWidth } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const m = fShape[3];
  if (dy.shape[1] !== outHeight || dy.shape[2] !== outWidth || dy.shape[3] !== c * m) {
    throw new UnsupportedKernelArgumentError(
      name,
      `dy has shape ${dy.shape} but the depthwise convolution of ${inputShape} with filter ` +
        `${fShape} gives ${[n, outHeight, outWidth, c * m]}; check strides and padding.`,
    );
  }
  const dyW = dilateWithTrailingZeros(dy, 2, sw, scope);
  const dyD = dilateWithTrailingZeros(dyW, 1, sh, scope); // [N, OH*sh, OW*sw, C*M]
  const top = kh - 1 - info.padInfo.top;
  const left = kw - 1 - info.padInfo.left;
  let bottom = inHeight + kh - 1 - top - outHeight * sh;
  let right = inWidth + kw - 1 - left - outWidth * sw;
  let src = dyD;
  if (bottom < 0 || right < 0 || top < 0 || left < 0) {
    const cropTop = Math.max(-top, 0);
    const cropLeft = Math.max(-left, 0);
    const h = dyD.shape[1] - cropTop + Math.min(bottom, 0);
    const w = dyD.shape[2] - cropLeft + Math.min(right, 0);
    src = scope.slice(dyD, [0, cropTop, cropLeft, 0], [n, h, w, c * m]);
    bottom = Math.max(bottom, 0);
    right = Math.max(right, 0);
  }
  const rotated = scope.run("Reverse", { x: filter }, { dims: [0, 1] });
  const wFlat = scope.reshape(rotated, [kh, kw, c * m, 1]);
  const dx = depthwise(
    scope,
    src,
    wFlat,
    [[Math.max(top, 0), bottom], [Math.max(left, 0), right]],
    [1, 1],
  ); // [N, H, W, C*M]
  if (dx.shape[1] !== inHeight || dx.shape[2] !== inWidth) {
    throw new UnsupportedKernelArgumentError(
      name,
      `internal shape mismatch (${dx.shape} vs ${inputShape}); please report this input shape.`,
    );
  }
  if (m === 1) return dx;
  const split = scope.reshape(dx, [n, inHeight, inWidth, c, m]);
  return scope.run("Sum", { x: split }, { axis: [4], keepDims: false });
}

/**
 * The kernel config registering {@linkcode depthwiseBackpropFilterWasm} for `wasm`.
 *
 * @example
 * ```ts
 * import { registerKernel } from "@tensorflow/tfjs-core";
 * import { depthwiseBackpropFilterConfig } from "./depthwise_backprop.ts";
 *
 * registerKernel(depthwiseBackpropFilterConfig());
 * ```
 */
export function depthwiseBackpropFilterConfig(): KernelConfig {
  return {
    kernelName: DepthwiseConv2dNativeBackpropFilter,
    backendName: WASM_BACKEND_NAME,
    kernelFunc: ({ inputs, backend, attrs }) =>
      withKernelScope(backend, (s) =>
        depthwiseBackpropFilterWasm(
          inputs.x as TensorInfo,
          inputs.dy as TensorInfo,
          attrs as unknown as DepthwiseBackpropAttrs,
          s,
        )),
  };
}

/**
 * The kernel config registering {@linkcode depthwiseBackpropInputWasm} for `wasm`.
 *
 * @example
 * ```ts
 * import { registerKernel } from "@tensorflow/tfjs-core";
 * import { depthwiseBackpropInputConfig } from "./depthwise_backprop.ts";
 *
 * registerKernel(depthwiseBackpropInputConfig());
 * ```
 */
export function depthwiseBackpropInputConfig(): KernelConfig {
  return {
    kernelName: DepthwiseConv2dNativeBackpropInput,
    backendName: WASM_BACKEND_NAME,
    kernelFunc: ({ inputs, backend, attrs }) =>
      withKernelScope(backend, (s) =>
        depthwiseBackpropInputWasm(
          inputs.dy as TensorInfo,
          inputs.filter as TensorInfo,
          attrs as unknown as DepthwiseBackpropAttrs,
          s,
        )),
  };
}
