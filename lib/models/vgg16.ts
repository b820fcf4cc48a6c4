/**
 * VGG16's convolutional base, as `keras.applications.VGG16(include_top=False)` builds it,
 * with Keras' own ImageNet weights read from their HDF5 file.
 *
 * @module
 */
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import type { PretrainedBase } from "./base.ts";
import type { Preprocessing } from "../config.ts";
import {
  defaultCacheDir,
  discardCachedFile,
  fileNameFromUrl,
  isUrl,
  resolveLocalOrDownload,
} from "../data/download.ts";
import { loadKerasH5IntoModel, WeightsError } from "./keras_h5.ts";

/** File name of Keras' VGG16 `include_top=False` ImageNet weights. */
export const VGG16_NOTOP_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5";

/** Where Keras downloads {@link VGG16_NOTOP_FILE} from, tried in order. */
export const VGG16_NOTOP_URLS: readonly string[] = [
  `https://storage.googleapis.com/tensorflow/keras-applications/vgg16/${VGG16_NOTOP_FILE}`,
  `https://github.com/fchollet/deep-learning-models/releases/download/v0.1/${VGG16_NOTOP_FILE}`,
];

/** Size in bytes of {@link VGG16_NOTOP_FILE}. */
export const VGG16_NOTOP_SIZE = 58_889_256;
/** MD5 of {@link VGG16_NOTOP_FILE} (Keras' `file_hash`). */
export const VGG16_NOTOP_MD5 = "6d6bbae143d832006294945121d1f1fc";

/** Keras' `imagenet_utils` caffe-mode means, in BGR order, on the 0..255 scale. */
export const IMAGENET_BGR_MEAN: readonly [number, number, number] = [103.939, 116.779, 123.68];

/** Name of the fixed layer that performs `vgg16.preprocess_input`. */
export const VGG16_PREPROCESS_LAYER = "vgg16_preprocess_input";

/** The blocks of VGG16: filters and number of 3x3 convolutions. */
const BLOCKS: readonly [number, number][] = [[64, 2], [128, 2], [256, 3], [512, 3], [512, 3]];

/** Options of {@link createVgg16Base}. */
export interface Vgg16Options {
  /**
   * The weights: a local path or an http(s) URL of {@link VGG16_NOTOP_FILE} (or of a file in
   * the same layout). Omitted: Keras' own URLs ({@link VGG16_NOTOP_URLS}) through the cache.
   * `null`: no pretrained weights (random initialisation, like Keras' `weights=None`).
   */
  weights?: string | null;
  /** Image shape fed to the base (default `[64, 64, 3]`, the article's); at least 32x32. */
  inputShape?: [number, number, number];
  /**
   * `"rescale"` (default, the article's): images x / 255 go straight in. `"vgg16"`: Keras'
   * `vgg16.preprocess_input` (RGB -> BGR, minus the ImageNet mean) as a fixed layer.
   */
  preprocessing?: Preprocessing;
  /** Download cache (default {@link defaultCacheDir}). */
  cacheDir?: string;
  /** Expected MD5 of a downloaded file named {@link VGG16_NOTOP_FILE}; `null` skips the check. */
  weightsMd5?: string | null;
  /** Expected size of a downloaded file named {@link VGG16_NOTOP_FILE}; `null` skips it. */
  weightsSize?: number | null;
  /** Progress messages (default: stderr). */
  log?: (message: string) => void;
  /** Draw a download progress bar (default: when stderr is a terminal). */
  progressBar?: boolean;
}

/**
 * The layer performing Keras' `vgg16.preprocess_input` (caffe mode) on images rescaled to
 * [0, 1]: a frozen 1x1 convolution whose kernel is 255 times the RGB -> BGR permutation and
 * whose bias is minus the ImageNet mean, so `out[c] = 255 * in[2 - c] - mean[c]`. Being an
 * ordinary Conv2D, it is saved and loaded with the model.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { vgg16PreprocessLayer } from "./vgg16.ts";
 * const layer = vgg16PreprocessLayer();
 * const out = layer.apply(tf.ones([1, 1, 1, 3])) as tf.Tensor; // [[[[151.061, 138.221, 131.32]]]]
 * ```
 */
export function vgg16PreprocessLayer(name = VGG16_PREPROCESS_LAYER): tf.layers.Layer {
  const kernel = new Float32Array(9);
  for (let out = 0; out < 3; out++) kernel[(2 - out) * 3 + out] = 255; // kernel[0][0][in][out]
  return tf.layers.conv2d({
    name,
    filters: 3,
    kernelSize: 1,
    useBias: true,
    trainable: false,
    weights: [
      tf.tensor4d(kernel, [1, 1, 3, 3]),
      tf.tensor1d(IMAGENET_BGR_MEAN.map((m) => -m)),
    ],
  });
}

/**
 * Builds VGG16's convolutional base with Keras' layer names: `input_1`, `block1_conv1`, ...,
 * `block5_pool` (14,714,688 parameters), all frozen. No weights are loaded.
 *
 * @example
 * ```ts
 * import { buildVgg16Architecture } from "./vgg16.ts";
 * const model = buildVgg16Architecture([64, 64, 3]);
 * console.log(model.outputs[0].shape); // [null, 2, 2, 512]
 * ```
 */
