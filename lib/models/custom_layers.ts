/**
 * This project's serialisable custom layers. Importing this module registers them with
 * TensorFlow.js' serialisation, so models that contain them load with `tf.loadLayersModel`
 * and `loadModel` (`lib/models/model_io.ts` imports this module for that reason).
 *
 * - {@linkcode BilinearResize}: resizes images like Keras' `Resizing` layer. TensorFlow.js
 *   4.22 has `tf.layers.resizing`, but its `computeOutputShape` drops the batch dimension and
 *   takes the width for the channels (`[null, 64, 64, 3]` gives `[224, 224, 64]`), so no layer
 *   can follow it in a functional model.
 * - {@linkcode FrozenModel}: a functional model whose layers are frozen and always run in
 *   inference mode, like Keras' `base(x, training=False)` with `base.trainable = False`.
 *   TensorFlow.js passes `training: true` to every layer during `fit`, nested models
 *   included, and its `BatchNormalization` then normalises with batch statistics and updates
 *   its moving mean and variance even when `trainable` is false, so a "frozen" MobileNet
 *   would drift. `FrozenModel` forces `training: false`; it stays frozen after save/load.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Arguments every TensorFlow.js layer takes (`name`, `trainable`, `inputShape`, ...). */
type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

/** Arguments of {@linkcode BilinearResize}. */
export type BilinearResizeArgs = LayerArgs & {
  /** Output height in pixels. */
  height: number;
  /** Output width in pixels. */
  width: number;
};

/**
 * Resizes `[batch, height, width, channels]` images to `[batch, args.height, args.width,
 * channels]` with bilinear interpolation and half-pixel centres, as Keras' `Resizing` layer
 * and `tf.image.resize(..., "bilinear")` do (no antialiasing).
 *
 * @example
 * ```ts
 * const x = tf.input({ shape: [64, 64, 3] });
 * const y = new BilinearResize({ height: 224, width: 224 }).apply(x); // [null, 224, 224, 3]
 * ```
 */
export class BilinearResize extends tf.layers.Layer {
  /** Name under which the layer is serialised. */
  static className = "BilinearResize";
  /** Output height. */
  readonly height: number;
  /** Output width. */
  readonly width: number;

  constructor(args: BilinearResizeArgs) {
    super(args);
    if (
      !Number.isInteger(args.height) || !Number.isInteger(args.width) ||
      args.height < 1 || args.width < 1
    ) {
      throw new Error(
        `lib/models/custom_layers.ts: BilinearResize needs positive integer height and ` +
          `width, got ${args.height}x${args.width}; pass e.g. { height: 224, width: 224 }.`,
      );
    }
    this.height = args.height;
    this.width = args.width;
  }

  override computeOutputShape(
    inputShape: tf.Shape | tf.Shape[],
  ): tf.Shape | tf.Shape[] {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [shape[0], this.height, this.width, shape[3]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      return tf.image.resizeBilinear(
        x,
        [this.height, this.width],
        false,
        true,
      );
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), height: this.height, width: this.width };
  }
}

/** Arguments of {@linkcode FrozenModel}: those of `tf.model`. */
export type FrozenModelArgs = ConstructorParameters<typeof tf.LayersModel>[0];

/**
 * A functional model that is frozen (`trainable = false` for itself and all its layers) and
 * always runs its layers in inference mode, even inside `fit`: BatchNormalization uses and
 * keeps its moving statistics, Dropout is off. Build it like `tf.model`.
 *
 * @example
 * ```ts
 * const input = tf.input({ shape: [8, 8, 3] });
 * const output = tf.layers.batchNormalization().apply(input) as tf.SymbolicTensor;
 * const base = new FrozenModel({ inputs: input, outputs: output, name: "base" });
 * base.trainableWeights.length; // 0
 * ```
 */
export class FrozenModel extends tf.LayersModel {
  /** Name under which the model is serialised (as a layer of an enclosing model). */
  static override className = "FrozenModel";

  constructor(args: FrozenModelArgs) {
    super(args);
    this.trainable = false;
    for (const layer of this.layers) layer.trainable = false;
  }

  override call(
    inputs: tf.Tensor | tf.Tensor[],
    kwargs: Record<string, unknown>,
  ): tf.Tensor | tf.Tensor[] {
    return super.call(inputs, { ...kwargs, training: false });
  }
}

tf.serialization.registerClass(BilinearResize);
tf.serialization.registerClass(FrozenModel);
