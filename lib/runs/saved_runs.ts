/**
 * The hand-over of trained models and their histories between notebooks, through the outputs
 * folder. A notebook that trains a model saves it (and its history) under the outputs folder,
 * in the same places as `deno task reproduce`; a notebook that needs a trained model loads it
 * from there when it is present and trains it otherwise, so every notebook runs alone in a
 * fresh kernel.
 *
 * - {@linkcode saveNotebookModel}: saves a trained model and its history.
 * - {@linkcode loadHistoryFromOutputs}: reads a saved history.
 * - {@linkcode modelFromOutputsOrTrain}, {@linkcode historyFromOutputsOrTrain}: a saved model or
 *   history when there is a usable one, else one trained just now (and saved).
 * - {@linkcode trainArticleBaseline}: the article's baseline trained as `deno task reproduce`
 *   trains it, for notebooks that need it but do not show its training.
 *
 * ## Files under the outputs folder
 *
 * - `models/<kind>/model.json` + `weights.bin` (`kind` is `baseline` or `transfer`), with the
 *   input spec, `kind`, `protocol` (epochs, steps, batch size, quick) and any extra metadata;
 * - `history.csv` / `transfer_history.csv`: Keras `CSVLogger`-style histories (what `deno task
 *   reproduce` writes too), and `history.json` / `transfer_history.json`: the same history as
 *   JSON with `kind` and `protocol` (non-finite numbers as `null`).
 *
 * A saved model or history is reused only when it was trained for the number of epochs the
 * current configuration asks for, so a quick smoke run's model never stands in for a full one.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import type { ExperimentConfig } from "../config.ts";
import { createArticleFlows, trainBaseline } from "../training/experiment.ts";
import { type History, historyFromCsv, historyToCsv } from "../training/history.ts";
import { loadModel, type ModelMetadata, saveModel } from "../models/model_io.ts";
import type { NotebookReporter } from "../notebook/display.ts";
import { atomicWriteFile, ensureWritableDir } from "./outputs.ts";
import { createDataParallelTrainStep } from "../training/parallel.ts";
import { type InputSpec, inputSpecFromMetadata } from "../models/predict.ts";
import type { ProgressReporter } from "../training/progress.ts";
import { pathExists } from "../_fs.ts";
import { CarplaneError } from "../errors.ts";

/** Raised when a notebook's saved outputs cannot be written or read; says what to do. */
export class SavedRunError extends CarplaneError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SavedRunError";
  }
}

/** The models the notebooks hand over: the article's CNN and the transfer model. */
export type ModelKind = "baseline" | "transfer";

/** The training protocol saved with a model and its history. */
export interface SavedProtocol {
  epochs: number;
  stepsPerEpoch: number;
  batchSize: number;
  quick: boolean;
}

/** A trained model with what is saved beside it. */
export interface NotebookModelRecord {
  /** Which model this is (decides the folder and the history file names). */
  kind: ModelKind;
  /** The whole image-to-probability model. */
  model: tf.LayersModel;
  /** How images are prepared for it (saved as metadata for `deno task predict`). */
  inputSpec: InputSpec;
  /** Its training history. */
  history: History;
  /** The protocol it was trained with (saved as `protocol`). */
  config: ExperimentConfig;
  /** More metadata, e.g. `{ base: "mobilenet", weights: "..." }`. */
  extra?: ModelMetadata;
}

/** Where {@linkcode saveNotebookModel} wrote. */
export interface SavedNotebookModel {
  modelDir: string;
  historyCsv: string;
  historyJson: string;
}

/**
 * The file names of a model's history under the outputs folder (as `deno task reproduce`
 * names them).
 *
 * @example
 * ```ts
 * historyFiles("transfer"); // { csv: "transfer_history.csv", json: "transfer_history.json" }
 * ```
 */
export function historyFiles(kind: ModelKind): { csv: string; json: string } {
  const prefix = kind === "baseline" ? "" : `${kind}_`;
  return { csv: `${prefix}history.csv`, json: `${prefix}history.json` };
}

function protocolOf(config: ExperimentConfig): SavedProtocol {
  return {
    epochs: config.epochs,
    stepsPerEpoch: config.stepsPerEpoch,
    batchSize: config.batchSize,
    quick: config.quick,
  };
}

