/**
 * The article's experiments as plain functions, shared by `deno task reproduce` and the
 * notebooks: the data generators, the baseline CNN, and transfer learning on a frozen
 * pretrained base (on cached features, or end to end with augmentation).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import type { AugmentOptions } from "../data/augment.ts";
import { type ClassMode, type DirectoryIterator, flowFromDirectory } from "../data/batches.ts";
import { createArraySource } from "../data/array_source.ts";
import type { ExperimentConfig, TransferMode } from "../config.ts";
import { DatasetError, scanImageDirectory } from "../data/dataset.ts";
import { validateArticleLayout } from "../data/layout.ts";
import { statOrNull } from "../_fs.ts";
import { CarplaneError } from "../errors.ts";
import type { Interpolation } from "../data/images.ts";
import { compileClassifier, createBaselineModel } from "../models/baseline.ts";
import type { PretrainedBase } from "../models/base.ts";
import { createTransferHead } from "../models/head.ts";
import type { InputSpec } from "../models/predict.ts";
import type { ProgressReporter } from "./progress.ts";
import {
  type BatchSource,
  fit,
  type FitResult,
  nextTurnOfEventLoop,
  type TrainStep,
} from "./fit.ts";
import { createWeightedTrainStep } from "./class_weight.ts";

/** The article's training `ImageDataGenerator`. */
export const ARTICLE_TRAIN_AUGMENTATION: Readonly<AugmentOptions> = Object.freeze({
  rescale: 1 / 255,
  shearRange: 0.2,
  zoomRange: 0.2,
  horizontalFlip: true,
});

/** The article's validation/test `ImageDataGenerator(rescale=1./255)`. */
export const ARTICLE_TEST_AUGMENTATION: Readonly<AugmentOptions> = Object.freeze({
  rescale: 1 / 255,
});

/** The train and validation generators of one dataset. */
export interface ArticleFlows {
  train: DirectoryIterator;
  val: DirectoryIterator;
  /** Number of classes, from the class folders (2 for the article). */
  numClasses: number;
  /** The `validationSplit` the two flows were cut with, when they come from one folder. */
  validationSplit?: number;
  /** How the model's inputs are prepared: saved with the model for `deno task predict`. */
  inputSpec: InputSpec;
}

/** Options for {@linkcode createArticleFlows}. */
export interface FlowSettings {
  /** Augment the training images as the article does (default true). */
  augment?: boolean;
  /** Resize interpolation (default Keras' `nearest`). */
  interpolation?: Interpolation;
  /** Stop on any unreadable image instead of skipping it. */
  strict?: boolean;
  /** Where the `Found ...` lines go (default `console.log`). */
  log?: (line: string) => void;
  /**
   * Label format: default `binary` for 2 class folders (the article) and `categorical` for
   * more, as Keras' `class_mode`.
   */
  classMode?: "binary" | "categorical";
  /**
   * Keras' `validation_split`: `dataDir` is then one folder of class folders (no
   * `training_set/`), whose first fraction of each class's sorted files is the validation set.
   */
  validationSplit?: number;
}

/**
 * The class mode for `numClasses` classes: `binary` for 2 (one sigmoid unit, the article),
 * `categorical` for more (softmax).
 *
 * @example
 * ```ts
 * classModeFor(3); // "categorical"
 * ```
 */
export function classModeFor(numClasses: number): "binary" | "categorical" {
  return numClasses === 2 ? "binary" : "categorical";
}

/**
 * The article's two generators over `dataDir/training_set` and `dataDir/val_set` (or, with
 * `validationSplit`, the two subsets of the class folders in `dataDir`): 64x64, batches of 32,
 * labels binary for 2 classes and categorical for more, training images sheared, zoomed and
 * flipped.
 *
 * @example
 * ```ts
 * const { train, val } = await createArticleFlows("data", experimentConfig());
 * // Found 160 images belonging to 2 classes.
 * // Found 40 images belonging to 2 classes.
 * ```
 */
