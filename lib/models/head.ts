/**
 * The article's classifier head for transfer learning:
 * `Flatten -> Dense(256, relu) -> Dropout(0.5) -> Dense(1, sigmoid)`, trained with Adam and
 * binary cross-entropy on top of a frozen convolutional base.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { compileClassifier, glorotUniform, outputLayer } from "./baseline.ts";

/** Options for {@linkcode createTransferHead}. */
export interface HeadOptions {
  /** Units of the hidden Dense layer (default 256). */
  units?: number;
  /** Dropout rate (default 0.5). */
  dropout?: number;
  /** Seed for the initialisers and the dropout mask. */
  seed?: number;
  /** Adam's learning rate (default 0.001, Keras' default). */
  learningRate?: number;
  /** Compile the head on its own (for training on cached features). Default true. */
  compile?: boolean;
  /** Number of classes (default 2: `Dense(1, sigmoid)`; more: `Dense(classes, softmax)`). */
  classes?: number;
}

/**
 * Builds the transfer head for features of `featureShape` (the base's output without the batch
 * dimension, e.g. `[2, 2, 512]` for VGG16 at 64x64).
 *
 * @example
 * ```ts
 * const head = createTransferHead([2, 2, 512], { seed: 42 });
 * console.log(head.countParams()); // 524,801 = 2048*256+256 + 256+1
 * ```
 */
export function createTransferHead(
  featureShape: number[],
  options: HeadOptions = {},
): tf.Sequential {
  const init = (offset: number) => glorotUniform(options.seed, offset);
  const head = tf.sequential({
    name: "head",
    layers: [
      tf.layers.flatten({ name: "flatten", inputShape: featureShape }),
      tf.layers.dense({
        name: "dense",
        units: options.units ?? 256,
        activation: "relu",
        kernelInitializer: init(10),
      }),
      tf.layers.dropout({ name: "dropout", rate: options.dropout ?? 0.5, seed: options.seed }),
      outputLayer(options.classes, init(11)),
    ],
  });
  if (options.compile ?? true) compileClassifier(head, options.classes, options.learningRate);
  return head;
}
