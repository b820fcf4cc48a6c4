/**
 * Fine-tuning, the step after transfer learning on a frozen base (Chollet, Deep Learning with
 * Python 5.3; Keras' transfer-learning guide): once the head has trained on the frozen base,
 * unfreeze the base's top block and train on with a low learning rate, so the most specific
 * pretrained features adapt to cars and planes without wrecking them.
 *
 * - The top block is VGG16's `block5_conv1..3` or MobileNet v1's last depthwise/pointwise pair
 *   (`conv_dw_13`, `conv_pw_13` for the default feature layer); {@linkcode topBlockLayers}
 *   finds it. Only its convolutions train: BatchNormalization layers stay frozen (moving
 *   statistics and scale/offset) and in inference mode, as the base is a `FrozenModel`, which
 *   runs every layer with `training: false` even inside `fit` (Keras' `base(x, training=False)`).
 *   Otherwise the small batches of 160 images would replace ImageNet's statistics and the first
 *   fine-tuning steps would wreck the features the head was trained on.
 * - Training recompiles with Adam at {@linkcode FINE_TUNE_LEARNING_RATE} (1e-5 by default) and
 *   runs on augmented images through the whole model (the base cannot be cached any more).
 * - Fine-tuning changes the base's top block in place (the transfer model shares it, and the
 *   head continues from where transfer learning left it): evaluate and save the frozen-base
 *   model first. {@linkcode FineTuned.restore} puts the pretrained weights back and freezes the
 *   block again, so the next seed starts from ImageNet's weights.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { compileClassifier } from "../models/baseline.ts";
import type { PretrainedBase } from "../models/base.ts";
import { CarplaneError } from "../errors.ts";
import { FINE_TUNE_EPOCHS, FINE_TUNE_LEARNING_RATE } from "../config.ts";
import type { ArticleFlows, TrainedModel, TrainSettings } from "./experiment.ts";
import { fit } from "./fit.ts";

/** Raised when a base has no block to unfreeze, or a named layer is not in it. */
export class FineTuneError extends CarplaneError {
  constructor(message: string) {
    super(message);
    this.name = "FineTuneError";
  }
}

/**
 * The layers of the base's top block that fine-tuning unfreezes (those with weights, BN left
 * out): VGG16's `block5_conv*`, MobileNet's highest-numbered `conv_dw_N` and `conv_pw_N`.
 *
 * @example
 * ```ts
 * topBlockLayers(base); // ["conv_dw_13", "conv_pw_13"] for MobileNet v1
 * ```
 */
export function topBlockLayers(base: Pick<PretrainedBase, "name" | "model">): string[] {
  const names = base.model.layers.map((l) => l.name);
  if (base.name === "vgg16") {
    const block5 = names.filter((n) => /^block5_conv\d+$/.test(n));
    if (block5.length > 0) return block5;
  }
  const numbers = names.map((n) => /^conv_(?:dw|pw)_(\d+)$/.exec(n)?.[1]).filter((x) =>
    x !== undefined
  ).map(Number);
  if (numbers.length > 0) {
    const top = Math.max(...numbers);
    return names.filter((n) => n === `conv_dw_${top}` || n === `conv_pw_${top}`);
  }
  throw new FineTuneError(
    `lib/training/fine_tune.ts: the ${base.name} base has no block5_conv* (VGG16) or ` +
      `conv_dw_N/conv_pw_N (MobileNet v1) layers to unfreeze; pass the layer names with ` +
      "FineTuneSettings.layers.",
  );
}

/** Options for {@linkcode fineTune}. */
export interface FineTuneSettings extends TrainSettings {
  /** Adam's learning rate (default {@linkcode FINE_TUNE_LEARNING_RATE}, 1e-5). */
  learningRate?: number;
  /** Epochs (default {@linkcode FINE_TUNE_EPOCHS}, 10). */
  epochs?: number;
  /** Batches per epoch (default one pass over the training images). */
  stepsPerEpoch?: number;
  /** Layers of the base to unfreeze (default {@linkcode topBlockLayers}). */
  layers?: string[];
  /** Where progress lines go (default `console.log`). */
  log?: (line: string) => void;
}

/** A fine-tuned model, its History, what was unfrozen, and how to undo it. */
export interface FineTuned extends TrainedModel {
  /** The base layers that were trained. */
  unfrozen: string[];
  /** Restores the base's pretrained weights of those layers and freezes them again. */
  restore(): void;
}

