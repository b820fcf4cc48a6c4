/**
 * One-line notebook cells: the article's steps without the project's plumbing.
 *
 * ```ts
 * const nb = await openNotebook();          // settings, backend, generators, the Stop button
 * const baseline = await nb.trainBaseline(); // progress, Stop, re-run without leaks
 * await nb.save(baseline);                   // for the next notebooks and `deno task predict`
 * const history = await nb.savedHistory("baseline"); // notebook 02's run, or trained here
 * ```
 *
 * What each call takes care of, so that a cell does not have to:
 *
 * - Deno's kernel dropping a cell's last outputs ({@linkcode settleCellOutputs});
 * - Kernel > Interrupt: training and feature extraction stop at the next batch, the finished
 *   epochs are kept, one line says so ({@linkcode installInterruptHandler});
 * - re-running a cell: what the previous run of that step made (model, optimizer state, frozen
 *   base) is disposed first, and the generators start over from the seed, so the figures repeat
 *   ({@linkcode keep}, `DirectoryIterator.restart()`);
 * - which threads train: both cores through a Worker on wasm/cpu, tfjs-node's own threads on
 *   node;
 * - the backend said in plain words ({@linkcode plainBackendLine}); `nb.backend.reason` has the
 *   details.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import {
  type ExperimentConfig,
  experimentConfig,
  FINE_TUNE_EPOCHS,
  FINE_TUNE_LEARNING_RATE,
  type FineTuneConfig,
  type ProjectPaths,
  projectPaths,
  type TransferConfig,
} from "../config.ts";
import { ConfigError } from "../config.ts";
import { resolveBase } from "../models/bases.ts";
import { describeDatasetSource, ensureDataset } from "../data/sources.ts";
import type { PretrainedBase } from "../models/base.ts";
import {
  collectImages,
  type InputSpec,
  predictImages,
  type PredictionRow,
} from "../models/predict.ts";
import {
  historyFromOutputsOrTrain,
  type ModelFromOutputs,
  modelFromOutputsOrTrain,
  trainArticleBaseline,
} from "../runs/saved_runs.ts";
import { type ModelKind, type ModelRecord, openRunStore } from "../runs/store.ts";
import { trainSeeds } from "../experiment/seed_pool.ts";
import { type SeedRun, type SeedsMetrics, summarizeSeeds } from "../report/seeds.ts";
import { threadPlan } from "../training/parallel.ts";
import {
  type ArticleFlows,
  createArticleFlows,
  extractTransferFeatures,
  FeatureExtractionStopped,
  type FitInputs,
  trainBaseline,
  type TrainedModel,
  trainTransfer,
  type TransferSettings,
} from "../training/experiment.ts";
import { fit, type FitResult } from "../training/fit.ts";
import type { History } from "../training/history.ts";
import { createConsoleReporter, type ProgressReporter } from "../training/progress.ts";
import { type BackendChoice, backendRequestFromEnv, initBackend } from "../training/runtime.ts";
import { plainBackendLine } from "./backend_line.ts";
import {
  type Broadcast,
  createNotebookReporter,
  type NotebookReporter,
  protocolLine,
  settleCellOutputs,
} from "./display.ts";
import { inJupyterKernel, installInterruptHandler, interruptible } from "./interrupt.ts";
import { disposeKept, keep, keptValue } from "./rerun.ts";

/** A model trained in a notebook cell, complete or stopped by the interrupt. */
export interface NotebookTraining {
  /** `baseline` or `transfer` (decides where {@linkcode NotebookSession.save} puts it). */
  kind: ModelKind;
  /** The whole image-to-probability model. */
  model: tf.LayersModel;
  /** Keras' History of the finished epochs. */
  history: History;
  /** `fit`'s result: the History and each epoch's seconds. */
  fit: FitResult;
  /** True when Kernel > Interrupt stopped it before its last epoch. */
  interrupted: boolean;
  /** How the model's inputs are prepared (saved with it). */
  inputSpec: InputSpec;
  /** Extra metadata saved with the model (the transfer base, its weights, ...). */
  extra?: Record<string, string>;
}

