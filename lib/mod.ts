/**
 * The front door: what a notebook or a script imports to reproduce the article, or to run the
 * same steps on its own image folders. Each group below comes from one folder of `lib/`, whose
 * own `mod.ts` has the rest of that folder's public API (`lib/data/mod.ts`, `lib/models/mod.ts`,
 * `lib/training/mod.ts`, `lib/report/mod.ts`, `lib/runs/mod.ts`, `lib/notebook/mod.ts`).
 *
 * @example
 * ```ts
 * import { createArticleFlows, createBaselineModel, fit, initBackend } from "./lib/mod.ts";
 * await initBackend("auto");
 * const flows = await createArticleFlows("data");
 * const model = createBaselineModel();
 * const { history } = await fit(model, flows.train, { epochs: 30, stepsPerEpoch: 30, validationData: flows.val });
 * ```
 *
 * @module
 */

// configuration and errors
export {
  ARTICLE,
  BASE_NAMES,
  type BaseName,
  ConfigError,
  type ExperimentConfig,
  experimentConfig,
  FINE_TUNE_EPOCHS,
  FINE_TUNE_LEARNING_RATE,
  type FineTuneConfig,
  parseExperimentConfig,
  parsePerClassList,
  parseSeedList,
  type Preprocessing,
  PREPROCESSINGS,
  projectPaths,
  TRANSFER_MODES,
  type TransferConfig,
  type TransferMode,
} from "./config.ts";
export { CarplaneError, formatError } from "./errors.ts";
export { escapeMarkdown, printable, printableLine } from "./_escape.ts";

// data: folders -> images -> augmented batches
export {
  ARTICLE_SPLITS,
  type ClassMode,
  copyArticleLayout,
  DatasetError,
  decodeImageFile,
  describeDatasetSource,
  type DirectoryIterator,
  download,
  drawShapesDataset,
  ensureDataset,
  fetchArticleDataset,
  fetchCifar10Dataset,
  flowFromDirectory,
  type FlowOptions,
  formatFoundLine,
  type ImageDataset,
  installLocalDataset,
  scanImageDirectory,
  validateArticleLayout,
} from "./data/mod.ts";

// models
export {
  type ClassScore,
  classScores,
  collectImages,
  confusionMatrix,
  countParams,
  createBase,
  createBaselineModel,
  createTransferHead,
  explainImages,
  formatAccuracyLine,
  formatClassScores,
  formatConfusionMatrix,
  formatCount,
  formatPredictionTable,
  gradCam,
  inputSpecFromMetadata,
  loadModel,
  predictImages,
  type PredictionRow,
  resolveBase,
  saveModel,
  summarize,
} from "./models/mod.ts";

// training
export {
  ARTICLE_TRAIN_AUGMENTATION,
  type BackendRequest,
  backendRequestFromEnv,
  classModeFor,
  classWeightBalanced,
  createArticleFlows,
  createDataParallelTrainStep,
  createParallelPredictor,
  createWeightedTrainStep,
  diagnoseFit,
  earlyStopping,
  evaluate,
  fit,
  type FitOptions,
  type FitResult,
  type History,
  historyToCsv,
  initBackend,
  parseBackendRequest,
  threadPlan,
  trainBaseline,
  trainTransfer,
} from "./training/mod.ts";

// report
export {
  accuracyChartSpec,
  augmentationGrid,
  chartDisplay,
  comparisonChartSpec,
  heatmapOverlay,
  imageDisplay,
  lossChartSpec,
  renderContactSheet,
  renderGradCamSheet,
  renderReport,
  type ReproduceMetrics,
  sampleGrid,
  writeChart,
} from "./report/mod.ts";

// runs: the outputs folder
export {
  atomicWriteFile,
  beginRun,
  historyFromOutputsOrTrain,
  type InterruptSignal,
  modelFromOutputsOrTrain,
  type ModelKind,
  type ModelRecord,
  openRunStore,
  readRunStatus,
  RunInterruptedError,
  RunLockedError,
  type RunStore,
  trainArticleBaseline,
} from "./runs/mod.ts";

// the whole article in one call, and the same on your own images
export {
  reproduce,
  type ReproduceOptions,
  resolveTrainLayout,
  train,
  type TrainMetrics,
  type TrainOptions,
} from "./experiment/mod.ts";

// beyond the article: repeated seeds, fine-tuning, accuracy against data size
export { trainDataSizePoint, trainSeed } from "./experiment/mod.ts";
export {
  aggregateSeeds,
  checkArticleClaims,
  dataSizeChartSpec,
  fineTuneOffsets,
  formatSeedTable,
  pairedComparison,
  renderDataSizeMarkdown,
  renderSeedsMarkdown,
  SEED_MODEL_NAMES,
  seedBandChartSpec,
  seedCurves,
  type SeedRun,
  type SeedsMetrics,
  summarizeSeeds,
} from "./report/mod.ts";
export { extractTransferFeatures, fineTune, topBlockLayers } from "./training/mod.ts";