export function buildVgg16Architecture(
  inputShape: [number, number, number] = [64, 64, 3],
): tf.LayersModel {
  const [h, w, c] = inputShape;
  if (!(Number.isInteger(h) && Number.isInteger(w) && h >= 32 && w >= 32) || c !== 3) {
    throw new RangeError(
      `VGG16 needs an input of at least 32x32 with 3 channels; got [${inputShape.join(", ")}].`,
    );
  }
  const input = tf.input({ shape: inputShape, name: "input_1" });
  let x: tf.SymbolicTensor = input;
  BLOCKS.forEach(([filters, convs], b) => {
    for (let i = 1; i <= convs; i++) {
      x = tf.layers.conv2d({
        name: `block${b + 1}_conv${i}`,
        filters,
        kernelSize: 3,
        padding: "same",
        activation: "relu",
      }).apply(x) as tf.SymbolicTensor;
    }
    x = tf.layers.maxPooling2d({
      name: `block${b + 1}_pool`,
      poolSize: 2,
      strides: 2,
    }).apply(x) as tf.SymbolicTensor;
  });
  const model = tf.model({ inputs: input, outputs: x, name: "vgg16" });
  model.trainable = false;
  for (const layer of model.layers) layer.trainable = false;
  return model;
}

/**
 * VGG16's convolutional base with Keras' ImageNet weights, as a {@link PretrainedBase}. The
 * weights file is downloaded into the cache (checked against Keras' size and MD5) unless a
 * local path is given; it is loaded the way Keras' `load_weights` does, with every layer and
 * shape checked.
 *
 * @example
 * ```ts
 * import { createVgg16Base } from "./vgg16.ts";
 * const base = await createVgg16Base({ inputShape: [64, 64, 3], preprocessing: "rescale" });
 * console.log(base.model.outputs[0].shape, base.weightsSource); // [null, 2, 2, 512] ...
 * ```
 */
export async function createVgg16Base(opts: Vgg16Options = {}): Promise<PretrainedBase> {
  const inputShape = opts.inputShape ?? [64, 64, 3];
  const preprocessing = opts.preprocessing ?? "rescale";
  if (preprocessing !== "rescale" && preprocessing !== "vgg16") {
    throw new RangeError(`preprocessing must be "rescale" or "vgg16", got "${preprocessing}".`);
  }
  const model = buildVgg16Architecture(inputShape);
  const log = opts.log ?? ((m: string) => console.error(m));

  let weightsSource = "none (random initialisation)";
  if (opts.weights !== null) {
    const source = opts.weights === undefined ? [...VGG16_NOTOP_URLS] : [opts.weights];
    const known = source.every((s) => isUrl(s) && fileNameFromUrl(s) === VGG16_NOTOP_FILE);
    const md5 = opts.weightsMd5 === null
      ? undefined
      : opts.weightsMd5 ?? (known ? VGG16_NOTOP_MD5 : undefined);
    const size = opts.weightsSize === null
      ? undefined
      : opts.weightsSize ?? (known ? VGG16_NOTOP_SIZE : undefined);
    const cacheDir = opts.cacheDir ?? defaultCacheDir();
    let file: string;
    try {
      file = await resolveLocalOrDownload(source, {
        cacheDir,
        // Keras' own file, MD5-checked, keeps its name (where the offline hint says to put it);
        // any other URL is cached under a key of the whole URL.
        fileName: known && md5 ? VGG16_NOTOP_FILE : undefined,
        md5,
        expectedSize: size,
        log,
        progressBar: opts.progressBar,
      });
    } catch (e) {
      model.dispose(); // 14.7 M parameters: do not leave them behind for a caller that falls back
      throw e;
    }
    const hint = `Get Keras' VGG16 weights (${VGG16_NOTOP_FILE}, ${VGG16_NOTOP_SIZE} bytes) ` +
      `from ${VGG16_NOTOP_URLS[0]} and pass its path, or put it at ` +
      `${path.join(cacheDir, VGG16_NOTOP_FILE)}.`;
    try {
      await loadKerasH5IntoModel(model, file, { hint, log });
    } catch (e) {
      model.dispose();
      // A downloaded file that does not load would fail the same way on every run: move it aside.
      const cached = source.every(isUrl) ? ` ${await discardCachedFile(file)}` : "";
      if (e instanceof WeightsError) {
        e.message += cached;
        throw e;
      }
      throw new WeightsError(
        `Could not load VGG16 weights from ${file}: ${(e as Error).message}.${cached}`,
        { cause: e },
      );
    }
    weightsSource = opts.weights === undefined ? file : opts.weights;
  }

  return {
    name: "vgg16",
    inputShape: [...inputShape] as [number, number, number],
    preprocessor: preprocessing === "vgg16" ? [vgg16PreprocessLayer()] : [],
    preprocessing: preprocessing === "vgg16"
      ? "Keras vgg16.preprocess_input (caffe): x*255, RGB->BGR, minus ImageNet mean " +
        `[${IMAGENET_BGR_MEAN.join(", ")}], as a fixed 1x1 conv layer`
      : "rescale 1/255 only (as the article)",
    model,
    weightsSource,
  };
}
