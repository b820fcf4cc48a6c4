/**
 * Grad-CAM (Selvaraju et al. 2017; Chollet, Deep Learning with Python, 5.4): where in an image
 * the network looks for a class. The gradient of the class score with respect to a convolutional
 * feature map, averaged over its positions, weighs each channel; the weighted sum of the
 * channels, with negative evidence cut off (ReLU), is the heatmap. It is computed on the last
 * convolutional layer by default (for a transfer model: the pretrained base's output), scaled to
 * 0..1 and resized to the input image.
 *
 * Works on models whose layers form a chain (each layer fed by the one before it), which is what
 * the article's baseline and the `base -> head` transfer model are; a nested model (the frozen
 * base) counts as one layer.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { CarplaneError } from "../errors.ts";
import { loadImages, type RgbImage } from "../data/images.ts";
import type { ImageList, InputSpec } from "./predict.ts";

/** Raised when Grad-CAM cannot be computed for a model or a layer. */
export class GradCamError extends CarplaneError {}

/** Options for {@linkcode gradCam}. */
export interface GradCamOptions {
  /** The layer whose output is explained; default the last convolution (or nested base). */
  layerName?: string;
  /**
   * The class explained; default the predicted one. For a one-unit sigmoid output, class 1's
   * score is `p` and class 0's is `1 - p`; for softmax, the class's probability.
   */
  classIndex?: number;
}

/** One image's Grad-CAM. */
export interface GradCamResult {
  /** `height * width` values in 0..1, row-major, at the model's input size. */
  heatmap: Float32Array;
  height: number;
  width: number;
  /** The feature map's own size before resizing (`[rows, cols]`). */
  featureSize: [number, number];
  /** The layer explained. */
  layerName: string;
  /** The class explained and the model's probability for it. */
  classIndex: number;
  probability: number;
}

const CONV_CLASS = /Conv|Functional|Model|Sequential/;

function rank4(layer: tf.layers.Layer): boolean {
  const shape = layer.outputShape;
  return Array.isArray(shape) && !Array.isArray(shape[0]) && shape.length === 4;
}

/**
 * The layers of `model` split at the explained layer: `features` up to and including it, `head`
 * after it.
 */
function splitAt(
  model: tf.LayersModel,
  layerName: string | undefined,
): { features: tf.layers.Layer[]; head: tf.layers.Layer[]; name: string } {
  const layers = model.layers.filter((l) => l.getClassName() !== "InputLayer");
  let index: number;
  if (layerName !== undefined) {
    index = layers.findIndex((l) => l.name === layerName);
    if (index < 0) {
      throw new GradCamError(
        `layerName "${layerName}" is not a layer of "${model.name}" (its layers: ${
          layers.map((l) => l.name).join(", ")
        }).`,
      );
    }
    if (!rank4(layers[index])) {
      throw new GradCamError(
        `layerName "${layerName}" has output shape ${
          JSON.stringify(layers[index].outputShape)
        }; Grad-CAM needs a feature map [batch, rows, cols, channels].`,
      );
    }
  } else {
    index = layers.findLastIndex((l) => rank4(l) && CONV_CLASS.test(l.getClassName()));
    if (index < 0) {
      throw new GradCamError(
        `"${model.name}" has no convolutional layer with a [batch, rows, cols, channels] output ` +
          "to explain.",
      );
    }
  }
  return {
    features: layers.slice(0, index + 1),
    head: layers.slice(index + 1),
    name: layers[index].name,
  };
}

function classScore(output: tf.Tensor, classIndex: number): tf.Scalar {
  const units = output.shape[output.shape.length - 1] ?? 1;
  if (units === 1) {
    const p = output.reshape([]) as tf.Scalar;
    return classIndex === 1 ? p : tf.scalar(1).sub(p) as tf.Scalar;
  }
  return output.reshape([units]).slice([classIndex], [1]).reshape([]) as tf.Scalar;
}

/**
 * Grad-CAM of one prepared input image `[rows, cols, channels]` (already scaled as the model
 * expects) for `model`.
 *
 * @example
 * ```ts
 * const { heatmap, classIndex } = gradCam(model, tf.tensor3d(pixels, [64, 64, 3]));
 * ```
 */
