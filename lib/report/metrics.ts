/**
 * What a run measured: the numbers of each trained model and what `metrics.json` holds. The
 * types live here, beside the report that renders them, so that the experiment that fills them
 * and the report that reads them do not import each other.
 *
 * @module
 */
import type { BaseChoice } from "../models/bases.ts";
import type { FitDiagnosis } from "../training/diagnose.ts";
import type { ExperimentConfig, TransferMode } from "../config.ts";
import type { History } from "../training/history.ts";
import type { DataSizeMetrics, SeedsMetrics } from "./seeds.ts";

/** The numbers of one trained model. */
export interface ModelMetrics {
  params: { total: number; trainable: number; nonTrainable: number };
  history: History;
  epochSeconds: number[];
  trainSeconds: number;
  finalValAccuracy: number;
  bestValAccuracy: number;
  finalValLoss: number;
  minValLoss: number;
  diagnosis: FitDiagnosis;
  test: { correct: number; total: number; accuracy: number; line: string; misclassified: string[] };
  confusionMatrix: number[][];
}

/** What `metrics.json` holds. */
export interface ReproduceMetrics {
  generatedAt: string;
  command: string;
  backend: { name: string; reason: string; threads: number };
  dataset: {
    dir: string;
    /** Where the images came from (the article's, CIFAR-10, the embedded sample, a folder). */
    source?: string;
    classNames: string[];
    train: number;
    val: number;
    test: number;
  };
  config: ExperimentConfig;
  timings: { totalSeconds: number; peakRssMiB: number };
  baseline: ModelMetrics;
  transfer:
    | (ModelMetrics & {
      base: string;
      weights: string;
      preprocessing: string;
      mode: TransferMode;
      baseParams: { total: number; trainable: number; nonTrainable: number };
      featureSeconds: number;
      /** Which base was asked for, which was used, and why (absent in older runs). */
      choice?: BaseChoice;
    })
    | { skipped: string };
  /** The transfer model fine-tuned (`--fine-tune`): its top block unfrozen, a low learning rate. */
  fineTuned?: ModelMetrics & {
    base: string;
    unfrozen: string[];
    learningRate: number;
    epochs: number;
  };
  /** Repeated runs (`--seeds`): every seed's histories, the summaries, the claims checked. */
  seeds?: SeedsMetrics;
  /** The accuracy-vs-data-size experiment (`--train-per-class`). */
  dataSize?: DataSizeMetrics;
}

/** What `deno task train` writes to `metrics.json`: one model trained on the user's images. */
export interface TrainMetrics {
  generatedAt: string;
  command: string;
  backend: { name: string; reason: string; threads: number };
  dataset: {
    dir: string;
    /** How the folder was read (article layout, or class folders cut by validation_split). */
    layout: string;
    classNames: string[];
    classMode: "binary" | "categorical";
    validationSplit: number | null;
    train: number;
    val: number;
    test: number;
  };
  config: ExperimentConfig;
  /** Keras' class_weight in use (per class), or null. */
  classWeight: number[] | null;
  /** The frozen pretrained base, or null for the baseline CNN. */
  base: {
    name: string;
    weights: string;
    params: { total: number; trainable: number; nonTrainable: number };
    featureSeconds: number;
  } | null;
  timings: { totalSeconds: number; peakRssMiB: number };
  /** The model's numbers; `test` and `confusionMatrix` are on `evaluatedOn`'s images. */
  model: ModelMetrics;
  /** `test` when there is a test folder, else `validation`. */
  evaluatedOn: "test" | "validation";
  /** Precision and recall per class on those images. */
  classScores: { className: string; precision: number; recall: number; support: number }[];
}
