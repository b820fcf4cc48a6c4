/** A tiny saved-model record for the run store's tests. */
import * as tf from "@tensorflow/tfjs";
import { experimentConfig } from "../lib/config.ts";
import type { InputSpec } from "../lib/models/predict.ts";
import type { ModelKind, ModelRecord } from "../lib/runs/store.ts";
import { historyOf } from "./history_fixtures.ts";

/** A compiled one-unit model on 4x4x3 inputs. */
export function tinyModel(): tf.LayersModel {
  const model = tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [4, 4, 3] }),
      tf.layers.dense({ units: 1, activation: "sigmoid" }),
    ],
  });
  model.compile({ optimizer: "adam", loss: "binaryCrossentropy", metrics: ["accuracy"] });
  return model;
}

/** The input preparation saved with {@linkcode tinyModel}. */
export const SPEC: InputSpec = {
  classNames: ["cars", "planes"],
  targetSize: [4, 4],
  interpolation: "nearest",
  rescale: 1 / 255,
};

/** A record of `kind` trained for `epochs` (quick when under 5). */
export function record(kind: ModelKind, epochs: number): ModelRecord {
  return {
    kind,
    model: tinyModel(),
    inputSpec: SPEC,
    history: historyOf(epochs),
    config: experimentConfig({ epochs, quick: epochs < 5 }),
    extra: kind === "transfer" ? { base: "mobilenet" } : undefined,
  };
}