/** Test predictions with the image file of each row. */
export interface NotebookPredictions {
  /** One row per test image, in the folder's order. */
  rows: PredictionRow[];
  /** The image file of each row (`files[i]` belongs to `rows[i]`). */
  files: string[];
}

/** What {@linkcode openNotebook} sets up; its methods are the notebooks' one-line steps. */
export interface NotebookSession {
  /** The dataset and outputs folders (`CARPLANE_DATA_DIR`, `CARPLANE_OUTPUTS_DIR`). */
  readonly paths: ProjectPaths;
  /** The training protocol (quick mode with `NOTEBOOK_QUICK=1`); a cell may change it. */
  readonly config: ExperimentConfig;
  /** The transfer settings (`CARPLANE_BASE`, `CARPLANE_WEIGHTS`, `CARPLANE_MODE`, ...); null for none. */
  readonly transfer: TransferConfig | null;
  /** The backend that runs; `backend.reason` says why, with what was tried first. */
  readonly backend: BackendChoice;
  /** Threads a training batch is split across (2 on wasm/cpu: main + one Worker). */
  readonly threads: number;
  /** The article's two generators (an error when opened with `flows: false`). */
  readonly flows: ArticleFlows;
  /** Trains the article's baseline CNN (disposing the previous one); Stop keeps what it has. */
  trainBaseline(): Promise<NotebookTraining>;
  /** Builds the frozen pretrained base of `CARPLANE_BASE` (disposing the previous one). */
  pretrainedBase(): Promise<PretrainedBase>;
  /** Trains the transfer head on `base` (disposing the previous head); Stop keeps what it has. */
  trainTransfer(
    base: PretrainedBase,
    options?: Pick<TransferSettings, "beforeFit">,
  ): Promise<NotebookTraining>;
  /**
   * Goes on training the `baseline` or `transfer` that Kernel > Interrupt stopped, for the
   * protocol's remaining epochs, appending to its History in place. It continues with the next
   * batches of the generators (not the ones the interrupted epoch had drawn), so the figures
   * differ a little from an uninterrupted run's; run the training cell again for those.
   */
  resume(kind: ModelKind): Promise<NotebookTraining>;
  /**
   * Saves a trained model and its history where the next notebooks look for them, and prints
   * where (it returns nothing, so the cell shows only those lines).
   */
  save(training: NotebookTraining): Promise<void>;
  /** The saved history of `kind` (a notebook 02/04 run), or trains and saves one now. */
  savedHistory(kind: ModelKind): Promise<History>;
  /** The first saved model of `kinds` that matches the protocol, or trains the baseline. */
  savedModel(kinds?: ModelKind[]): Promise<ModelFromOutputs>;
  /** Predicts every image of the dataset's `test/` folder with `model`. */
  predictTest(model: tf.LayersModel, inputSpec: InputSpec): Promise<NotebookPredictions>;
  /**
   * Beyond the article: trains the baseline, the transfer head on `base` (its features
   * extracted once) and, unless `fineTune` is false, the fine-tuned top block, once per seed;
   * returns every seed's Histories with the figures and the article's claims over seeds. Stop
   * ends it at the next batch; the seeds finished by then are summarized.
   */
  overSeeds(base: PretrainedBase, options?: OverSeedsOptions): Promise<SeedsMetrics>;
}

/** Options for {@linkcode NotebookSession.overSeeds}. */
export interface OverSeedsOptions {
  /**
   * The seeds (default `CARPLANE_SEEDS`, else three from the protocol's seed on, two in quick
   * mode).
   */
  seeds?: number[];
  /**
   * Fine-tune after the head: true (default; `CARPLANE_FINE_TUNE_*` or 10 epochs at Adam 1e-5,
   * 1 epoch in quick mode), false, or the settings.
   */
  fineTune?: boolean | FineTuneConfig;
}

/** Options for {@linkcode openNotebook}. */
export interface OpenNotebookOptions {
  /** Folders instead of `CARPLANE_DATA_DIR` / `CARPLANE_OUTPUTS_DIR` (or the defaults). */
  paths?: Partial<ProjectPaths>;
  /** Protocol settings over the environment's (`NOTEBOOK_QUICK`) or the article's. */
  config?: Partial<ExperimentConfig>;
  /** Create the article's generators (prints Keras' `Found N images` lines). Default true. */
  flows?: boolean;
  /** Where lines go. Default `console.log`. */
  log?: (line: string) => void;
}

