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

/** Main to lane: train every model of one seed. */
export interface LaneRun {
  type: "run";
  seed: number;
}

/** Lane to main. */
export type LaneReply =
  | { type: "ready" }
  | { type: "line"; seed: number | null; line: string }
  | { type: "done"; seed: number; run: SeedRun }
  | { type: "error"; seed: number | null; message: string };
