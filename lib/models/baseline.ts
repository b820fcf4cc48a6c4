/**
 * The article's baseline convolutional network, layer for layer:
 *
 * ```
 * Conv2D(32, 3x3, relu) -> MaxPooling2D(2) -> Conv2D(32, 3x3, relu) -> MaxPooling2D(2)
 *   -> Flatten -> Dense(128, relu) -> Dense(1, sigmoid)
 * ```
 *
 * compiled with Adam and binary cross-entropy. At 64x64x3 it has 813,217 parameters, as in the
 * article's summary.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Options for {@linkcode createBaselineModel}. */
export interface BaselineOptions {
  /** Input `[height, width, channels]`; the article uses `[64, 64, 3]`. */
  inputShape?: [number, number, number];
  /** Seed for the weight initialisers (Glorot uniform, as Keras); omit for random. */
  seed?: number;
  /** Adam's learning rate; Keras' default 0.001. */
  learningRate?: number;
  /** Compile the model (Adam, binary cross-entropy, accuracy). Default true. */
  compile?: boolean;
  /**
   * Number of classes (default 2, the article). 2 ends in `Dense(1, sigmoid)` with binary
   * cross-entropy (Keras' `class_mode="binary"`); more end in `Dense(classes, softmax)` with
   * categorical cross-entropy (`class_mode="categorical"`).
   */
  classes?: number;
}

/**
 * Builds (and compiles) the article's baseline CNN with Keras' layer names.
 *
 * @example
 * ```ts
 * const model = createBaselineModel({ seed: 42 });
 * console.log(model.countParams()); // 813217
 * ```
 */
export function createBaselineModel(
  options: BaselineOptions = {},
): tf.Sequential {
  const inputShape = options.inputShape ?? [64, 64, 3];
  const init = (offset: number) => glorotUniform(options.seed, offset);
  const model = tf.sequential({
    name: "sequential",
    layers: [
      tf.layers.conv2d({
        name: "conv2d",
        inputShape,
        filters: 32,
        kernelSize: 3,
        activation: "relu",
        kernelInitializer: init(0),
      }),
      tf.layers.maxPooling2d({ name: "max_pooling2d", poolSize: 2 }),
      tf.layers.conv2d({
        name: "conv2d_1",
        filters: 32,
        kernelSize: 3,
        activation: "relu",
        kernelInitializer: init(1),
      }),
      tf.layers.maxPooling2d({ name: "max_pooling2d_1", poolSize: 2 }),
      tf.layers.flatten({ name: "flatten" }),
      tf.layers.dense({
        name: "dense",
        units: 128,
        activation: "relu",
        kernelInitializer: init(2),
      }),
      outputLayer(options.classes, init(3)),
    ],
  });
  if (options.compile ?? true) compileClassifier(model, options.classes, options.learningRate);
  return model;
}

/**
 * Keras' default kernel initialiser (Glorot uniform), seeded with `seed + offset` so each layer
 * of a seeded model draws its own repeatable weights; unseeded when `seed` is undefined.
 *
 * @example
 * ```ts
 * tf.layers.dense({ units: 128, kernelInitializer: glorotUniform(42, 2) });
 * ```
 */
export function glorotUniform(
  seed: number | undefined,
  offset: number,
): "glorotUniform" | ReturnType<typeof tf.initializers.glorotUniform> {
  return seed === undefined
    ? "glorotUniform"
    : tf.initializers.glorotUniform({ seed: seed + offset });
}

/**
 * Compiles a binary classifier as the article does: Adam, binary cross-entropy, accuracy.
 *
 * @example
 * ```ts
 * compileBinary(model); // Adam(0.001)
 * ```
 */
export function compileBinary(
  model: tf.LayersModel,
  learningRate = 0.001,
): void {
  model.compile({
    optimizer: tf.train.adam(learningRate),
    loss: "binaryCrossentropy",
    metrics: ["accuracy"],
  });
}

/**
 * Checks a number of classes: a whole number of at least 2.
 *
 * @example
 * ```ts
 * checkClasses(3); // 3
 * ```
 */
export function checkClasses(classes = 2): number {
  if (!Number.isInteger(classes) || classes < 2) {
    throw new RangeError(
      `classes must be a whole number of at least 2 (one class folder each), got ${classes}.`,
    );
  }
  return classes;
}

/**
 * The output layer for `classes` classes, named `dense_1` as Keras names the article's:
 * `Dense(1, sigmoid)` for 2 classes, `Dense(classes, softmax)` for more.
 *
 * @example
 * ```ts
 * outputLayer(3, "glorotUniform"); // Dense(3, softmax)
 * ```
 */
export function outputLayer(
  classes: number | undefined,
  kernelInitializer: ReturnType<typeof glorotUniform>,
): tf.layers.Layer {
  const k = checkClasses(classes);
  return tf.layers.dense({
    name: "dense_1",
    units: k === 2 ? 1 : k,
    activation: k === 2 ? "sigmoid" : "softmax",
    kernelInitializer,
  });
}

/**
 * Compiles a classifier of `classes` classes with Adam: binary cross-entropy for 2 (as
 * {@linkcode compileBinary}), categorical cross-entropy for more; metric accuracy.
 *
 * @example
 * ```ts
 * compileClassifier(model, 3);
 * ```
 */
export function compileClassifier(
  model: tf.LayersModel,
  classes = 2,
  learningRate = 0.001,
): void {
  if (checkClasses(classes) === 2) return compileBinary(model, learningRate);
  model.compile({
    optimizer: tf.train.adam(learningRate),
    loss: "categoricalCrossentropy",
    metrics: ["accuracy"],
  });
}
