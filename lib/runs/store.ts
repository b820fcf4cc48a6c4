/**
 * The run store: the one owner of the outputs folder's shape. `deno task reproduce` and the
 * notebooks save and find models, histories, charts and predictions through it, so both write
 * the same files and a notebook can pick up what another (or `reproduce`) trained.
 *
 * ## Files
 *
 * - `models/<kind>/model.json` + `weights.bin` (`kind`: `baseline`, `transfer`, or `fine_tuned`
 *   with `--fine-tune`), metadata:
 *   the input spec, `kind`, `protocol` ({@linkcode RunProtocol}) and extra facts (`base`, ...);
 * - `history.csv` / `transfer_history.csv` (Keras `CSVLogger` style) and `history.json` /
 *   `transfer_history.json` (the same, with `kind` and `protocol`; non-finite numbers `null`);
 * - `fine_tuned_history.*` with `--fine-tune`;
 * - charts `<name>.vl.json`, `.svg`, `.png`; `predictions.json` (rows with their file paths),
 *   `test_predictions.png`; `report.md`, `metrics.json`, `run.json`.
 *
 * A saved model or history is found by what it is: its `kind` and the protocol it was trained
 * with (epochs, steps, batch size, image size, seed, quick mode), recorded beside it. One
 * trained under another protocol, or without a record, is not reused.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { dirname, join } from "node:path";
import type { ExperimentConfig } from "../config.ts";
import { CarplaneError } from "../errors.ts";
import { type History, historyToCsv } from "../training/history.ts";
import { loadModel, type ModelMetadata, saveModel } from "../models/model_io.ts";
import { type InputSpec, inputSpecFromMetadata, type PredictionRow } from "../models/predict.ts";
import { type VegaLiteSpec, writeChart } from "../report/charts.ts";
import { atomicWriteFile, atomicWriteJson, ensureWritableDir, type FileData } from "./outputs.ts";
import { pathExists } from "../_fs.ts";

/** Raised when saved outputs cannot be read; says what to do. */
export class RunStoreError extends CarplaneError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RunStoreError";
  }
}

/**
 * The models a run saves: the article's CNN, the transfer model and (with `--fine-tune`) the
 * transfer model with its base's top block fine-tuned.
 */
export const MODEL_KINDS = ["baseline", "transfer", "fine_tuned"] as const;
/** One of {@linkcode MODEL_KINDS}. */
export type ModelKind = (typeof MODEL_KINDS)[number];

/** What a model or history was trained with, recorded beside it; how a saved one is found. */
export interface RunProtocol {
  epochs: number;
  stepsPerEpoch: number;
  batchSize: number;
  targetSize: [number, number];
  seed: number;
  quick: boolean;
}

/**
 * The protocol of `config`, as recorded beside a saved model.
 *
 * @example
 * ```ts
 * runProtocol(experimentConfig()).epochs; // 30
 * ```
 */
export function runProtocol(config: ExperimentConfig): RunProtocol {
  return {
    epochs: config.epochs,
    stepsPerEpoch: config.stepsPerEpoch,
    batchSize: config.batchSize,
    targetSize: [config.targetSize[0], config.targetSize[1]],
    seed: config.seed,
    quick: config.quick,
  };
}

/** Why `saved` is not `wanted` (a phrase), or null when they are the same protocol. */
function protocolMismatch(saved: unknown, wanted: RunProtocol): string | null {
  if (saved === null || typeof saved !== "object") return "it has no protocol record";
  const s = saved as Partial<RunProtocol>;
  const differ = (Object.keys(wanted) as (keyof RunProtocol)[]).filter((k) =>
    JSON.stringify(s[k]) !== JSON.stringify(wanted[k])
  );
  if (differ.length === 0) return null;
  return `it was trained with ${differ.map((k) => `${k} ${JSON.stringify(s[k])}`).join(", ")} ` +
    `and this run asks for ${differ.map((k) => `${k} ${JSON.stringify(wanted[k])}`).join(", ")}`;
}

/**
 * The file names of a model's history (`history.csv`, `transfer_history.csv`, ...).
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

/** The chart files a run writes, by chart name. */
export const CHART_NAMES = [
  "model_loss",
  "model_accuracy",
  "transfer_loss",
  "transfer_accuracy",
  "fine_tuned_loss",
  "fine_tuned_accuracy",
  "comparison",
  // --seeds: per-epoch mean and band over seeds; --train-per-class: val accuracy vs data size
  "seeds_bands",
  "data_size",
] as const;
const CHART_EXTENSIONS = [".vl.json", ".svg", ".png"];