/** `Deno.jupyter.broadcast` inside the Deno kernel, else undefined. */
function kernelBroadcast(): Broadcast | undefined {
  if (!inJupyterKernel()) return undefined;
  return (Deno as unknown as { jupyter: { broadcast: Broadcast } }).jupyter.broadcast;
}

/** The notebook's progress display, or the console's outside the kernel. */
function progressDisplay(log: (line: string) => void): NotebookReporter {
  const broadcast = kernelBroadcast();
  if (broadcast) return createNotebookReporter(broadcast);
  const console = createConsoleReporter({ log });
  return { ...console, settled: () => Promise.resolve(), close: (note) => note && log(note) };
}

/** Where training got to, as the reporter saw it (for the line saying where it stopped). */
export interface Position {
  epochIndex: number;
  epochs: number;
  step: number;
  steps: number;
}

function tracked(reporter: ProgressReporter, position: Position): ProgressReporter {
  return {
    epochBegin(epochIndex, epochs) {
      Object.assign(position, { epochIndex, epochs, step: 0 });
      reporter.epochBegin(epochIndex, epochs);
    },
    batchEnd(state) {
      position.step = state.current;
      position.steps = state.target;
      reporter.batchEnd(state);
    },
    epochEnd(line, summary) {
      reporter.epochEnd(line, summary);
    },
  };
}

/** Numbers a resumed run's epochs after the `done` ones, out of `epochs` in all. */
function shifted(reporter: ProgressReporter, done: number, epochs: number): ProgressReporter {
  return {
    epochBegin: (epochIndex) => reporter.epochBegin(epochIndex + done, epochs),
    batchEnd: (state) => reporter.batchEnd(state),
    epochEnd: (line, summary) =>
      reporter.epochEnd(
        line,
        summary && { ...summary, epochIndex: summary.epochIndex + done, epochs },
      ),
  };
}

/**
 * The one line printed when the interrupt stopped training (under 100 characters, so a notebook
 * does not wrap it): where, what is kept, and how to go on (`nb.resume(kind)`, or, without a kind,
 * running the cell again).
 *
 * @example
 * ```ts
 * interruptedLine({ epochIndex: 4, epochs: 30, step: 12, steps: 30 }, 4, "baseline");
 * // 'Interrupted in epoch 5/30, batch 12: 4 epochs kept. Go on: await nb.resume("baseline")'
 * ```
 */
export function interruptedLine(position: Position, finished: number, kind?: ModelKind): string {
  const where = position.epochs > 0
    ? ` in epoch ${position.epochIndex + 1}/${position.epochs}` +
      (position.step > 0 ? `, batch ${position.step}` : "")
    : "";
  const kept = finished === 0
    ? "no epoch finished"
    : `${finished} epoch${finished === 1 ? "" : "s"} kept`;
  const next = kind ? `Go on: await nb.resume("${kind}")` : "Run the cell again to start over.";
  return `Interrupted${where}: ${kept}. ${next}`;
}

/**
 * Frees a model's weights and its optimizer's state (Adam's moments, which `dispose()` leaves).
 * `model.dispose()` alone is not enough for layers another model also uses (the transfer head
 * inside the whole transfer model, the frozen base inside the feature extractor): tfjs counts the
 * uses and frees nothing until every user is disposed. Measured in notebook 04 (quick mode):
 * re-running the base and training cells kept 145 more tensors with `dispose()`, none with this.
 */
function freeModel(model: tf.LayersModel): void {
  for (const weight of model.weights) {
    try {
      weight.dispose();
    } catch {
      // already freed (a weight shared with a model freed before)
    }
  }
  model.optimizer?.dispose();
}

/** What a training step made: the result, how to free it, and how to go on training it. */
interface Made {
  trained: TrainedModel;
  dispose: () => void;
  /** What `fit` trained and on which batches (for {@linkcode NotebookSession.resume}). */
  fitted: FitInputs;
  /** Whether that model trains with the data-parallel step. */
  parallel: boolean;
}