export function gradCam(
  model: tf.LayersModel,
  image: tf.Tensor3D,
  options: GradCamOptions = {},
): GradCamResult {
  const { features, head, name } = splitAt(model, options.layerName);
  const [height, width] = image.shape;
  const outputUnits = (model.outputs[0].shape.at(-1) ?? 1) as number;
  if (
    options.classIndex !== undefined &&
    (!Number.isInteger(options.classIndex) || options.classIndex < 0 ||
      options.classIndex >= Math.max(2, outputUnits))
  ) {
    throw new GradCamError(
      `classIndex must be an integer from 0 to ${
        Math.max(2, outputUnits) - 1
      }, got ${options.classIndex}.`,
    );
  }
  const run = (layers: tf.layers.Layer[], x: tf.Tensor) =>
    layers.reduce((t, l) => l.apply(t) as tf.Tensor, x);
  const [cam, featureSize, classIndex, probability] = tf.tidy(() => {
    const input = image.expandDims(0);
    // The layers are run one after another; that is the model only if they form a chain.
    const notAChain = (why: string, cause?: unknown) =>
      new GradCamError(
        `Grad-CAM here needs a model whose layers form a chain; running the layers of ` +
          `"${model.name}" one after another ${why}.`,
        { hint: "explain a Sequential model or a base -> head transfer model", cause },
      );
    let maps: tf.Tensor4D, output: tf.Tensor;
    try {
      maps = run(features, input) as tf.Tensor4D;
      output = run(head, maps);
    } catch (error) {
      throw notAChain(`fails (${error instanceof Error ? error.message : error})`, error);
    }
    const gap = output.sub(model.predict(input) as tf.Tensor).abs().max().dataSync()[0];
    if (!(gap <= 1e-4)) throw notAChain(`does not give its output (off by ${gap})`);
    const probs = output.reshape([-1]).arraySync() as number[];
    const predicted = probs.length === 1
      ? (probs[0] > 0.5 ? 1 : 0)
      : probs.indexOf(Math.max(...probs));
    const c = options.classIndex ?? predicted;
    const probability = probs.length === 1 ? (c === 1 ? probs[0] : 1 - probs[0]) : probs[c];
    const grads = tf.grad((m: tf.Tensor) => classScore(run(head, m), c))(maps);
    const weights = grads.mean([1, 2]).reshape([1, 1, 1, -1]);
    const raw = maps.mul(weights).sum(-1).relu().reshape([maps.shape[1], maps.shape[2], 1]);
    const max = raw.max();
    const scaled = raw.div(tf.maximum(max, tf.scalar(1e-12)));
    const resized = tf.image.resizeBilinear(scaled as tf.Tensor3D, [height, width]);
    return [
      resized.reshape([-1]),
      [maps.shape[1], maps.shape[2]] as [number, number],
      c,
      probability,
    ] as const;
  });
  const heatmap = cam.dataSync() as Float32Array;
  cam.dispose();
  return {
    heatmap: Float32Array.from(heatmap),
    height,
    width,
    featureSize,
    layerName: name,
    classIndex,
    probability,
  };
}

/** One explained image file. */
export interface ExplainedImage {
  /** The file as listed (`list.names[i]`) and its path. */
  name: string;
  path: string;
  /** The image as the model saw it (resized, 8-bit RGB). */
  image: RgbImage;
  /** Its Grad-CAM. */
  cam: GradCamResult;
}

/**
 * Grad-CAM of every image in `list`, prepared as `spec` says (size, interpolation, rescale),
 * explaining each image's predicted class unless `options.classIndex` is given. Unreadable
 * images are passed to `onSkip` and left out.
 *
 * @example
 * ```ts
 * const list = await collectImages(["data/test"], spec.classNames);
 * const explained = await explainImages(model, list, spec);
 * ```
 */
export async function explainImages(
  model: tf.LayersModel,
  list: ImageList,
  spec: InputSpec,
  options: GradCamOptions & { onSkip?: (path: string, reason: string) => void } = {},
): Promise<ExplainedImage[]> {
  const loaded = await loadImages(list.files, {
    targetSize: spec.targetSize,
    interpolation: spec.interpolation,
  });
  for (const s of loaded.skipped) options.onSkip?.(s.path, s.reason);
  const names = new Map(list.files.map((f, i) => [f, list.names[i]]));
  return loaded.images.map((image, k) => {
    const x = tf.tidy(() =>
      tf.tensor3d(image.data, [image.height, image.width, 3], "float32").mul(spec.rescale)
    ) as tf.Tensor3D;
    try {
      const path = loaded.paths[k];
      return { name: names.get(path) ?? path, path, image, cam: gradCam(model, x, options) };
    } finally {
      x.dispose();
    }
  });
}