/**
 * Saves a trained model as `<outputsDir>/models/<kind>/` (metadata: the input spec, `kind`,
 * `protocol` and `extra`) and its history as `history.csv` + `history.json` (or
 * `transfer_history.*`), all atomically.
 *
 * @example
 * ```ts
 * await saveNotebookModel(paths.outputs, {
 *   kind: "baseline", model, inputSpec: flows.inputSpec, history: fit.history, config,
 * });
 * ```
 */
export async function saveNotebookModel(
  outputsDir: string,
  record: NotebookModelRecord,
): Promise<SavedNotebookModel> {
  await ensureWritableDir(outputsDir);
  const protocol = protocolOf(record.config);
  const modelDir = join(outputsDir, "models", record.kind);
  await ensureWritableDir(join(outputsDir, "models"));
  await saveModel(record.model, modelDir, {
    metadata: { ...record.inputSpec, kind: record.kind, protocol, ...(record.extra ?? {}) },
  });
  const names = historyFiles(record.kind);
  const historyCsv = join(outputsDir, names.csv);
  const historyJson = join(outputsDir, names.json);
  await atomicWriteFile(historyCsv, historyToCsv(record.history));
  const json = {
    kind: record.kind,
    protocol,
    epoch: record.history.epoch,
    history: Object.fromEntries(
      Object.entries(record.history.history).map((
        [k, v],
      ) => [k, v.map((x) => Number.isFinite(x) ? x : null)]),
    ),
  };
  await atomicWriteFile(historyJson, JSON.stringify(json, null, 2) + "\n");
  return { modelDir, historyCsv, historyJson };
}

/** Options for {@linkcode loadHistoryFromOutputs}. */
export interface LoadHistoryOptions {
  /** When given, a history with another number of epochs is ignored (returns null). */
  config?: ExperimentConfig;
  /** Where the reason for ignoring a history goes. Default `console.log`. */
  log?: (line: string) => void;
}

/**
 * Reads `history.csv` (or `transfer_history.csv`) from the outputs folder; null when there is
 * none, or when `config` asks for another number of epochs than it has.
 *
 * @example
 * ```ts
 * const history = await loadHistoryFromOutputs(paths.outputs, "baseline", { config });
 * if (history === null) console.log("train the baseline first");
 * ```
 */
export async function loadHistoryFromOutputs(
  outputsDir: string,
  kind: ModelKind,
  options: LoadHistoryOptions = {},
): Promise<History | null> {
  const log = options.log ?? console.log;
  const path = join(outputsDir, historyFiles(kind).csv);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw new SavedRunError(
      `Cannot read ${path}: ${error instanceof Error ? error.message : String(error)}. ` +
        "Check its permissions, or delete it to train again.",
      { cause: error },
    );
  }
  const history = historyFromCsv(text, { source: path });
  const wanted = options.config?.epochs;
  if (wanted !== undefined && history.epoch.length !== wanted) {
    log(
      `Not reusing ${path}: it has ${history.epoch.length} epochs and this run's protocol has ` +
        `${wanted}${options.config?.quick ? " (quick mode)" : ""}.`,
    );
    return null;
  }
  return history;
}

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
  /** Trains a model when none of `kinds` is saved; its result is saved, then returned. */
  train: () => Promise<NotebookModelRecord>;
  /** When given, saved models trained for another number of epochs are not reused. */
  config?: ExperimentConfig;
  /** Where the lines go. Default `console.log`. */
  log?: (line: string) => void;
}

function describeSaved(metadata: ModelMetadata, history: History | null): string {
  const parts: string[] = [];
  if (typeof metadata.base === "string") parts.push(`${metadata.base} base`);
  const p = metadata.protocol as Partial<SavedProtocol> | undefined;
  const epochs = p?.epochs ?? history?.epoch.length;
  if (epochs !== undefined) {
    parts.push(
      `${epochs} epochs${p?.stepsPerEpoch ? ` x ${p.stepsPerEpoch} steps` : ""}${
        p?.quick ? ", quick mode" : ""
      }`,
    );
  }
  return parts.length > 0 ? ` (${parts.join(", ")})` : "";
}

