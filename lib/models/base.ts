/**
 * The interface every pretrained convolutional base plugs into (VGG16, MobileNet, ...).
 *
 * A base turns images that were rescaled to [0, 1] (the article's `rescale=1/255`) at
 * `inputShape` into a feature map. The transfer model is
 * `input -> preprocessor (optional) -> model (frozen) -> head`, and is saved whole, so a saved
 * transfer model maps rescaled images to a probability on its own.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";

/** A frozen, pretrained feature extractor and how to feed it. */
export interface PretrainedBase {
  /** Short name used on the command line and in reports, e.g. `"vgg16"`, `"mobilenet"`. */
  readonly name: string;
  /** Image shape `[height, width, channels]` the caller feeds, as rescaled (x / 255) RGB. */
  readonly inputShape: [number, number, number];
  /**
   * Layers applied to the rescaled images before `model` (e.g. Keras' `vgg16.preprocess_input`
   * as fixed layers, or a resize to the base's native size). Empty when the base takes the
   * rescaled images as they are.
   */
  readonly preprocessor: tf.layers.Layer[];
  /** Human-readable description of the preprocessing, for reports. */
  readonly preprocessing: string;
  /** The convolutional base itself (Keras `include_top=False`); all its layers are frozen. */
  readonly model: tf.LayersModel;
  /** Where the weights came from (a path or URL), for reports. */
  readonly weightsSource: string;
}
