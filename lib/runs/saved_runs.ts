/**
 * The hand-over of trained models and their histories between notebooks, through the run store
 * over the outputs folder (`store.ts`, the same files `deno task reproduce` writes). A notebook
 * that needs a trained model loads it when one trained under its protocol is saved, and trains
 * (and saves) one otherwise, so every notebook runs alone in a fresh kernel.
 *
 * - {@linkcode modelFromOutputsOrTrain}, {@linkcode historyFromOutputsOrTrain}: a saved model or
 *   history when there is one of this protocol, else one trained just now (and saved).
 * - {@linkcode trainArticleBaseline}: the article's baseline trained as `deno task reproduce`
 *   trains it, for notebooks that need it but do not show its training.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { ExperimentConfig } from "../config.ts";
import type { ModelMetadata } from "../models/model_io.ts";
import type { InputSpec } from "../models/predict.ts";
import { createArticleFlows, trainBaseline } from "../training/experiment.ts";
import type { History } from "../training/history.ts";
import { threadPlan } from "../training/parallel.ts";
import type { ProgressReporter } from "../training/progress.ts";
import {
  historyFiles,
  type ModelKind,
  type ModelRecord,
  openRunStore,
  type RunProtocol,
  runProtocol,
} from "./store.ts";

/** A model for a notebook, loaded from the outputs folder or trained just now. */
export interface ModelFromOutputs {
  kind: ModelKind;
  /** `loaded` from `dir`, or `trained` by the fallback (and saved to `dir`). */
  origin: "loaded" | "trained";
  model: tf.LayersModel;
  metadata: ModelMetadata;
  inputSpec: InputSpec;
  /** Its history, when saved beside it (always, for a model trained here). */
  history: History | null;
  /** The model's folder. */
  dir: string;
  /** One line for the notebook, e.g. "Loaded the transfer model (mobilenet base) from ...". */
  description: string;
}

/** Options for {@linkcode modelFromOutputsOrTrain}. */
export interface ModelFromOutputsOptions {
  /** The outputs folder (`projectPaths().outputs`). */
  outputsDir: string;
  /** Models to look for, best first, e.g. `["transfer", "baseline"]`. */
  kinds: readonly ModelKind[];
  /** The experiment: only models trained under its protocol are reused. */
  config: ExperimentConfig;
  /** Trains a model when none of `kinds` is saved; its result is saved, then returned. */
  train: () => Promise<ModelRecord>;
  /** Where the lines go. Default `console.log`. */
  log?: (line: string) => void;
}

function describeSaved(metadata: ModelMetadata): string {
  const parts: string[] = [];
  if (typeof metadata.base === "string") parts.push(`${metadata.base} base`);
  const p = metadata.protocol as Partial<RunProtocol> | undefined;
  if (p?.epochs !== undefined) {
    parts.push(
      `${p.epochs} epochs${p.stepsPerEpoch ? ` x ${p.stepsPerEpoch} steps` : ""}${
        p.quick ? ", quick mode" : ""
      }`,
    );
  }
  return parts.length > 0 ? ` (${parts.join(", ")})` : "";
}

/**
 * The first of `kinds` saved in the outputs folder under `config`'s protocol, loaded; or, when
 * there is none, the model `train()` returns, saved for the next notebook. Says which in
 * `description` and `log`.
 *
 * @example
 * ```ts
 * const found = await modelFromOutputsOrTrain({
 *   outputsDir: paths.outputs,
 *   kinds: ["transfer", "baseline"],
 *   config,
 *   train: () => trainArticleBaseline({ dataDir: paths.data, config }),
 * });
 * console.log(found.description);
 * ```
 */
export async function modelFromOutputsOrTrain(
  options: ModelFromOutputsOptions,
): Promise<ModelFromOutputs> {
  const log = options.log ?? console.log;
  const store = openRunStore(options.outputsDir);
  const found = await store.findModel(options.kinds, { config: options.config, log });
  if (found !== null) {
    const description = `Loaded the ${found.kind} model${
      describeSaved(found.metadata)
    } from ${found.dir}.`;
    log(description);
    return { ...found, origin: "loaded", description };
  }
  const where = options.kinds.map((k) => store.path(`models/${k}`)).join(" or ");
  log(`No usable saved model in ${where}: training one now (it is saved for the next notebook).`);
  const record = await options.train();
  const saved = await store.saveModel(record);
  const metadata: ModelMetadata = {
    ...record.inputSpec,
    kind: record.kind,
    protocol: runProtocol(record.config),
    ...(record.extra ?? {}),
  };
  const description = `Trained the ${record.kind} model${
    describeSaved(metadata)
  } and saved it to ${saved.modelDir}.`;
  log(description);
  return {
    kind: record.kind,
    origin: "trained",
    model: record.model,
    metadata,
    inputSpec: record.inputSpec,
    history: record.history,
    dir: saved.modelDir,
    description,
  };
}