export async function createArticleFlows(
  dataDir: string,
  config: ExperimentConfig,
  settings: FlowSettings = {},
): Promise<ArticleFlows> {
  const split = settings.validationSplit;
  // The one check of the article's layout: every split, the same classes (any names) in each.
  // A folder cut by validationSplit, or a layout without test/ (deno task train), has no such
  // splits; its flows check their own folders below.
  if (split === undefined && (await statOrNull(join(dataDir, "test")))?.isDirectory) {
    await validateArticleLayout(dataDir);
  }
  const interpolation = settings.interpolation ?? "nearest";
  const trainDir = split === undefined ? join(dataDir, "training_set") : dataDir;
  const valDir = split === undefined ? join(dataDir, "val_set") : dataDir;
  const found = await scanImageDirectory(trainDir);
  if (found.classNames.length < 2) {
    throw new DatasetError(
      found.directory,
      `${found.directory} has ${found.classNames.length} class folder(s) ` +
        `(${found.classNames.join(", ") || "none"}); a classifier needs at least 2, one ` +
        "subfolder of images per class.",
    );
  }
  const classMode: ClassMode = settings.classMode ?? classModeFor(found.classNames.length);
  const common = {
    targetSize: config.targetSize,
    batchSize: config.batchSize,
    classMode,
    interpolation,
    strict: settings.strict,
    log: settings.log,
    validationSplit: split,
  };
  const train = await flowFromDirectory(trainDir, {
    ...common,
    subset: split === undefined ? undefined : "training",
    seed: config.seed,
    augment: settings.augment === false ? ARTICLE_TEST_AUGMENTATION : ARTICLE_TRAIN_AUGMENTATION,
  });
  const val = await flowFromDirectory(valDir, {
    ...common,
    subset: split === undefined ? undefined : "validation",
    seed: config.seed + 1,
    augment: ARTICLE_TEST_AUGMENTATION,
  });
  return {
    train,
    val,
    numClasses: train.numClasses,
    validationSplit: split,
    inputSpec: {
      classNames: train.classNames,
      targetSize: [config.targetSize[0], config.targetSize[1]],
      interpolation,
      rescale: 1 / 255,
    },
  };
}

/** Options shared by the training functions. */
export interface TrainSettings {
  /** Progress printout (default: Keras-style console). */
  reporter?: ProgressReporter;
  /** A custom optimiser step, e.g. the two-core data-parallel one. */
  trainStep?: (model: tf.LayersModel) => Promise<{ step: TrainStep; close(): Promise<void> }>;
  /** Called with the model just before training starts (e.g. to print its summary). */
  beforeFit?: (model: tf.LayersModel) => void;
  /**
   * Keras' `class_weight`: one weight per class scaling each image's loss (e.g.
   * `classWeightBalanced(flows.train.labels, flows.numClasses)`). Used by the default step;
   * a custom `trainStep` must apply it itself (`createDataParallelTrainStep(model, { classWeight })`).
   */
  classWeight?: readonly number[];
  /**
   * Stops training, and feature extraction, before the next batch once aborted (a notebook's
   * Stop button, Ctrl-C); the Workers are closed either way.
   */
  signal?: AbortSignal;
}

/** A trained model and how its training went. */
export interface TrainedModel {
  model: tf.LayersModel;
  fit: FitResult;
}

/**
 * Builds the article's baseline CNN and trains it with the article's protocol.
 *
 * @example
 * ```ts
 * const flows = await createArticleFlows("data", config);
 * const { model, fit } = await trainBaseline(flows, config);
 * ```
 */
export async function trainBaseline(
  flows: ArticleFlows,
  config: ExperimentConfig,
  settings: TrainSettings = {},
): Promise<TrainedModel> {
  const model = createBaselineModel({
    inputShape: [...flows.train.imageShape] as [number, number, number],
    seed: config.seed,
    classes: flows.numClasses,
  });
  settings.beforeFit?.(model);
  return { model, fit: await fitWith(model, flows.train, flows.val, config, settings) };
}

