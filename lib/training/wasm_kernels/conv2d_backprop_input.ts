/**
 * `Conv2DBackpropInput` for the tfjs `wasm` backend, as one native (XNNPACK) convolution.
 *
 * tfjs-backend-wasm 4.22 registers a correct `Conv2DBackpropInput`, but it is a plain C++ loop
 * nest, about 9x slower than the forward convolution on the article's CNN (and the input gradient
 * of the second convolution dominated a training step). The input gradient of
 * `y = conv2d(x, w)` with stride s is the "full" convolution of `dy`, dilated by s (s - 1 zeros
 * between neighbours), with the filter rotated by 180 degrees and its channel axes swapped:
 *
 *     dx = conv2d(dilate(dy, s), reverse_hw(w) transposed to [KH, KW, OC, C],
 *                 padding (KH - 1 - top, ...), stride 1)
 *
 * The dilation is done with Concat + Reshape (interleaving zeros); stride 1 needs none.
 *
 * @module
 */
import {
  backend_util,
  Conv2DBackpropInput,
  type KernelConfig,
  type TensorInfo,
} from "@tensorflow/tfjs-core";
import {
  type KernelScope,
  UnsupportedKernelArgumentError,
  WASM_BACKEND_NAME,
  withKernelScope,
} from "./ops.ts";

/** Attributes of the `Conv2DBackpropInput` kernel, as tfjs-core passes them. */
export interface Conv2DBackpropInputAttrs {
  strides: number | [number, number];
  pad: "valid" | "same" | number | backend_util.ExplicitPadding;
  dataFormat: "NHWC" | "NCHW";
  dimRoundingMode?: "floor" | "round" | "ceil";
  inputShape: [number, number, number, number];
}

/**
 * Inserts `stride - 1` zeros between neighbouring elements of `x` along `axis` (keeping
 * `stride - 1` trailing zeros, which callers treat as padding): `[.., L, ..]` becomes
 * `[.., L * stride, ..]`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import "@tensorflow/tfjs-backend-wasm";
 * import { dilateWithTrailingZeros } from "./conv2d_backprop_input.ts";
 * import { withKernelScope } from "./ops.ts";
 *
 * await tf.setBackend("wasm");
 * const x = tf.tensor1d([1, 2]);
 * const info = withKernelScope(tf.backend(), (s) => dilateWithTrailingZeros(x, 0, 2, s));
 * tf.engine().makeTensorFromTensorInfo(info).print(); // [1, 0, 2, 0]
 * ```
 */
export function dilateWithTrailingZeros(
  x: TensorInfo,
  axis: number,
  stride: number,
  scope: KernelScope,
): TensorInfo {
  if (stride === 1) return x;
  const outer = x.shape.slice(0, axis + 1);
  const inner = x.shape.slice(axis + 1);
  const x5 = scope.reshape(x, [...outer, 1, ...inner]);
  const zeros = scope.fill([...outer, stride - 1, ...inner], 0, x.dtype as "float32");
  const stacked = scope.concat([x5, zeros], axis + 1);
  const shape = x.shape.slice();
  shape[axis] *= stride;
  return scope.reshape(stacked, shape);
}

/**
 * Computes the input gradient of a 2D convolution on the wasm backend.
 *
 * @param dy gradient of the convolution output, `[N, OH, OW, OC]` (or NCHW)
 * @param filter the convolution filter `[KH, KW, C, OC]`
 * @param attrs the forward convolution's strides, padding and input shape
 * @param scope where the intermediates are created and tracked
 * @returns the input gradient, of shape `attrs.inputShape`
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import "@tensorflow/tfjs-backend-wasm";
 * import { conv2DBackpropInputWasm } from "./conv2d_backprop_input.ts";
 * import { withKernelScope } from "./ops.ts";
 *
 * await tf.setBackend("wasm");
 * const dy = tf.ones([1, 2, 2, 1]);
 * const w = tf.ones([3, 3, 1, 1]);
 * const info = withKernelScope(tf.backend(), (s) =>
 *   conv2DBackpropInputWasm(dy, w, {
 *     strides: 1, pad: "valid", dataFormat: "NHWC", inputShape: [1, 4, 4, 1],
 *   }, s));
 * tf.engine().makeTensorFromTensorInfo(info).print(); // how many windows cover each pixel
 * ```
 */
