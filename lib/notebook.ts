/**
 * Notebook front-end helpers that stay testable outside Jupyter:
 *
 * - {@linkcode createNotebookReporter}: a training progress display that updates in place
 *   through a `broadcast` function (pass `Deno.jupyter.broadcast` inside the Deno kernel), so a
 *   30-epoch run shows one live block instead of thousands of lines.
 * - {@linkcode settleCellOutputs}: a work-around for Deno's kernel dropping a cell's last
 *   outputs (call it once, in a notebook's first cell).
 * - {@linkcode markdownDisplay}, {@linkcode markdownTable}, {@linkcode fitTableMarkdown}: computed
 *   text (tables, figures of this run) shown as markdown.
 * - {@linkcode earlyStopping}: what Keras' `EarlyStopping` would have done with a history.
 * - {@linkcode saveNotebookModel}, {@linkcode loadHistoryFromOutputs},
 *   {@linkcode modelFromOutputsOrTrain}, {@linkcode historyFromOutputsOrTrain},
 *   {@linkcode trainArticleBaseline}: the hand-over
 *   between notebooks. A notebook that trains a model saves it (and its history) under the
 *   outputs folder, in the same places as `deno task reproduce`; a notebook that needs a trained
 *   model loads it from there when it is present and trains it otherwise, so every notebook
 *   runs alone in a fresh kernel.
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
import { JUPYTER_DISPLAY, type JupyterDisplayable } from "./charts.ts";
import type { ExperimentConfig } from "./config.ts";
import { diagnoseFit } from "./diagnose.ts";
import { createArticleFlows, trainBaseline } from "./experiment.ts";
import { type History, historyFromCsv, historyToCsv } from "./history.ts";
import { loadModel, type ModelMetadata, saveModel } from "./model_io.ts";
import { atomicWriteFile, ensureWritableDir } from "./outputs.ts";
import { createDataParallelTrainStep } from "./parallel.ts";
import { type InputSpec, inputSpecFromMetadata } from "./predict.ts";
import { formatEpochLine, formatProgbar, type ProgressReporter } from "./progress.ts";
import { pathExists } from "./fs.ts";

/** The shape of `Deno.jupyter.broadcast`. */
export type Broadcast = (msgType: string, content: Record<string, unknown>) => Promise<void>;

/** A reporter for notebooks; `settled()` resolves once every update has been sent. */
export interface NotebookReporter extends ProgressReporter {
  settled(): Promise<void>;
}

/** Options for {@linkcode createNotebookReporter}. */
export interface NotebookReporterOptions {
  /** The display id to update; default a fresh random one. */
  displayId?: string;
  /** Minimum milliseconds between bar redraws (epoch ends always draw). Default 250. */
  throttleMs?: number;
}

/**
 * Keras-style progress for a notebook: one display with every finished epoch's line and the
 * running bar, updated in place (`display_data` once, then `update_display_data`).
 *
 * @example
 * ```ts
 * // in a Deno notebook cell
 * const reporter = createNotebookReporter(Deno.jupyter.broadcast);
 * await fit(model, train, { epochs: 30, stepsPerEpoch: 30, validationData: val, reporter });
 * await reporter.settled();
 * ```
 */
export function createNotebookReporter(
  broadcast: Broadcast,
  options: NotebookReporterOptions = {},
): NotebookReporter {
  const displayId = options.displayId ?? `progress-${crypto.randomUUID()}`;
  const throttleMs = options.throttleMs ?? 250;
  const finished: string[] = [];
  let header = "";
  let bar = "";
  let shown = false;
  let lastDraw = 0;
  let chain: Promise<void> = Promise.resolve();
  const draw = () => {
    const text = [...finished, header, bar].filter((l) => l !== "").join("\n");
    const msgType = shown ? "update_display_data" : "display_data";
    shown = true;
    lastDraw = performance.now();
    chain = chain.then(() =>
      broadcast(msgType, {
        data: { "text/plain": text },
        metadata: {},
        transient: { display_id: displayId },
      })
    );
  };
  return {
    epochBegin(epochIndex, epochs) {
      header = formatEpochLine(epochIndex, epochs);
      bar = "";
      draw();
    },
    batchEnd(state) {
      if (state.current >= state.target || performance.now() - lastDraw < throttleMs) return;
      bar = formatProgbar(state);
      draw();
    },
    epochEnd(line) {
      finished.push(header, line);
      header = "";
      bar = "";
      draw();
    },
    settled: () => chain,
  };
}

/** The part of Deno's kernel internals {@linkcode settleCellOutputs} wraps. */
export interface KernelResultHook {
  broadcastResult: (executionCount: number, result: unknown) => Promise<void>;
}

const SETTLED = Symbol.for("carplane.settleCellOutputs");