async function fitWith(
  model: tf.LayersModel,
  train: Parameters<typeof fit>[1],
  val: Parameters<typeof fit>[1],
  config: ExperimentConfig,
  settings: TrainSettings,
  stepsPerEpoch = config.stepsPerEpoch,
): Promise<FitResult> {
  const custom = settings.trainStep ? await settings.trainStep(model) : null;
  const weighted = !custom && settings.classWeight
    ? createWeightedTrainStep(model, settings.classWeight)
    : undefined;
  try {
    return await fit(model, train, {
      epochs: config.epochs,
      stepsPerEpoch,
      validationData: val,
      reporter: settings.reporter,
      trainStep: custom?.step ?? weighted,
      signal: settings.signal,
    });
  } finally {
    await custom?.close();
  }
}

/**
 * Raised when a signal stops feature extraction: unlike an interrupted `fit`, it has no partial
 * result worth keeping (a head needs the features of every image).
 */
export class FeatureExtractionStopped extends CarplaneError {}

/**
 * What `fit` trained in {@linkcode trainTransfer} and on which batches: the head on the cached
 * features (or the whole model on the generators, in `augmented` mode). Training can go on from
 * there, e.g. after a notebook's Stop button.
 */
export interface FitInputs {
  /** The model `fit` trained. */
  model: tf.LayersModel;
  /** Its training batches, where the last epoch left them. */
  train: BatchSource;
  /** Its validation batches. */
  val: BatchSource;
  /** Batches per epoch. */
  stepsPerEpoch: number;
}

/** Runs a model on `shape[0]` images stored flat in `xs`; resolves to the outputs, flat. */
export type FeaturePredict = (xs: Float32Array, shape: readonly number[]) => Promise<Float32Array>;

/**
 * Runs a model over every image of a generator once (one pass, in its order) and returns the
 * outputs flat with the labels (one per image, or a one-hot row per image for categorical
 * labels): the frozen base's features for training a head on them. An aborted `signal` stops
 * it before the next batch (throwing the signal's reason).
 *
 * @example
 * ```ts
 * const { features, labels, shape } = await extractFeatures(extractor, flows.train);
 * ```
 */
export async function extractFeatures(
  extractor: tf.LayersModel,
  iterator: DirectoryIterator,
  predict: FeaturePredict = async (xs, shape) => {
    const out = tf.tidy(() => extractor.predict(tf.tensor(xs, [...shape])) as tf.Tensor);
    try {
      return (await out.data()) as Float32Array;
    } finally {
      out.dispose();
    }
  },
  signal?: AbortSignal,
): Promise<{ features: Float32Array; labels: Float32Array; shape: number[] }> {
  const shape = extractor.outputs[0].shape.slice(1) as number[];
  const size = shape.reduce((a, b) => a * b, 1);
  const features = new Float32Array(iterator.samples * size);
  const labelSize = iterator.classMode === "categorical" ? iterator.numClasses : 1;
  const labels = new Float32Array(iterator.samples * labelSize);
  iterator.reset();
  let filled = 0;
  for (let step = 0; step < iterator.stepsPerPass; step++) {
    if (signal) await nextTurnOfEventLoop(); // lets a signal listener run: see fit.ts
    if (signal?.aborted) {
      throw new FeatureExtractionStopped(
        `Feature extraction stopped by the interrupt after ${filled} of ${iterator.samples} ` +
          `images of ${iterator.directory}: nothing was trained.`,
        { hint: "run it again to start over.", cause: signal.reason },
      );
    }
    const batch = await iterator.next();
    const out = await predict(batch.xs, batch.shape);
    features.set(out, filled * size);
    labels.set(batch.ys!, filled * labelSize);
    filled += batch.size;
  }
  if (filled !== iterator.samples) {
    throw new Error(
      `extractFeatures: expected ${iterator.samples} images in one pass, got ${filled}.`,
    );
  }
  return { features, labels, shape };
}