/**
 * Fine-tunes a transfer model: unfreezes the base's top block (convolutions only; BN stays
 * frozen and in inference mode), recompiles with Adam at a low learning rate and trains the
 * whole image-to-probability model on the augmented training images, validating on
 * `flows.val` after every epoch.
 *
 * `model` is the transfer model `image -> preprocessor -> base -> head` whose head has already
 * been trained on the frozen base (what `trainTransfer` returns); it is trained in place and
 * returned.
 *
 * @example
 * ```ts
 * const transfer = await trainTransfer(base, flows, config);
 * // evaluate / save transfer.model first: fine-tuning changes it
 * const tuned = await fineTune(transfer.model, base, flows, { epochs: 10 });
 * console.log(tuned.fit.history.history.val_accuracy.at(-1));
 * tuned.restore(); // the base is ImageNet's again
 * ```
 */
export async function fineTune(
  model: tf.LayersModel,
  base: PretrainedBase,
  flows: ArticleFlows,
  settings: FineTuneSettings = {},
): Promise<FineTuned> {
  const log = settings.log ?? console.log;
  const names = settings.layers ?? topBlockLayers(base);
  const layers = names.map((name) => {
    const layer = base.model.layers.find((l) => l.name === name);
    if (layer === undefined) {
      throw new FineTuneError(
        `lib/training/fine_tune.ts: the ${base.name} base has no layer "${name}"; pass names ` +
          `from its summary, e.g. ${topBlockLayersOrNone(base)}.`,
      );
    }
    if (layer.weights.length === 0) {
      throw new FineTuneError(
        `lib/training/fine_tune.ts: layer "${name}" of the ${base.name} base has no weights to ` +
          "train; pass convolution layers.",
      );
    }
    return layer;
  });
  if (!model.layers.includes(base.model)) {
    throw new FineTuneError(
      `lib/training/fine_tune.ts: the model "${model.name}" does not contain the ${base.name} ` +
        "base; pass the transfer model built on this base (trainTransfer(...).model).",
    );
  }
  const epochs = settings.epochs ?? FINE_TUNE_EPOCHS;
  const learningRate = settings.learningRate ?? FINE_TUNE_LEARNING_RATE;
  if (!(Number.isInteger(epochs) && epochs > 0) || !(learningRate > 0)) {
    throw new FineTuneError(
      `lib/training/fine_tune.ts: epochs must be a positive integer and the learning rate ` +
        `positive, got epochs ${epochs} and learning rate ${learningRate}; e.g. 10 and 1e-5.`,
    );
  }
  const saved = layers.map((l) => l.getWeights().map((w) => w.clone()));
  const restore = () => {
    layers.forEach((l, i) => l.setWeights(saved[i]));
    freeze();
  };
  const freeze = () => {
    for (const l of layers) l.trainable = false;
    base.model.trainable = false;
  };
  base.model.trainable = true;
  for (const l of base.model.layers) l.trainable = layers.includes(l);
  let disposed = false;
  try {
    // Keep the model's loss: one sigmoid unit (binary) or a softmax over K classes.
    const units = model.outputs[0].shape.at(-1) ?? 1;
    compileClassifier(model, units === 1 ? 2 : units, learningRate);
    const params = layers.reduce((a, l) => a + l.countParams(), 0);
    log(
      `Fine-tuning ${names.join(", ")} of ${base.name} (${params.toLocaleString("en-US")} ` +
        `weights; BatchNormalization frozen, inference mode) with the head, Adam ${learningRate}, ` +
        `${epochs} epoch${epochs === 1 ? "" : "s"} on augmented images.`,
    );
    settings.beforeFit?.(model);
    const custom = settings.trainStep ? await settings.trainStep(model) : null;
    try {
      const result = await fit(model, flows.train, {
        epochs,
        stepsPerEpoch: settings.stepsPerEpoch ?? flows.train.stepsPerPass,
        validationData: flows.val,
        reporter: settings.reporter,
        trainStep: custom?.step,
        signal: settings.signal,
      });
      return {
        model,
        fit: result,
        unfrozen: names,
        restore: () => {
          if (disposed) return;
          disposed = true;
          restore();
          saved.flat().forEach((t) => t.dispose());
        },
      };
    } finally {
      await custom?.close();
    }
  } catch (error) {
    restore();
    saved.flat().forEach((t) => t.dispose());
    disposed = true;
    throw error;
  }
}

function topBlockLayersOrNone(base: PretrainedBase): string {
  try {
    return topBlockLayers(base).join(", ");
  } catch {
    return base.model.layers.slice(-3).map((l) => l.name).join(", ");
  }
}
