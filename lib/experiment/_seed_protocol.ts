/**
 * The messages between `seed_pool.ts` and `_seed_worker.ts` (kept apart so that the two do not
 * import each other). Everything here is structured-clone data: numbers, strings, typed arrays.
 *
 * @module
 */
import type { ExperimentConfig, Preprocessing } from "../config.ts";
import type { BaseName } from "../config.ts";
import type { ImageList } from "../models/predict.ts";
import type { SeedRun } from "../report/seeds.ts";
import type { DataSizePoint } from "../report/seed_charts.ts";
import type { BackendName } from "../training/runtime.ts";
import type { TransferFeatures } from "../training/experiment.ts";

/** How a lane rebuilds the pretrained base (`createBase`'s options). */
export interface BaseRecipe {
  name: BaseName;
  /** Weights path or URL (`none` for random weights). */
  weights: string;
  inputShape: [number, number, number];
  preprocessing: Preprocessing;
  cacheDir?: string;
}

/** Main to lane, once: the backend, the base and everything every seed shares. */
export interface LaneInit {
  type: "init";
  backend: BackendName;
  dataDir: string;
  config: ExperimentConfig;
  base: BaseRecipe | null;
  features?: TransferFeatures;
  testList: ImageList;
}

/**
 * One job of a lane: every model of one seed (`trainSeed`), or the baseline and transfer model
 * on `perClass` training images per class (`trainDataSizePoint`, its subset under `scratchDir`).
 */
export type LaneJob =
  | { type: "seed"; seed: number }
  | { type: "size"; perClass: number; seed: number; scratchDir: string };

/** Main to lane: run job number `index`. */
export interface LaneRun {
  type: "run";
  index: number;
  job: LaneJob;
}

/** What a job gives. */
export type LaneResult =
  | { type: "seed"; run: SeedRun }
  | { type: "size"; points: DataSizePoint[] };

/** Lane to main. */
export type LaneReply =
  | { type: "ready" }
  | { type: "line"; line: string }
  | { type: "done"; index: number; result: LaneResult }
  | { type: "error"; index: number | null; message: string };