/** Options for {@linkcode historyFromOutputsOrTrain}. */
export interface HistoryFromOutputsOptions {
  /** The outputs folder. */
  outputsDir: string;
  /** Whose history. */
  kind: ModelKind;
  /** Only a history trained under this experiment's protocol is reused. */
  config: ExperimentConfig;
  /** Trains the model when no usable history is saved; its result is saved, then disposed. */
  train: () => Promise<ModelRecord>;
  /** Where the lines go. Default `console.log`. */
  log?: (line: string) => void;
}

/**
 * The saved history of `kind` under `config`'s protocol, or, when there is none, the history of
 * a model `train()` returns (the model is saved, then disposed).
 *
 * @example
 * ```ts
 * const { history, origin } = await historyFromOutputsOrTrain({
 *   outputsDir: paths.outputs,
 *   kind: "baseline",
 *   config,
 *   train: () => trainArticleBaseline({ dataDir: paths.data, config }),
 * });
 * ```
 */
export async function historyFromOutputsOrTrain(
  options: HistoryFromOutputsOptions,
): Promise<{ history: History; origin: "loaded" | "trained"; description: string }> {
  const log = options.log ?? console.log;
  const store = openRunStore(options.outputsDir);
  const path = store.path(historyFiles(options.kind).json);
  const saved = await store.findHistory(options.kind, { config: options.config, log });
  if (saved !== null) {
    const description =
      `Loaded the ${options.kind} history (${saved.epoch.length} epochs) from ${path}.`;
    log(description);
    return { history: saved, origin: "loaded", description };
  }
  log(`No usable ${options.kind} history in ${path}: training the ${options.kind} now.`);
  const record = await options.train();
  const files = await store.saveModel(record);
  record.model.dispose();
  const description = `Trained the ${options.kind} (${record.history.epoch.length} epochs) and ` +
    `saved it to ${files.modelDir} and ${files.historyCsv}.`;
  log(description);
  return { history: record.history, origin: "trained", description };
}

/** Options for {@linkcode trainArticleBaseline}. */
export interface TrainArticleBaselineOptions {
  /** Dataset in the article's layout. */
  dataDir: string;
  /** The experiment (protocol, threads). */
  config: ExperimentConfig;
  /**
   * Training progress (e.g. `createNotebookReporter` from `lib/notebook/`, whose `settled()` is
   * awaited); default the console one.
   */
  reporter?: ProgressReporter & { settled?: () => Promise<void> };
  /** Where the `Found ...` lines go. Default `console.log`. */
  log?: (line: string) => void;
  /** Stops training at the next batch once aborted (a notebook's Stop button). */
  signal?: AbortSignal;
}

/**
 * The article's baseline CNN trained as `deno task reproduce` trains it (the article's flows,
 * the threads `threadPlan` gives): for notebooks that need the baseline but do not show its
 * training. Returns what the run store saves.
 *
 * @example
 * ```ts
 * const record = await trainArticleBaseline({ dataDir: paths.data, config });
 * await openRunStore(paths.outputs).saveModel(record);
 * ```
 */
export async function trainArticleBaseline(
  options: TrainArticleBaselineOptions,
): Promise<ModelRecord> {
  const flows = await createArticleFlows(options.dataDir, options.config, { log: options.log });
  const trained = await trainBaseline(flows, options.config, {
    reporter: options.reporter,
    signal: options.signal,
    trainStep: threadPlan(options.config.threads).trainStep,
  });
  await options.reporter?.settled?.();
  return {
    kind: "baseline",
    model: trained.model,
    inputSpec: flows.inputSpec,
    history: trained.fit.history,
    config: options.config,
  };
}