/**
 * The first of `kinds` saved under `<outputsDir>/models/`, loaded; or, when none is there (or
 * none matches `config`'s epochs, or none loads), the model `train()` returns, saved with
 * {@linkcode saveNotebookModel} for the next notebook. Says which in `description` and `log`.
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
  for (const kind of options.kinds) {
    const dir = join(options.outputsDir, "models", kind);
    if (!(await pathExists(join(dir, "model.json")))) continue;
    const history = await loadHistoryFromOutputs(options.outputsDir, kind, { log: () => {} });
    let loaded;
    try {
      loaded = await loadModel(dir);
    } catch (error) {
      log(
        `Cannot load the saved ${kind} model from ${dir} (${
          error instanceof Error ? error.message : String(error)
        }); looking further.`,
      );
      continue;
    }
    const protocol = loaded.metadata.protocol as Partial<SavedProtocol> | undefined;
    const epochs = protocol?.epochs ?? history?.epoch.length;
    const wanted = options.config?.epochs;
    if (wanted !== undefined && epochs !== undefined && epochs !== wanted) {
      log(
        `Not reusing the ${kind} model in ${dir}: it was trained for ${epochs} epochs and this ` +
          `run's protocol has ${wanted}${options.config?.quick ? " (quick mode)" : ""}.`,
      );
      loaded.model.dispose();
      continue;
    }
    const description = `Loaded the ${kind} model${
      describeSaved(loaded.metadata, history)
    } from ${dir}.`;
    log(description);
    return {
      kind,
      origin: "loaded",
      model: loaded.model,
      metadata: loaded.metadata,
      inputSpec: inputSpecFromMetadata(loaded.metadata, loaded.model),
      history,
      dir,
      description,
    };
  }
  const where = options.kinds.map((k) => join(options.outputsDir, "models", k)).join(" or ");
  log(`No usable saved model in ${where}: training one now (it is saved for the next notebook).`);
  const record = await options.train();
  const saved = await saveNotebookModel(options.outputsDir, record);
  const metadata: ModelMetadata = {
    ...record.inputSpec,
    kind: record.kind,
    protocol: protocolOf(record.config),
    ...(record.extra ?? {}),
  };
  const description = `Trained the ${record.kind} model${
    describeSaved(metadata, record.history)
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
  /** Only a history with this protocol's number of epochs is reused. */
  config: ExperimentConfig;
  /** Trains the model when no usable history is saved; its result is saved, then disposed. */
  train: () => Promise<NotebookModelRecord>;
  /** Where the lines go. Default `console.log`. */
  log?: (line: string) => void;
}

/**
 * The saved history of `kind` (see {@linkcode loadHistoryFromOutputs}), or, when there is no
 * usable one, the history of a model `train()` returns (the model is saved with
 * {@linkcode saveNotebookModel}, then disposed).
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
  const path = join(options.outputsDir, historyFiles(options.kind).csv);
  const saved = await loadHistoryFromOutputs(options.outputsDir, options.kind, {
    config: options.config,
    log,
  });
  if (saved !== null) {
    const description =
      `Loaded the ${options.kind} history (${saved.epoch.length} epochs) from ${path}.`;
    log(description);
    return { history: saved, origin: "loaded", description };
  }
  log(`No usable ${options.kind} history in ${path}: training the ${options.kind} now.`);
  const record = await options.train();
  const files = await saveNotebookModel(options.outputsDir, record);
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
  /** The protocol. */
  config: ExperimentConfig;
  /**
   * Training progress (e.g. `createNotebookReporter` from `lib/notebook/`, whose `settled()`
   * is awaited); default the console one.
   */
  reporter?: ProgressReporter | NotebookReporter;
  /** Train on two threads (main + one Worker); default unless the backend is tfjs-node. */
  parallel?: boolean;
  /** Where the `Found ...` lines go. Default `console.log`. */
  log?: (line: string) => void;
}

/**
 * The article's baseline CNN trained as `deno task reproduce` trains it (the article's flows,
 * two threads on wasm/cpu): for notebooks that need the baseline but do not show its training.
 * Returns what {@linkcode saveNotebookModel} saves.
 *
 * @example
 * ```ts
 * const record = await trainArticleBaseline({ dataDir: paths.data, config });
 * await saveNotebookModel(paths.outputs, record);
 * ```
 */
export async function trainArticleBaseline(
  options: TrainArticleBaselineOptions,
): Promise<NotebookModelRecord> {
  const flows = await createArticleFlows(options.dataDir, options.config, { log: options.log });
  const parallel = options.parallel ?? tf.getBackend() !== "tensorflow";
  const trained = await trainBaseline(flows, options.config, {
    reporter: options.reporter,
    trainStep: parallel
      ? (model: tf.LayersModel) => createDataParallelTrainStep(model, { workers: 1 })
      : undefined,
  });
  if (options.reporter && "settled" in options.reporter) await options.reporter.settled();
  return {
    kind: "baseline",
    model: trained.model,
    inputSpec: flows.inputSpec,
    history: trained.fit.history,
    config: options.config,
  };
}