/** `metrics.json`: written last, the mark of a complete run. */
export const METRICS_FILE = "metrics.json";
/** `run.json`: the record of the run (`running`, `complete`, ...). */
export const RUN_FILE = "run.json";
/** `predictions.json`. */
export const PREDICTIONS_FILE = "predictions.json";
/** `test_predictions.png`: the captioned contact sheet. */
export const CONTACT_SHEET_FILE = "test_predictions.png";
/** `report.md`. */
export const REPORT_FILE = "report.md";

/**
 * The Grad-CAM sheet of a model's test predictions.
 *
 * @example
 * ```ts
 * gradCamFile("transfer"); // "transfer_gradcam.png"
 * ```
 */
export function gradCamFile(kind: ModelKind): string {
  return `${kind}_gradcam.png`;
}

/**
 * Every entry a run owns in the outputs folder (files, and model folders under `models/`): what
 * a completed run replaces as a whole. Anything else in the folder (executed notebooks, files
 * of your own) is left alone.
 */
export const RUN_ENTRIES: readonly string[] = [
  ...MODEL_KINDS.flatMap((k) => Object.values(historyFiles(k))),
  ...CHART_NAMES.flatMap((n) => CHART_EXTENSIONS.map((e) => n + e)),
  PREDICTIONS_FILE,
  CONTACT_SHEET_FILE,
  REPORT_FILE,
  ...MODEL_KINDS.map((k) => `models/${k}`),
  ...MODEL_KINDS.map(gradCamFile),
  // deno task train: one model, its contact sheet and its Grad-CAM sheet
  "model",
  "predictions.png",
  "gradcam.png",
  RUN_FILE,
  METRICS_FILE,
];

/** A trained model with what is saved beside it. */
export interface ModelRecord {
  /** Which model this is (decides its folder and history file names). */
  kind: ModelKind;
  /** The whole image-to-probability model. */
  model: tf.LayersModel;
  /** How images are prepared for it (saved as metadata for `deno task predict`). */
  inputSpec: InputSpec;
  /** Its training history. */
  history: History;
  /** The experiment it was trained in (its protocol is saved). */
  config: ExperimentConfig;
  /** More metadata, e.g. `{ base: "mobilenet", weights: "..." }`. */
  extra?: ModelMetadata;
}

/** Where {@linkcode RunStore.saveModel} wrote. */
export interface SavedModel {
  modelDir: string;
  historyCsv: string;
  historyJson: string;
}

/** A saved model, found and loaded. */
export interface FoundModel {
  kind: ModelKind;
  model: tf.LayersModel;
  metadata: ModelMetadata;
  inputSpec: InputSpec;
  /** Its history, when saved beside it under the same protocol. */
  history: History | null;
  /** The model's folder. */
  dir: string;
}

/** What `predictions.json` holds. */
export interface PredictionsRecord {
  /** The model whose rows are shown (the best one the run has). */
  model: ModelKind;
  baseline: PredictionRow[];
  transfer: PredictionRow[] | null;
  /** The fine-tuned model's rows (`--fine-tune`). */
  fineTuned?: PredictionRow[];
}

/** Options for finding saved things. */
export interface FindOptions {
  /** Only what was trained under this experiment's protocol is found. */
  config: ExperimentConfig;
  /** Where the reasons for passing over a saved one go. Default `console.log`. */
  log?: (line: string) => void;
}

/** The outputs folder of one run (or the notebooks' shared one). */
export interface RunStore {
  /** The folder. */
  readonly dir: string;
  /** `join(dir, name)`. */
  path(name: string): string;
  /** Writes a file atomically; returns its path. */
  writeFile(name: string, data: FileData): Promise<string>;
  /** Writes JSON atomically; returns its path. */
  writeJson(name: string, value: unknown): Promise<string>;
  /** Saves a model in `models/<kind>/` and its history beside it. */
  saveModel(record: ModelRecord): Promise<SavedModel>;
  /** The first of `kinds` saved under the protocol of `options.config`, loaded; or null. */
  findModel(kinds: readonly ModelKind[], options: FindOptions): Promise<FoundModel | null>;
  /** The history of `kind` saved under the protocol of `options.config`; or null. */
  findHistory(kind: ModelKind, options: FindOptions): Promise<History | null>;
  /** Writes a chart as `<name>.vl.json`, `.svg` and `.png`. */
  saveChart(name: (typeof CHART_NAMES)[number], spec: VegaLiteSpec): Promise<void>;
  /** Writes `predictions.json`. */
  savePredictions(record: PredictionsRecord): Promise<string>;
  /** Writes the contact sheet `test_predictions.png`. */
  saveContactSheet(png: Uint8Array): Promise<string>;
}