export function conv2DBackpropInputWasm(
  dy: TensorInfo,
  filter: TensorInfo,
  attrs: Conv2DBackpropInputAttrs,
  scope: KernelScope,
): TensorInfo {
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs;
  if (dy.dtype !== "float32" || filter.dtype !== "float32") {
    throw new UnsupportedKernelArgumentError(
      "Conv2DBackpropInput",
      `only float32 is supported, got dy ${dy.dtype} and filter ${filter.dtype}; cast first.`,
    );
  }
  const nchw = dataFormat === "NCHW";
  const xShape =
    (nchw ? [inputShape[0], inputShape[2], inputShape[3], inputShape[1]] : inputShape) as [
      number,
      number,
      number,
      number,
    ];
  const dyNhwc = nchw ? scope.transpose(dy, [0, 2, 3, 1]) : dy;
  const info = backend_util.computeConv2DInfo(
    xShape,
    filter.shape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    "channelsLast",
  );
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  if (dyNhwc.shape[1] !== outHeight || dyNhwc.shape[2] !== outWidth) {
    throw new UnsupportedKernelArgumentError(
      "Conv2DBackpropInput",
      `dy has spatial shape ${dyNhwc.shape.slice(1, 3)} but a convolution of ${xShape} with ` +
        `filter ${filter.shape} gives ${outHeight},${outWidth}; check strides and padding.`,
    );
  }
  // Dilate dy; the stride - 1 trailing zeros per axis count as bottom/right padding.
  const dyW = dilateWithTrailingZeros(dyNhwc, 2, sw, scope);
  const dyD = dilateWithTrailingZeros(dyW, 1, sh, scope); // [N, OH*sh, OW*sw, OC]
  const top = kh - 1 - info.padInfo.top;
  const left = kw - 1 - info.padInfo.left;
  // Output length of the full convolution = padded length - KH + 1 must equal inHeight.
  let bottom = inHeight + kh - 1 - top - outHeight * sh;
  let right = inWidth + kw - 1 - left - outWidth * sw;
  let src = dyD;
  if (bottom < 0 || right < 0 || top < 0 || left < 0) {
    // Only reachable with unusual explicit paddings: crop instead of negative padding.
    const cropTop = Math.max(-top, 0);
    const cropLeft = Math.max(-left, 0);
    const h = dyD.shape[1] - cropTop + Math.min(bottom, 0);
    const w = dyD.shape[2] - cropLeft + Math.min(right, 0);
    src = scope.slice(dyD, [0, cropTop, cropLeft, 0], [batchSize, h, w, dyD.shape[3]]);
    bottom = Math.max(bottom, 0);
    right = Math.max(right, 0);
  }
  // Rotate the filter by 180 degrees and swap its channel axes: [KH, KW, OC, C].
  const rotated = scope.run("Reverse", { x: filter }, { dims: [0, 1] });
  const wT = scope.transpose(rotated, [0, 1, 3, 2]);
  const dx = scope.conv2d(
    src,
    wT,
    [1, 1],
    [[Math.max(top, 0), bottom], [Math.max(left, 0), right]],
    [1, 1],
  );
  if (dx.shape[1] !== inHeight || dx.shape[2] !== inWidth || dx.shape[3] !== inChannels) {
    throw new UnsupportedKernelArgumentError(
      "Conv2DBackpropInput",
      `internal shape mismatch (${dx.shape} vs ${xShape}); please report this input shape.`,
    );
  }
  return nchw ? scope.transpose(dx, [0, 3, 1, 2]) : dx;
}

/**
 * The kernel config registering {@linkcode conv2DBackpropInputWasm} as `Conv2DBackpropInput`
 * for the `wasm` backend.
 *
 * @example
 * ```ts
 * import "@tensorflow/tfjs-backend-wasm";
 * import { registerKernel, unregisterKernel } from "@tensorflow/tfjs-core";
 * import { conv2DBackpropInputConfig } from "./conv2d_backprop_input.ts";
 *
 * unregisterKernel("Conv2DBackpropInput", "wasm");
 * registerKernel(conv2DBackpropInputConfig());
 * ```
 */
export function conv2DBackpropInputConfig(): KernelConfig {
  return {
    kernelName: Conv2DBackpropInput,
    backendName: WASM_BACKEND_NAME,
    kernelFunc: ({ inputs, backend, attrs }) =>
      withKernelScope(
        backend,
        (s) =>
          conv2DBackpropInputWasm(
            inputs.dy as TensorInfo,
            inputs.filter as TensorInfo,
            attrs as unknown as Conv2DBackpropInputAttrs,
            s,
          ),
      ),
  };
}
