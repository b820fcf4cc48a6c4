/**
 * A pretrained MobileNet v1 convolutional base (Keras `MobileNet(include_top=False)`),
 * implementing {@linkcode PretrainedBase}.
 *
 * The weights are a TensorFlow.js layers model of the full Keras MobileNet (e.g. the
 * `mobilenet_v1_0.25_224` conversion). MobileNet v1 is a chain of layers, so the base is
 * rebuilt by applying the loaded layers, up to `featureLayer`, to a fresh input: the weights
 * are shared with the loaded model, not copied. The base is a {@linkcode FrozenModel}: all
 * its layers are non-trainable and its BatchNormalization layers always use their ImageNet
 * moving statistics, also during `fit` (Keras' `base(x, training=False)`).
 *
 * The preprocessor turns images rescaled to [0, 1] (the article's `rescale=1/255`) at
 * `inputShape` into what MobileNet expects: a bilinear resize to `resizeTo` x `resizeTo`
 * ({@linkcode BilinearResize}, Keras `Resizing` semantics), then `x * 2 - 1`, i.e. Keras'
 * `mobilenet.preprocess_input` (`x / 127.5 - 1` on 0..255 pixels), as a `Rescaling` layer.
 * Both layers serialise, so a saved transfer model maps rescaled images to a probability on
 * its own.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { PretrainedBase } from "./base.ts";
import { BilinearResize, FrozenModel } from "./custom_layers.ts";
import { loadModel } from "./model_io.ts";
import { CarplaneError } from "../errors.ts";

/** Raised when the MobileNet weights do not give the requested base. */
export class MobileNetError extends CarplaneError {
  constructor(message: string) {
    super(message);
    this.name = "MobileNetError";
  }
}

/** Options for {@linkcode createMobileNetBase}. */
export interface MobileNetBaseOptions {
  /** The full MobileNet v1 layers model: a directory, a `model.json` path, or a URL. */
  weights: string;
  /** Shape of the rescaled images the caller feeds. Default `[64, 64, 3]`. */
  inputShape?: [number, number, number];
  /** Last layer of the base. Default `"conv_pw_13_relu"` (7x7x256 at 224 px for alpha 0.25). */
  featureLayer?: string;
  /**
   * Side the images are resized to before MobileNet; `null` feeds them at `inputShape`
   * (MobileNet is convolutional up to its pooling, so smaller inputs work, with smaller
   * feature maps). Default `224`, the size the ImageNet weights were trained at.
   */
  resizeTo?: number | null;
}

/**
 * Loads MobileNet v1 weights and builds the frozen base with its preprocessor.
 *
 * @example
 * ```ts
 * const base = await createMobileNetBase({ weights: "../shared/models/mobilenet_v1_0.25_224" });
 * base.model.outputs[0].shape; // [null, 7, 7, 256]
 * ```
 */
export async function createMobileNetBase(
  {
    weights,
    inputShape = [64, 64, 3],
    featureLayer = "conv_pw_13_relu",
    resizeTo = 224,
  }: MobileNetBaseOptions,
): Promise<PretrainedBase> {
  if (inputShape.length !== 3 || inputShape[2] !== 3) {
    throw new MobileNetError(
      `lib/models/mobilenet.ts: inputShape must be [height, width, 3] (RGB), got ` +
        `[${inputShape.join(", ")}].`,
    );
  }
  const { model: full } = await loadModel(weights);
  const layers = full.layers;
  const end = layers.findIndex((l) => l.name === featureLayer);
  if (end < 1) {
    const candidates = layers.filter((l) => /_relu$/.test(l.name)).map((l) => l.name);
    throw new MobileNetError(
      `lib/models/mobilenet.ts: the model in ${weights} has no layer "${featureLayer}". ` +
        `Pass featureLayer as one of its layers, e.g. ${candidates.slice(-3).join(", ")}.`,
    );
  }
  const baseSide = resizeTo ?? null;
  const baseInputShape: [number, number, number] = baseSide === null
    ? [...inputShape]
    : [baseSide, baseSide, 3];
  const input = tf.input({
    shape: baseInputShape,
    name: "mobilenet_input",
  });
  let x: tf.SymbolicTensor = input;
  for (let i = 1; i <= end; i++) {
    const layer = layers[i];
    const inbound = layer.inboundNodes[0]?.inboundLayers ?? [];
    if (inbound.length !== 1 || inbound[0] !== layers[i - 1]) {
      throw new MobileNetError(
        `lib/models/mobilenet.ts: layer "${layer.name}" of ${weights} does not simply follow ` +
          `"${layers[i - 1].name}"; only chain models (MobileNet v1) can be cut this way. ` +
          `Pass MobileNet v1 weights.`,
      );
    }
    x = layer.apply(x) as tf.SymbolicTensor;
  }
  const model = new FrozenModel({
    inputs: input,
    outputs: x,
    name: "mobilenet_base",
  });
  // The layers above the cut (the ImageNet classifier) are not part of the base: free their
  // weights, or every base built leaves them in memory (2 tensors, 1 MB for v1 0.25).
  for (const layer of layers.slice(end + 1)) {
    for (const weight of layer.weights) weight.dispose();
  }

  const preprocessor: tf.layers.Layer[] = [];
  const steps: string[] = [];
  const [h, w] = inputShape;
  if (baseSide !== null && (h !== baseSide || w !== baseSide)) {
    preprocessor.push(
      new BilinearResize({
        height: baseSide,
        width: baseSide,
        name: "mobilenet_resize",
      }),
    );
    steps.push(
      `resize ${h}x${w} -> ${baseSide}x${baseSide} (bilinear, half-pixel centres)`,
    );
  }
  preprocessor.push(
    tf.layers.rescaling({ scale: 2, offset: -1, name: "mobilenet_preprocess" }),
  );
  steps.push(
    "x * 2 - 1 to [-1, 1] (Keras mobilenet.preprocess_input, on images rescaled to [0, 1])",
  );

  return {
    name: "mobilenet",
    inputShape: [...inputShape],
    preprocessor,
    preprocessing: steps.join(", then "),
    model,
    weightsSource: weights,
  };
}