/**
 * The feature extractor `input -> preprocessor -> base`, taking images rescaled to [0, 1].
 *
 * @example
 * ```ts
 * const extractor = featureExtractor(base); // outputs [null, 2, 2, 512] for VGG16 at 64x64
 * ```
 */
export function featureExtractor(base: PretrainedBase): tf.LayersModel {
  const input = tf.input({ shape: base.inputShape, name: "image" });
  let x: tf.SymbolicTensor = input;
  for (const layer of base.preprocessor) x = layer.apply(x) as tf.SymbolicTensor;
  x = base.model.apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: x, name: `${base.name}_features` });
}

/**
 * The whole transfer model `image -> preprocessor -> frozen base -> head`, sharing the head's
 * and the base's layers (and weights), so it can be saved and used on raw rescaled images.
 *
 * @example
 * ```ts
 * const model = composeTransferModel(base, head);
 * ```
 */
export function composeTransferModel(base: PretrainedBase, head: tf.Sequential): tf.LayersModel {
  const input = tf.input({ shape: base.inputShape, name: "image" });
  let x: tf.SymbolicTensor = input;
  for (const layer of base.preprocessor) x = layer.apply(x) as tf.SymbolicTensor;
  x = base.model.apply(x) as tf.SymbolicTensor;
  for (const layer of head.layers) x = layer.apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: x, name: `transfer_${base.name}` });
}

/**
 * Adam's learning rate for the transfer head: 1e-4, a tenth of Keras' default. Measured on the
 * car/plane photos with MobileNet features (12,544 per image), the default 1e-3 drives the head
 * to near-zero training loss in a few epochs and validation loss climbs to 0.7-1.4; at 1e-4 the
 * lowest validation loss is 0.16-0.26 and the final one 0.20-0.31 over three seeds.
 */
export const TRANSFER_LEARNING_RATE = 1e-4;

/** Options for {@linkcode trainTransfer}. */
export interface TransferSettings extends TrainSettings {
  /** `features` (default): run the base once, train the head on cached features (fast).
   * `augmented`: the base inside the model and the article's augmentation on (slow on CPU). */
  mode?: TransferMode;
  /** Run the frozen base over a batch (default: in this thread); e.g. a two-core predictor. */
  predictFeatures?: (extractor: tf.LayersModel) => Promise<{
    predict: FeaturePredict;
    close(): Promise<void>;
  }>;
  /** Where progress lines go (default `console.log`). */
  log?: (line: string) => void;
  /** Adam's learning rate for the head (default {@linkcode TRANSFER_LEARNING_RATE}). */
  learningRate?: number;
  /** Features extracted before (`features` mode): reused instead of running the base again. */
  features?: TransferFeatures;
}

/**
 * Transfer learning as the article: a frozen pretrained base with the
 * `Flatten -> Dense(256) -> Dropout(0.5) -> Dense(1)` head (`Dense(K, softmax)` for K > 2
 * classes), trained for `config.epochs`. Returns the whole image-to-probability model.
 *
 * @example
 * ```ts
 * const base = await createVgg16Base();
 * const { model, fit } = await trainTransfer(base, flows, config, { mode: "features" });
 * ```
 */
export async function trainTransfer(
  base: PretrainedBase,
  flows: ArticleFlows,
  config: ExperimentConfig,
  settings: TransferSettings = {},
): Promise<
  TrainedModel & {
    head: tf.Sequential;
    featureSeconds: number;
    fitted: FitInputs;
    /** The features the head trained on (`features` mode), to reuse for another seed. */
    features?: TransferFeatures;
  }