function kernelJupyterInternals(): KernelResultHook | undefined {
  const deno = Deno as unknown as Record<symbol, unknown> & { internal?: symbol };
  const internals = deno.internal ? deno[deno.internal] as Record<string, unknown> : undefined;
  const jupyter = internals?.jupyter as Partial<KernelResultHook> | undefined;
  return typeof jupyter?.broadcastResult === "function" ? jupyter as KernelResultHook : undefined;
}

/**
 * Makes Deno's Jupyter kernel wait `delayMs` at the end of every cell before it reports the
 * cell done, so the cell's last outputs are not lost.
 *
 * Why: in Deno 2.x's kernel, a cell's printed lines and displays (including the display of its
 * last expression) go through a queue that another task publishes, while the kernel reports
 * "idle" as soon as the cell is evaluated. When "idle" wins the race, Jupyter stops collecting
 * that cell's outputs and the last lines or the chart are silently dropped (seen in about one
 * cell in ten under `jupyter nbconvert --execute`). The kernel ends every cell by calling its
 * internal `broadcastResult`; this wraps it so that, after queueing the result, it waits
 * `delayMs`, giving the queue time to be published before "idle".
 *
 * Returns false (and changes nothing) outside the Deno kernel, e.g. in `deno test`. Calling it
 * again only updates the delay.
 *
 * @example
 * ```ts
 * // first cell of a notebook
 * settleCellOutputs();
 * ```
 */
export function settleCellOutputs(
  { delayMs = 50, target = kernelJupyterInternals() }: {
    delayMs?: number;
    target?: KernelResultHook;
  } = {},
): boolean {
  if (!target) return false;
  const current = target.broadcastResult as KernelResultHook["broadcastResult"] & {
    [SETTLED]?: { original: KernelResultHook["broadcastResult"]; delayMs: number };
  };
  const state = current[SETTLED];
  if (state) {
    state.delayMs = delayMs;
    return true;
  }
  const original = current;
  const settings = { original, delayMs };
  const wrapped = Object.assign(
    async (executionCount: number, result: unknown) => {
      try {
        await original.call(target, executionCount, result);
      } finally {
        await new Promise((resolve) => setTimeout(resolve, settings.delayMs));
      }
    },
    { [SETTLED]: settings },
  );
  target.broadcastResult = wrapped;
  return true;
}

/**
 * One line stating the training protocol, flagging quick mode.
 *
 * @example
 * ```ts
 * protocolLine(experimentConfig());
 * // "protocol: 30 epochs x 30 steps x batch 32 at 64x64, seed 42"
 * ```
 */
export function protocolLine(config: ExperimentConfig): string {
  return `protocol: ${config.epochs} epochs x ${config.stepsPerEpoch} steps x batch ` +
    `${config.batchSize} at ${config.targetSize.join("x")}, seed ${config.seed}` +
    (config.quick ? " (QUICK MODE: a smoke run, not the article's protocol)" : "");
}

/**
 * Shows markdown computed in the run (a table of this run's figures, a verdict) as a cell's
 * rich output; the plain-text form is the same text.
 *
 * @example
 * ```ts
 * // last expression of a notebook cell
 * markdownDisplay(`| metric | value |\n| --- | --- |\n| val accuracy | ${acc.toFixed(3)} |`);
 * ```
 */
export function markdownDisplay(markdown: string): JupyterDisplayable {
  const bundle = { "text/markdown": markdown, "text/plain": markdown };
  return { bundle, [JUPYTER_DISPLAY]: () => bundle };
}

