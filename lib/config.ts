/**
 * One place for the defaults shared by the command-line tools and the notebooks: the article's
 * training protocol, the project's folders, and quick mode for tests.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CarplaneError } from "./errors.ts";

/** The article's protocol: 64x64 images, batches of 32, 30 epochs of 30 steps. */
export interface ExperimentConfig {
  /** Image size `[height, width]` every image is resized to. */
  targetSize: [number, number];
  /** Images per batch. */
  batchSize: number;
  /** Passes of `stepsPerEpoch` batches. */
  epochs: number;
  /** Batches per epoch (Keras' `steps_per_epoch`). */
  stepsPerEpoch: number;
  /** Seed for weights, shuffling and augmentation. */
  seed: number;
  /** True for a smoke run of a few steps (tests, `--quick`, `NOTEBOOK_QUICK=1`). */
  quick: boolean;
}

/** The folders a run reads and writes. */
export interface ProjectPaths {
  /** The project's root (the folder holding `deno.json`). */
  root: string;
  /** Dataset in the article's layout (`training_set/`, `val_set/`, `test/`). */
  data: string;
  /** Where runs write metrics, charts, models and reports. */
  outputs: string;
}

/** The article's numbers, for reports that put ours beside them. */
export const ARTICLE = {
  baselineValAccuracy: [0.8, 0.875] as const,
  testCorrect: 14,
  testTotal: 15,
  vgg16Params: 14_714_688,
  baselineParams: 813_217,
} as const;

/**
 * The project's folders. `CARPLANE_DATA_DIR` and `CARPLANE_OUTPUTS_DIR` override the defaults
 * (`data/` and `outputs/` under the project root), so CLIs and notebooks agree.
 *
 * @example
 * ```ts
 * const paths = projectPaths();
 * console.log(paths.data); // /path/to/project/data
 * ```
 */
export function projectPaths(
  env: (name: string) => string | undefined = readEnv,
): ProjectPaths {
  const root = dirname(dirname(fileURLToPath(import.meta.url)));
  return {
    root,
    data: env("CARPLANE_DATA_DIR") ?? join(root, "data"),
    outputs: env("CARPLANE_OUTPUTS_DIR") ?? join(root, "outputs"),
  };
}

/**
 * True when quick mode is requested through `NOTEBOOK_QUICK=1` or `CARPLANE_QUICK=1`.
 *
 * @example
 * ```ts
 * if (isQuickMode()) console.log("smoke run");
 * ```
 */
export function isQuickMode(
  env: (name: string) => string | undefined = readEnv,
): boolean {
  return ["NOTEBOOK_QUICK", "CARPLANE_QUICK"].some((name) => {
    const value = env(name);
    return value !== undefined && value !== "" && value !== "0" &&
      value !== "false";
  });
}

/**
 * The experiment settings: the article's protocol, or a few small steps in quick mode.
 * Explicit overrides win over both.
 *
 * @example
 * ```ts
 * const config = experimentConfig({ epochs: 5 });
 * console.log(config.stepsPerEpoch); // 30
 * ```
 */
export function experimentConfig(
  overrides: Partial<ExperimentConfig> = {},
  env: (name: string) => string | undefined = readEnv,
): ExperimentConfig {
  const quick = overrides.quick ?? isQuickMode(env);
  const base: ExperimentConfig = quick
    ? {
      targetSize: [64, 64],
      batchSize: 32,
      epochs: 2,
      stepsPerEpoch: 2,
      seed: 42,
      quick,
    }
    : {
      targetSize: [64, 64],
      batchSize: 32,
      epochs: 30,
      stepsPerEpoch: 30,
      seed: 42,
      quick,
    };
  const merged = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    if (value !== undefined) (merged as Record<string, unknown>)[key] = value;
  }
  return merged;
}

function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no --allow-env: fall back to the defaults
  }
}

/** The transfer-learning settings shared by the CLI (as flags) and the notebooks (as env). */
export interface TransferConfig {
  /**
   * `vgg16`, `mobilenet` or `none`; undefined (`CARPLANE_BASE` unset) for the default: VGG16
   * with Keras' ImageNet weights when they can be had, else the embedded MobileNet (see
   * `resolveBase` in `lib/models/bases.ts`).
   */
  base?: "vgg16" | "mobilenet" | "none";
  /** Weights path or URL; undefined for the base's default weights; `none` for random weights. */
  weights?: string;
  /** `features` (default) or `augmented`. */
  mode: "features" | "augmented";
  /** VGG16 preprocessing: `rescale` (default, the article) or `vgg16`. */
  preprocessing: "rescale" | "vgg16";
  /** Download cache folder, when set. */
  cacheDir?: string;
}

/**
 * Transfer settings from `CARPLANE_BASE`, `CARPLANE_WEIGHTS`, `CARPLANE_MODE`,
 * `CARPLANE_PREPROCESSING` and `CARPLANE_CACHE_DIR` (what the notebooks read; the CLI's flags
 * mean the same).
 *
 * @example
 * ```ts
 * // CARPLANE_BASE=mobilenet CARPLANE_WEIGHTS=../shared/models/mobilenet_v1_0.25_224
 * const { base, weights } = transferConfig();
 * ```
 */
export function transferConfig(
  env: (name: string) => string | undefined = readEnv,
): TransferConfig {
  const pick = <T extends string, F extends T | undefined>(
    name: string,
    choices: readonly T[],
    fallback: F,
  ): T | F => {
    const value = env(name);
    if (value === undefined || value === "") return fallback;
    if (!choices.includes(value as T)) {
      throw new ConfigError(`${name}="${value}" is not one of ${choices.join(", ")}.`);
    }
    return value as T;
  };
  return {
    base: pick("CARPLANE_BASE", ["vgg16", "mobilenet", "none"] as const, undefined),
    weights: env("CARPLANE_WEIGHTS") || undefined,
    mode: pick("CARPLANE_MODE", ["features", "augmented"] as const, "features"),
    preprocessing: pick("CARPLANE_PREPROCESSING", ["rescale", "vgg16"] as const, "rescale"),
    cacheDir: env("CARPLANE_CACHE_DIR") || undefined,
  };
}

/** Raised for a setting with a value the project does not know. */
export class ConfigError extends CarplaneError {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}