> {
  const log = settings.log ?? console.log;
  const mode = settings.mode ?? "features";
  const featureShape = base.model.outputs[0].shape.slice(1) as number[];
  if (mode === "augmented") {
    const head = createTransferHead(featureShape, {
      seed: config.seed,
      compile: false,
      classes: flows.numClasses,
    });
    const model = composeTransferModel(base, head);
    compileClassifier(model, flows.numClasses, settings.learningRate ?? TRANSFER_LEARNING_RATE);
    settings.beforeFit?.(model);
    log(`Training the head end to end through the frozen ${base.name} base, with augmentation.`);
    const result = await fitWith(model, flows.train, flows.val, config, settings);
    const fitted = {
      model,
      train: flows.train,
      val: flows.val,
      stepsPerEpoch: config.stepsPerEpoch,
    };
    return { model, head, fit: result, featureSeconds: 0, fitted };
  }
  const features = settings.features ??
    await extractTransferFeatures(base, flows, config, settings);
  const { train, val } = features;
  const head = createTransferHead(featureShape, {
    seed: config.seed,
    learningRate: settings.learningRate ?? TRANSFER_LEARNING_RATE,
    classes: flows.numClasses,
  });
  settings.beforeFit?.(head);
  const trainSource = createArraySource(train.features, train.labels, train.shape, {
    batchSize: config.batchSize,
    seed: config.seed,
  });
  const valSource = createArraySource(val.features, val.labels, val.shape, {
    batchSize: config.batchSize,
    shuffle: false,
  });
  const result = await fitWith(
    head,
    trainSource,
    valSource,
    config,
    settings,
    trainSource.stepsPerPass,
  );
  const model = composeTransferModel(base, head);
  const fitted = {
    model: head,
    train: trainSource,
    val: valSource,
    stepsPerEpoch: trainSource.stepsPerPass ?? config.stepsPerEpoch,
  };
  return {
    model,
    head,
    fit: result,
    featureSeconds: settings.features ? 0 : features.seconds,
    fitted,
    features,
  };
}

/** The frozen base's features of the training and validation images, for the head. */
export interface TransferFeatures {
  train: { features: Float32Array; labels: Float32Array; shape: number[] };
  val: { features: Float32Array; labels: Float32Array; shape: number[] };
  /** Seconds the extraction took. */
  seconds: number;
}

/**
 * Runs the frozen base once over the training images (not augmented, in file order) and the
 * validation images: the features `trainTransfer` trains the head on in `features` mode. They do
 * not depend on the seed, so repeated runs extract them once and pass them as
 * `TransferSettings.features`.
 *
 * @example
 * ```ts
 * const features = await extractTransferFeatures(base, flows, config);
 * const again = await trainTransfer(base, flows, { ...config, seed: 7 }, { features });
 * ```
 */
export async function extractTransferFeatures(
  base: PretrainedBase,
  flows: ArticleFlows,
  config: ExperimentConfig,
  settings: Pick<TransferSettings, "predictFeatures" | "log" | "signal"> = {},
): Promise<TransferFeatures> {
  const log = settings.log ?? console.log;
  const extractor = featureExtractor(base);
  const started = performance.now();
  const runner = settings.predictFeatures ? await settings.predictFeatures(extractor) : null;
  let train, val;
  try {
    log(`Extracting ${base.name} features of the training images (no augmentation)...`);
    const plain = await flowFromDirectory(flows.train.directory, {
      targetSize: flows.inputSpec.targetSize,
      batchSize: config.batchSize,
      classMode: flows.train.classMode,
      classes: flows.train.classNames,
      validationSplit: flows.validationSplit,
      subset: flows.validationSplit === undefined ? undefined : "training",
      shuffle: false,
      interpolation: flows.inputSpec.interpolation,
      augment: ARTICLE_TEST_AUGMENTATION,
      log,
    });
    train = await extractFeatures(extractor, plain, runner?.predict, settings.signal);
    log(`Extracting ${base.name} features of ${flows.val.samples} validation images...`);
    val = await extractFeatures(extractor, flows.val, runner?.predict, settings.signal);
  } finally {
    await runner?.close();
  }
  const seconds = (performance.now() - started) / 1000;
  log(`Features ready in ${seconds.toFixed(1)}s: ${train.shape.join("x")} per image.`);
  return { train, val, seconds };
}