/**
 * The run store over `dir` (created when something is first written).
 *
 * @example
 * ```ts
 * const store = openRunStore(projectPaths().outputs);
 * await store.saveModel({ kind: "baseline", model, inputSpec, history, config });
 * const found = await store.findModel(["transfer", "baseline"], { config });
 * ```
 */
export function openRunStore(dir: string): RunStore {
  const path = (name: string) => join(dir, name);
  const checkName = (name: string) => {
    if (name === METRICS_FILE || name === RUN_FILE) {
      throw new RunStoreError(
        `${path(name)} is written by the run itself (beginRun's complete), not as an ordinary ` +
          "file: a run's metrics.json is the mark that it completed.",
      );
    }
  };
  const writeFile = async (name: string, data: FileData) => {
    checkName(name);
    await ensureWritableDir(dirname(path(name)));
    await atomicWriteFile(path(name), data);
    return path(name);
  };
  const writeJson = async (name: string, value: unknown) => {
    checkName(name);
    await ensureWritableDir(dirname(path(name)));
    await atomicWriteJson(path(name), value);
    return path(name);
  };
  const findHistory = async (kind: ModelKind, options: FindOptions) => {
    const log = options.log ?? console.log;
    const file = path(historyFiles(kind).json);
    let text: string;
    try {
      text = await Deno.readTextFile(file);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return null;
      throw new RunStoreError(
        `Cannot read ${file}: ${error instanceof Error ? error.message : String(error)}. ` +
          "Check its permissions, or delete it to train again.",
        { cause: error },
      );
    }
    let saved;
    try {
      saved = JSON.parse(text);
    } catch (error) {
      log(`Not reusing ${file}: it is not JSON (${(error as Error).message}).`);
      return null;
    }
    const why = saved?.kind !== kind
      ? `it is the history of "${saved?.kind}"`
      : protocolMismatch(saved.protocol, runProtocol(options.config));
    if (why !== null) {
      log(`Not reusing ${file}: ${why}.`);
      return null;
    }
    return {
      epoch: saved.epoch,
      history: Object.fromEntries(
        Object.entries(saved.history as Record<string, (number | null)[]>).map((
          [k, v],
        ) => [k, v.map((x) => x ?? NaN)]),
      ),
    } as History;
  };
  return {
    dir,
    path,
    writeFile,
    writeJson,
    async saveModel(record) {
      const protocol = runProtocol(record.config);
      const modelDir = path(`models/${record.kind}`);
      await ensureWritableDir(path("models"));
      await saveModel(record.model, modelDir, {
        metadata: { ...record.inputSpec, kind: record.kind, protocol, ...(record.extra ?? {}) },
      });
      const names = historyFiles(record.kind);
      const historyCsv = await writeFile(names.csv, historyToCsv(record.history));
      const historyJson = await writeJson(names.json, {
        kind: record.kind,
        protocol,
        epoch: record.history.epoch,
        history: Object.fromEntries(
          Object.entries(record.history.history).map((
            [k, v],
          ) => [k, v.map((x) => Number.isFinite(x) ? x : null)]),
        ),
      });
      return { modelDir, historyCsv, historyJson };
    },
    async findModel(kinds, options) {
      const log = options.log ?? console.log;
      const wanted = runProtocol(options.config);
      for (const kind of kinds) {
        const modelDir = path(`models/${kind}`);
        if (!(await pathExists(join(modelDir, "model.json")))) continue;
        let loaded;
        try {
          loaded = await loadModel(modelDir);
        } catch (error) {
          log(
            `Cannot load the saved ${kind} model from ${modelDir} (${
              error instanceof Error ? error.message : String(error)
            }); looking further.`,
          );
          continue;
        }
        const why = loaded.metadata.kind !== kind
          ? `its metadata says kind "${loaded.metadata.kind}"`
          : protocolMismatch(loaded.metadata.protocol, wanted);
        if (why !== null) {
          log(`Not reusing the ${kind} model in ${modelDir}: ${why}.`);
          loaded.model.dispose();
          continue;
        }
        return {
          kind,
          model: loaded.model,
          metadata: loaded.metadata,
          inputSpec: inputSpecFromMetadata(loaded.metadata, loaded.model),
          history: await findHistory(kind, { ...options, log: () => {} }),
          dir: modelDir,
        };
      }
      return null;
    },
    findHistory,
    async saveChart(name, spec) {
      await ensureWritableDir(dir);
      await writeChart(spec, dir, name);
    },
    savePredictions: (record) => writeJson(PREDICTIONS_FILE, record),
    saveContactSheet: (png) => writeFile(CONTACT_SHEET_FILE, png),
  };
}