function cellText(value: string | number): string {
  const text = typeof value === "number"
    ? (Number.isInteger(value) ? String(value) : value.toFixed(3))
    : value;
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

/**
 * A GitHub-flavoured markdown table; `|` in cells is escaped, fractional numbers are shown with
 * three decimals, and columns of numbers are right-aligned (or as `align` says).
 *
 * @example
 * ```ts
 * markdownTable(["split", "images"], [["training_set", 160], ["val_set", 40]]);
 * // | split | images |\n| --- | ---: |\n| training_set | 160 |\n| val_set | 40 |
 * ```
 */
export function markdownTable(
  headers: string[],
  rows: (string | number)[][],
  { align }: { align?: ("left" | "right")[] } = {},
): string {
  const right = headers.map((_, c) =>
    align?.[c] !== undefined
      ? align[c] === "right"
      : rows.length > 0 && rows.every((r) => typeof r[c] === "number")
  );
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [
    line(headers.map(cellText)),
    line(right.map((n) => n ? "---:" : "---")),
    ...rows.map((r) => line(headers.map((_, c) => cellText(r[c] ?? "")))),
  ].join("\n");
}

/**
 * One row per training run: epochs, final train and validation accuracy, the best validation
 * accuracy and the lowest validation loss with their epochs, the final validation loss, and
 * `lib/diagnose.ts`' verdict. Every number comes from the histories given.
 *
 * @example
 * ```ts
 * markdownDisplay(fitTableMarkdown({ baseline: h1, "mobilenet transfer": h2 }));
 * ```
 */
export function fitTableMarkdown(histories: Record<string, History>): string {
  const rows = Object.entries(histories).map(([name, history]) => {
    const d = diagnoseFit(history);
    return [
      name,
      d.epochs,
      d.finalAccuracy.toFixed(3),
      d.finalValAccuracy.toFixed(3),
      `${d.bestValAccuracy.toFixed(3)} (epoch ${d.bestValAccuracyEpoch})`,
      `${d.minValLoss.toFixed(3)} (epoch ${d.bestValLossEpoch})`,
      d.finalValLoss.toFixed(3),
      d.verdict,
    ];
  });
  return markdownTable(
    [
      "model",
      "epochs",
      "train acc (last)",
      "val acc (last)",
      "best val acc",
      "lowest val loss",
      "val loss (last)",
      "verdict",
    ],
    rows,
    { align: ["left", "right", "right", "right", "right", "right", "right", "left"] },
  );
}

/** Options for {@linkcode earlyStopping}. */
export interface EarlyStoppingOptions {
  /** The metric watched. Default `val_loss` (lower is better; `*accuracy` higher is better). */
  monitor?: string;
  /** Epochs without improvement before stopping. Default 3. */
  patience?: number;
  /** Smallest change that counts as an improvement. Default 0. */
  minDelta?: number;
}

/** What Keras' `EarlyStopping(restore_best_weights=True)` would have done. */
export interface EarlyStoppingResult {
  monitor: string;
  patience: number;
  /** 1-based epoch after which training stops, or null when it runs every epoch. */
  stoppedEpoch: number | null;
  /** 1-based epoch whose weights are kept (the best of `monitor`). */
  bestEpoch: number;
  /** Every metric at `bestEpoch`. */
  atBest: Record<string, number>;
  /** Every metric in the last epoch of the history. */
  atLast: Record<string, number>;
  /** One sentence for people. */
  message: string;
}

/**
 * Replays Keras' `EarlyStopping(monitor, patience, min_delta, restore_best_weights=True)` on a
 * history: after each epoch the monitored value either improves on the best so far by more than
 * `minDelta` (the wait restarts) or not (the wait grows); training stops when the wait reaches
 * `patience`, and the best epoch's weights are restored.
 *
 * @example
 * ```ts
 * const stop = earlyStopping(history, { patience: 3 });
 * console.log(stop.message);
 * // EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True) would have stopped
 * // after epoch 10 of 30 and kept epoch 7: val_loss 0.412, val_accuracy 0.850 (...)
 * ```
 */
export function earlyStopping(
  history: History,
  { monitor = "val_loss", patience = 3, minDelta = 0 }: EarlyStoppingOptions = {},
): EarlyStoppingResult {
  const values = history.history[monitor];
  if (!values || values.length === 0) {
    throw new NotebookOutputsError(
      `earlyStopping: the history has no "${monitor}" values (it has: ${
        Object.keys(history.history).join(", ") || "nothing"
      }); monitor one of those, e.g. "val_loss".`,
    );
  }
  const higherIsBetter = /acc/.test(monitor);
  let best = higherIsBetter ? -Infinity : Infinity;
  let bestIndex = 0;
  let wait = 0;
  let stopped: number | null = null;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const improved = higherIsBetter ? v - minDelta > best : v + minDelta < best;
    if (improved) {
      best = v;
      bestIndex = i;
      wait = 0;
    } else {
      wait++;
      if (wait >= patience) {
        stopped = i;
        break;
      }
    }
  }
  const at = (i: number) =>
    Object.fromEntries(Object.entries(history.history).map(([k, v]) => [k, v[i]]));
  const atBest = at(bestIndex);
  const atLast = at(values.length - 1);
  const show = (m: Record<string, number>) =>
    ["val_loss", "val_accuracy"].filter((k) => k in m).map((k) => `${k} ${m[k].toFixed(3)}`)
      .join(", ");
  const call = `EarlyStopping(monitor="${monitor}", patience=${patience}, ` +
    "restore_best_weights=True)";
  const epochs = values.length;
  const message = stopped === null
    ? `${call} would have run all ${epochs} epochs and kept epoch ${bestIndex + 1}: ${
      show(atBest)
    }${bestIndex === epochs - 1 ? " (the last one)" : ` (the last epoch: ${show(atLast)})`}.`
    : `${call} would have stopped after epoch ${stopped + 1} of ${epochs} and kept epoch ${
      bestIndex + 1
    }: ${show(atBest)} (instead of the last epoch's ${show(atLast)}).`;
  return {
    monitor,
    patience,
    stoppedEpoch: stopped === null ? null : stopped + 1,
    bestEpoch: bestIndex + 1,
    atBest,
    atLast,
    message,
  };
}

/** Raised when a notebook's saved outputs cannot be written or read; says what to do. */
export class NotebookOutputsError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "NotebookOutputsError";
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
    throw new NotebookOutputsError(
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
   * Training progress (e.g. {@linkcode createNotebookReporter}, whose `settled()` is awaited);
   * default the console one.
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
