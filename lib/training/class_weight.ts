/**
 * Keras' `class_weight`: each image's loss is multiplied by its class's weight, so that a class
 * with few images counts as much as one with many. `classWeightBalanced` gives the usual
 * "balanced" weights (scikit-learn's `compute_class_weight("balanced")`, what Keras' docs point
 * to): `n_images / (n_classes * n_images_of_class)`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { CarplaneError } from "../errors.ts";
import { parallelLossOf, shareGradients } from "./_parallel_protocol.ts";
import {
  batchTensors,
  type LabeledBatch,
  type StepResult,
  TrainingError,
  type TrainStep,
} from "./fit.ts";

/** Raised for class weights that do not fit the model or the data. */
export class ClassWeightError extends CarplaneError {}

/**
 * Balanced class weights for labels `labels` (class indices) of `numClasses` classes.
 *
 * @example
 * ```ts
 * classWeightBalanced([0, 0, 0, 1], 2); // [0.666..., 2]
 * ```
 */
export function classWeightBalanced(labels: readonly number[], numClasses: number): number[] {
  const counts = new Array(numClasses).fill(0);
  for (const label of labels) counts[label]++;
  const empty = counts.findIndex((c) => c === 0);
  if (empty >= 0) {
    throw new ClassWeightError(
      `class_weight "balanced" needs images of every class; class ${empty} has none.`,
    );
  }
  return counts.map((c) => labels.length / (numClasses * c));
}

/**
 * Checks class weights against a compiled model: one finite, non-negative weight per class
 * (2 for a one-unit sigmoid output).
 *
 * @example
 * ```ts
 * checkClassWeight([1, 3], model); // [1, 3]
 * ```
 */
export function checkClassWeight(weights: readonly number[], model: tf.LayersModel): number[] {
  const units = (model.outputs[0].shape.at(-1) ?? 1) as number;
  const classes = Math.max(2, units);
  if (weights.length !== classes || weights.some((w) => !Number.isFinite(w) || w < 0)) {
    throw new ClassWeightError(
      `classWeight must hold ${classes} finite weights >= 0 (one per class of the model's ` +
        `${units}-unit output), got [${weights.join(", ")}].`,
    );
  }
  return [...weights];
}

/**
 * A training step (for {@linkcode fit}'s `trainStep`) that weighs each image's loss by its
 * class, as Keras' `fit(class_weight=...)`: the loss is `sum(weight * loss) / batch size` plus
 * the model's weight penalties, applied with the model's own optimizer. With every weight 1 it
 * is the same step as `model.trainOnBatch`. On two cores use
 * `createDataParallelTrainStep(model, { classWeight })` instead.
 *
 * @example
 * ```ts
 * const trainStep = createWeightedTrainStep(model, classWeightBalanced(train.labels, 2));
 * await fit(model, train, { epochs: 30, stepsPerEpoch: 30, trainStep });
 * ```
 */
export function createWeightedTrainStep(
  model: tf.LayersModel,
  classWeight: readonly number[],
): TrainStep {
  const weights = checkClassWeight(classWeight, model);
  const loss = parallelLossOf(model);
  const optimizer = model.optimizer;
  if (optimizer == null) {
    throw new ClassWeightError("The model has no optimizer: compile it before training.");
  }
  return (batch: LabeledBatch): Promise<StepResult> => {
    const { xs, ys } = batchTensors(batch);
    try {
      if (ys === null) {
        throw new TrainingError(
          "A training batch has no labels: use classMode binary or categorical.",
        );
      }
      const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
      const share = shareGradients(model, variables, xs, ys, batch.size, loss, true, weights);
      const named: tf.NamedTensorMap = {};
      variables.forEach((v, i) => named[v.name] = share.grads[i]);
      try {
        optimizer.applyGradients(named);
      } finally {
        tf.dispose(share.grads);
      }
      return Promise.resolve({
        loss: share.lossSum / batch.size + share.penalty,
        accuracy: share.correct / batch.size,
        size: batch.size,
      });
    } finally {
      xs.dispose();
      ys?.dispose();
    }
  };
}