/**
 * Sets a notebook up in one call: keeps Deno's kernel from dropping cell outputs, makes
 * Kernel > Interrupt stop training instead of killing (or missing) the kernel, reads the
 * settings, starts the backend and says which in plain words, and creates the article's
 * generators. Prints the protocol, the backend line and Keras' `Found N images` lines.
 *
 * @example
 * ```ts
 * // first code cell of a notebook
 * const nb = await openNotebook();
 * ```
 */
export async function openNotebook(options: OpenNotebookOptions = {}): Promise<NotebookSession> {
  const log = options.log ?? console.log;
  settleCellOutputs();
  installInterruptHandler();
  const paths = { ...projectPaths(), ...options.paths };
  const config = { ...experimentConfig(options.config) };
  const transfer = config.transfer;
  log(protocolLine(config));
  // An empty data/ is filled on first use, as `deno task reproduce` does (the log says from where).
  const dataset = await ensureDataset(paths.data, { log });
  log(`dataset: ${paths.data}: ${describeDatasetSource(dataset)}`);
  const backend = await initBackend(backendRequestFromEnv(), { log: null });
  // The one decision of how many threads train (lib/training/parallel.ts' threadPlan).
  const plan = threadPlan(config.threads, backend.name);
  const threads = plan.threads;
  const parallel = threads > 1;
  log(plainBackendLine(backend, { threads }));
  const flows = options.flows === false ? undefined : await createArticleFlows(
    paths.data,
    config,
    { log },
  );
  const requireFlows = (): ArticleFlows => {
    if (!flows) {
      throw new ConfigError(
        "openNotebook",
        "This notebook was opened with openNotebook({ flows: false }), without the generators: " +
          "open it with `await openNotebook()` to train here.",
      );
    }
    return flows;
  };
  const needFlows = (): ArticleFlows => {
    // Start over from the seed, so a re-run cell sees the batches the first run saw.
    const both = requireFlows();
    both.train.restart();
    both.val.restart();
    return both;
  };
  const trainStep = plan.trainStep;

  /**
   * Runs one training step of the article with progress, Stop and re-run handling. `train`
   * returns the trained model and how to dispose what it made (for the transfer model: the head
   * only, as the whole model shares the frozen base's layers).
   */
  const run = async (
    kind: ModelKind,
    train: (reporter: ProgressReporter, signal: AbortSignal) => Promise<Made>,
    extra?: Record<string, string>,
  ): Promise<NotebookTraining> => {
    await disposeKept(kind);
    const flows = needFlows();
    const display = progressDisplay(log);
    const position: Position = { epochIndex: 0, epochs: 0, step: 0, steps: 0 };
    let made: Made;
    try {
      made = await interruptible((signal) => train(tracked(display, position), signal));
    } catch (error) {
      display.close();
      await display.settled();
      if (error instanceof FeatureExtractionStopped) {
        // Like Python's KeyboardInterrupt: the cell ends in an error (Run All stops there), but
        // with one line instead of a stack trace.
        error.stack = `${error.message} Run this cell again to start over.`;
      }
      throw error;
    }
    const { model, fit } = made.trained;
    const training: NotebookTraining = {
      kind,
      model,
      history: fit.history,
      fit,
      interrupted: fit.interrupted,
      inputSpec: flows.inputSpec,
      extra,
    };
    await keep(kind, { ...made, training }, (m) => m.dispose());
    const finished = fit.history.epoch.length;
    display.close(fit.interrupted ? interruptedLine(position, finished, kind) : undefined);
    await display.settled();
    if (!fit.interrupted) {
      const seconds = fit.epochSeconds.reduce((a, b) => a + b, 0);
      log(`${finished} epochs in ${seconds.toFixed(0)}s`);
    }
    return training;
  };

  /** Goes on training what `run` kept under `kind`, numbering the epochs after the kept ones. */
  const resume = async (kind: ModelKind): Promise<NotebookTraining> => {
    const kept = keptValue<Made & { training: NotebookTraining }>(kind);
    if (!kept) {
      throw new ConfigError(
        "nb.resume",
        `Nothing to resume: no ${kind} was trained in this kernel; run its training cell first.`,
      );
    }
    const { training, fitted } = kept;
    const done = training.history.epoch.length;
    if (!training.interrupted || done >= config.epochs) {
      log(`The ${kind} trained all its ${done} epochs: nothing to resume.`);
      return training;
    }
    const display = progressDisplay(log);
    const position: Position = { epochIndex: 0, epochs: 0, step: 0, steps: 0 };
    const reporter = shifted(tracked(display, position), done, config.epochs);
    const more = await interruptible(async (signal) => {
      const custom = kept.parallel && plan.trainStep ? await plan.trainStep(fitted.model) : null;
      try {
        return await fit(fitted.model, fitted.train, {
          epochs: config.epochs - done,
          stepsPerEpoch: fitted.stepsPerEpoch,
          validationData: fitted.val,
          reporter,
          trainStep: custom?.step,
          signal,
        });
      } finally {
        await custom?.close();
      }
    });
    // The History and the timings grow in place: the notebook's variable sees every epoch.
    for (const epoch of more.history.epoch) training.history.epoch.push(epoch + done);
    for (const [key, values] of Object.entries(more.history.history)) {
      (training.history.history[key] ??= []).push(...values);
    }
    training.fit.epochSeconds.push(...more.epochSeconds);
    training.fit.interrupted = more.interrupted;
    training.interrupted = more.interrupted;
    const finished = training.history.epoch.length;
    display.close(more.interrupted ? interruptedLine(position, finished, kind) : undefined);
    await display.settled();
    if (!more.interrupted) {
      const seconds = more.epochSeconds.reduce((a, b) => a + b, 0);
      log(`${finished} epochs (${finished - done} more in ${seconds.toFixed(0)}s)`);
    }
    return training;
  };

  /** The baseline for a notebook that needs one and finds none saved (it is saved after). */
  const trainArticleBaselineHere = async (): Promise<ModelRecord> => {
    const display = progressDisplay(log);
    const position: Position = { epochIndex: 0, epochs: 0, step: 0, steps: 0 };
    const record = await interruptible((signal) =>
      trainArticleBaseline({
        dataDir: paths.data,
        config,
        reporter: tracked(display, position),
        signal,
        log,
      })
    );
    const finished = record.history.epoch.length;
    // Saved all the same; the next notebook sees it has fewer epochs than the protocol and
    // trains it again.
    display.close(finished < config.epochs ? interruptedLine(position, finished) : undefined);
    await display.settled();
    return record;
  };

  return {
    paths,
    config,
    transfer,
    backend,
    threads,
    get flows() {
      return requireFlows();
    },
    resume,
    trainBaseline: () =>
      run("baseline", async (reporter, signal) => {
        const flows = needFlows();
        const trained = await trainBaseline(flows, config, { reporter, signal, trainStep });
        return {
          trained,
          dispose: () => freeModel(trained.model),
          fitted: {
            model: trained.model,
            train: flows.train,
            val: flows.val,
            stepsPerEpoch: config.stepsPerEpoch,
          },
          parallel,
        };
      }),
    async pretrainedBase() {
      if (transfer === null) {
        throw new ConfigError(
          "CARPLANE_BASE",
          "CARPLANE_BASE=none: this notebook needs a pretrained base; set CARPLANE_BASE=vgg16 " +
            "or mobilenet.",
        );
      }
      await disposeKept("base");
      // CARPLANE_BASE unset: VGG16 when its ImageNet weights can be had, else the embedded
      // MobileNet, as `deno task reproduce` does.
      const { base, choice } = await resolveBase({
        base: transfer.base,
        weights: transfer.weights,
        inputShape: requireFlows().train.imageShape,
        preprocessing: transfer.preprocessing,
        cacheDir: config.cacheDir,
        log,
      });
      log(`base: ${choice.summary}`);
      return await keep("base", base, (b) => freeModel(b.model));
    },
    trainTransfer(base, options = {}) {
      const mode = transfer?.mode ?? "features";
      return run(
        "transfer",
        async (reporter, signal) => {
          const trained = await trainTransfer(base, needFlows(), config, {
            mode,
            reporter,
            signal,
            log,
            beforeFit: options.beforeFit,
            trainStep: mode === "features" ? trainStep : undefined,
            predictFeatures: plan.predictFeatures,
          });
          // The whole model shares the frozen base's layers: dispose the head, never the base.
          return {
            trained,
            dispose: () => freeModel(trained.head),
            fitted: trained.fitted,
            parallel: parallel && mode === "features",
          };
        },
        {
          base: base.name,
          weights: base.weightsSource,
          preprocessing: base.preprocessing,
          mode,
        },
      );
    },
    async save(training) {
      const saved = await openRunStore(paths.outputs).saveModel({
        kind: training.kind,
        model: training.model,
        inputSpec: training.inputSpec,
        history: training.history,
        config,
        extra: training.extra,
      });
      log(`model: ${saved.modelDir}\nhistory: ${saved.historyCsv} and ${saved.historyJson}`);
    },
    async savedHistory(kind) {
      const { history } = await historyFromOutputsOrTrain({
        outputsDir: paths.outputs,
        kind,
        config,
        log,
        train: trainArticleBaselineHere,
      });
      return history;
    },
    async savedModel(kinds = ["transfer", "baseline"]) {
      await disposeKept("saved model");
      const found = await modelFromOutputsOrTrain({
        outputsDir: paths.outputs,
        kinds,
        config,
        log,
        train: trainArticleBaselineHere,
      });
      return await keep("saved model", found, (f) => f.model.dispose());
    },
    async overSeeds(base, options = {}) {
      const seeds = options.seeds ?? config.seeds ??
        Array.from({ length: config.quick ? 2 : 3 }, (_, i) => config.seed + i);
      const fineTune: FineTuneConfig | null = options.fineTune === false
        ? null
        : typeof options.fineTune === "object"
        ? options.fineTune
        : config.fineTune ??
          {
            epochs: config.quick ? 1 : FINE_TUNE_EPOCHS,
            learningRate: FINE_TUNE_LEARNING_RATE,
          };
      const mode = transfer?.mode ?? "features";
      const flows = needFlows();
      const testList = await collectImages([join(paths.data, "test")], flows.inputSpec.classNames);
      const runs: SeedRun[] = [];
      let stopped = false;
      // One display per training, right under its "Seed 43: baseline CNN" line.
      let current = "";
      let open: NotebookReporter | null = null;
      const progressFor = (label: string) => {
        current = label;
        const display = progressDisplay(log);
        open = display;
        return {
          reporter: display,
          end: async () => {
            display.close();
            await display.settled();
            open = null;
          },
        };
      };
      try {
        await interruptible(async (signal) => {
          const features = mode === "features"
            ? await extractTransferFeatures(base, flows, config, {
              predictFeatures: plan.predictFeatures,
              signal,
              log,
            })
            : undefined;
          const context = {
            dataDir: paths.data,
            config: { ...config, fineTune },
            base,
            features,
            testList,
            trainStep,
            predictFeatures: plan.predictFeatures,
            signal,
            log,
            progressFor,
          };
          // One seed after another, in this thread on both cores (the displays follow one
          // training at a time); the Stop button keeps the seeds finished.
          runs.push(...await trainSeeds(context, seeds, { lanes: 1, backend: backend.name }));
          stopped = signal.aborted;
        });
      } catch (error) {
        const display = open as NotebookReporter | null;
        display?.close();
        await display?.settled();
        if (error instanceof FeatureExtractionStopped) {
          error.stack = `${error.message} Run this cell again to start over.`;
        }
        throw error;
      }
      if (stopped) {
        log(
          `Stopped by the interrupt (${current}): ${runs.length} of ${seeds.length} seed` +
            `${seeds.length === 1 ? "" : "s"} finished. The cells below show ` +
            `${runs.length === 1 ? "its" : "their"} figures once run again; run this cell ` +
            "again for all the seeds.",
        );
      }
      if (runs.length === 0) {
        throw new ConfigError(
          "nb.overSeeds",
          "Stopped before the first seed finished: nothing to summarize. Run the cell again.",
        );
      }
      return summarizeSeeds(runs);
    },
    async predictTest(model, inputSpec) {
      const images = await collectImages([join(paths.data, "test")], inputSpec.classNames);
      const rows = await predictImages(model, images, inputSpec);
      const files = rows.map((r) => images.files[images.names.indexOf(r.file)]);
      return { rows, files };
    },
  };
}
