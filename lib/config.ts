/**
 * The one typed configuration of an experiment, and the one parser that fills it from the
 * command line's flags (`deno task reproduce --epochs 5`) or the environment the notebooks read
 * (`CARPLANE_EPOCHS=5`). Every setting has one flag and one variable with the same meaning
 * ({@linkcode SETTINGS}); flags win over the environment, which wins over the defaults.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CarplaneError } from "./errors.ts";

/** The pretrained bases transfer learning can use. */
export const BASE_NAMES = ["vgg16", "mobilenet"] as const;
/** One of {@linkcode BASE_NAMES}. */
export type BaseName = (typeof BASE_NAMES)[number];

/** VGG16's input preparation: the article's `rescale` (1/255) or Keras' `preprocess_input`. */
export const PREPROCESSINGS = ["rescale", "vgg16"] as const;
/** One of {@linkcode PREPROCESSINGS}. */
export type Preprocessing = (typeof PREPROCESSINGS)[number];

/**
 * How the transfer head is trained: `features` (the base runs once, the head trains on cached
 * features) or `augmented` (the base inside the model, the article's augmentation on).
 */
export const TRANSFER_MODES = ["features", "augmented"] as const;
/** One of {@linkcode TRANSFER_MODES}. */
export type TransferMode = (typeof TRANSFER_MODES)[number];

/** Threads training and feature extraction may use: 1, or 2 (a Worker for the second core). */
export const THREAD_CHOICES = [1, 2] as const;

/** Transfer learning on a frozen pretrained base. */
export interface TransferConfig {
  /**
   * The base; undefined for the default: VGG16 with Keras' ImageNet weights when they can be
   * had, else the embedded MobileNet (`resolveBase` in `lib/models/bases.ts`).
   */
  base?: BaseName;
  /** Weights path or URL; undefined for VGG16's default download; `none` for random weights. */
  weights?: string;
  /** How the head is trained. */
  mode: TransferMode;
  /** VGG16's input preparation. */
  preprocessing: Preprocessing;
  /** Adam's learning rate for the head; undefined for `TRANSFER_LEARNING_RATE` (1e-4). */
  headLearningRate?: number;
}

/** An experiment: the article's protocol, transfer learning, and how to run it. */
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
  /** Transfer learning, or null for none (`--base none`). */
  transfer: TransferConfig | null;
  /** Threads for training and feature extraction (one of {@linkcode THREAD_CHOICES}). */
  threads: number;
  /** Stop on an unreadable image instead of skipping it. */
  strict: boolean;
  /** Download cache folder; undefined for the default (`~/.cache/carplane`). */
  cacheDir?: string;
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

/** Reads an environment variable; undefined when unset. */
export type EnvReader = (name: string) => string | undefined;

/** Raised for a setting with a value the project does not take; names the flag or variable. */
export class ConfigError extends CarplaneError {
  /** The flag (`--epochs`) or variable (`CARPLANE_EPOCHS`) that was wrong. */
  readonly setting: string;
  constructor(setting: string, message: string) {
    super(message);
    this.name = "ConfigError";
    this.setting = setting;
  }
}

type Kind =
  | { type: "count"; min: number; max: number }
  | { type: "rate"; max: number }
  | { type: "choice"; choices: readonly string[] }
  | { type: "text" }
  | { type: "switch" };

/** One setting: its flag, its environment variable(s), and what values it takes. */
export interface SettingSpec {
  /** The flag, e.g. `--epochs`. */
  flag: string;
  /** The environment variables, first found wins, e.g. `["CARPLANE_EPOCHS"]`. */
  env: readonly string[];
  /** What values it takes. */
  kind: Kind;
}

/** The largest seed: every whole number up to 2^53 is exact in a double. */
export const MAX_SEED = 2 ** 53;

/**
 * Every setting, with its flag and environment variable. Counts are whole numbers in plain
 * decimal digits (no `1e3`, no `0x10`, no sign) up to a bound beyond which a run would not end in
 * a day on any machine: 10,000 epochs, 100,000 steps and batches of 4,096 (the article: 30, 30
 * and 32); seeds up to 2^53.
 */
export const SETTINGS = {
  quick: { flag: "--quick", env: ["NOTEBOOK_QUICK", "CARPLANE_QUICK"], kind: { type: "switch" } },
  epochs: {
    flag: "--epochs",
    env: ["CARPLANE_EPOCHS"],
    kind: { type: "count", min: 1, max: 10_000 },
  },
  stepsPerEpoch: {
    flag: "--steps",
    env: ["CARPLANE_STEPS"],
    kind: { type: "count", min: 1, max: 100_000 },
  },
  batchSize: {
    flag: "--batch",
    env: ["CARPLANE_BATCH"],
    kind: { type: "count", min: 1, max: 4_096 },
  },
  seed: { flag: "--seed", env: ["CARPLANE_SEED"], kind: { type: "count", min: 0, max: MAX_SEED } },
  base: {
    flag: "--base",
    env: ["CARPLANE_BASE"],
    kind: { type: "choice", choices: [...BASE_NAMES, "none"] },
  },
  weights: { flag: "--weights", env: ["CARPLANE_WEIGHTS"], kind: { type: "text" } },
  mode: {
    flag: "--mode",
    env: ["CARPLANE_MODE"],
    kind: { type: "choice", choices: TRANSFER_MODES },
  },
  preprocessing: {
    flag: "--preprocessing",
    env: ["CARPLANE_PREPROCESSING"],
    kind: { type: "choice", choices: PREPROCESSINGS },
  },
  headLearningRate: {
    flag: "--head-lr",
    env: ["CARPLANE_HEAD_LR"],
    kind: { type: "rate", max: 10 },
  },
  threads: {
    flag: "--threads",
    env: ["CARPLANE_THREADS"],
    kind: { type: "count", min: THREAD_CHOICES[0], max: THREAD_CHOICES.at(-1)! },
  },
  cacheDir: { flag: "--cache-dir", env: ["CARPLANE_CACHE_DIR"], kind: { type: "text" } },
  strict: { flag: "--strict", env: ["CARPLANE_STRICT"], kind: { type: "switch" } },
} as const satisfies Record<string, SettingSpec>;

/** The name of a setting in {@linkcode SETTINGS}. */
export type SettingName = keyof typeof SETTINGS;

/** Raw values of flags as `node:util`'s `parseArgs` gives them (`--head-lr` keyed `head-lr`). */
export type FlagValues = Record<string, string | boolean | undefined>;

/** Where {@linkcode parseExperimentConfig} reads the settings. */
export interface ConfigSources {
  /** Parsed flags, keyed by flag name without the dashes (`epochs`, `head-lr`). */
  flags?: FlagValues;
  /** Environment variables (default `Deno.env.get`, nothing without `--allow-env`). */
  env?: EnvReader;
}

/** The article's protocol, and quick mode's few small steps. */
const PROTOCOL = {
  article: { epochs: 30, stepsPerEpoch: 30 },
  quick: { epochs: 2, stepsPerEpoch: 2 },
} as const;

/**
 * THE parser: an {@linkcode ExperimentConfig} from flags and/or environment variables (flags
 * win), with the article's defaults for the rest. A bad value throws a {@linkcode ConfigError}
 * naming the flag or variable, the value received and what it takes.
 *
 * @example
 * ```ts
 * const config = parseExperimentConfig({ flags: { epochs: "5", base: "mobilenet", weights: "m/" } });
 * console.log(config.epochs, config.transfer?.base); // 5 mobilenet
 * const fromEnv = parseExperimentConfig({ env: (name) => ({ CARPLANE_BASE: "none" })[name] });
 * console.log(fromEnv.transfer); // null
 * ```
 */
export function parseExperimentConfig(sources: ConfigSources = {}): ExperimentConfig {
  const env = sources.env ?? (sources.flags ? () => undefined : readEnv);
  const raw = (name: SettingName): { value: string | boolean; from: string } | undefined => {
    const spec: SettingSpec = SETTINGS[name];
    const flagValue = sources.flags?.[spec.flag.slice(2)];
    if (flagValue !== undefined && flagValue !== false) {
      return { value: flagValue, from: spec.flag };
    }
    for (const variable of spec.env) {
      const value = env(variable);
      if (value !== undefined && value !== "") return { value, from: variable };
    }
    return undefined;
  };
  const read = <T>(name: SettingName, parse: (value: string | boolean, from: string) => T) => {
    const found = raw(name);
    return found === undefined ? undefined : parse(found.value, found.from);
  };
  const spec = (name: SettingName) => SETTINGS[name].kind as Kind;
  const value = (name: SettingName) => read(name, (v, from) => parseValue(v, from, spec(name)));

  const quick = (value("quick") as boolean | undefined) ?? false;
  const protocol = quick ? PROTOCOL.quick : PROTOCOL.article;
  const baseChoice = value("base") as BaseName | "none" | undefined;
  const weights = value("weights") as string | undefined;
  if (baseChoice === "none" && weights !== undefined) {
    const [w, b] = [raw("weights")!.from, raw("base")!.from];
    const shown = (from: string, v: string) =>
      from.startsWith("--") ? `${from} ${v}` : `${from}=${v}`;
    throw new ConfigError(
      w,
      `${shown(w, weights)} is for a pretrained base, but ${shown(b, "none")} trains no ` +
        `transfer model. Drop ${w}, or choose ${shown(b, "vgg16")} or ${shown(b, "mobilenet")}.`,
    );
  }
  const transfer: TransferConfig | null = baseChoice === "none" ? null : {
    base: baseChoice,
    weights,
    mode: (value("mode") as TransferMode | undefined) ?? "features",
    preprocessing: (value("preprocessing") as Preprocessing | undefined) ?? "rescale",
    headLearningRate: value("headLearningRate") as number | undefined,
  };
  return {
    targetSize: [64, 64],
    batchSize: (value("batchSize") as number | undefined) ?? 32,
    epochs: (value("epochs") as number | undefined) ?? protocol.epochs,
    stepsPerEpoch: (value("stepsPerEpoch") as number | undefined) ?? protocol.stepsPerEpoch,
    seed: (value("seed") as number | undefined) ?? 42,
    quick,
    transfer,
    threads: (value("threads") as number | undefined) ?? 2,
    strict: (value("strict") as boolean | undefined) ?? false,
    cacheDir: value("cacheDir") as string | undefined,
  };
}

const FALSE_WORDS = ["0", "false", "no", "off"];

function parseValue(value: string | boolean, from: string, kind: Kind): unknown {
  // The same words as cli/_args.ts, so a flag reads the same whichever way it is checked.
  const fail = (takes: string, shown = `"${value}"`): never => {
    throw new ConfigError(from, `${from} takes ${takes}, got ${shown}.`);
  };
  if (kind.type === "switch") {
    if (typeof value === "boolean") return value;
    return !FALSE_WORDS.includes(value.trim().toLowerCase());
  }
  if (typeof value !== "string") return fail("a value");
  switch (kind.type) {
    case "count": {
      const takes = `a whole number from ${kind.min} to ${kind.max}, in plain digits`;
      if (!/^[0-9]+$/.test(value)) fail(takes);
      // Compared exactly: 9007199254740993 would round to 2^53 as a Number.
      const big = BigInt(value);
      if (big < BigInt(kind.min) || big > BigInt(kind.max)) fail(takes, value);
      return Number(big);
    }
    case "rate": {
      const n = Number(value);
      if (!/^[0-9.eE+-]+$/.test(value) || !Number.isFinite(n) || n <= 0 || n > kind.max) {
        fail(`a number above 0 and at most ${kind.max}`);
      }
      return n;
    }
    case "choice":
      if (!kind.choices.includes(value)) fail(`one of ${kind.choices.join(", ")}`);
      return value;
    case "text":
      if (value.trim() === "") fail("a value");
      return value;
  }
}

/**
 * The experiment settings from the environment (what the notebooks read), with `overrides` on
 * top: the article's protocol, or a few small steps in quick mode (`NOTEBOOK_QUICK=1`).
 *
 * @example
 * ```ts
 * const config = experimentConfig({ epochs: 5 });
 * console.log(config.stepsPerEpoch); // 30
 * ```
 */
export function experimentConfig(
  overrides: Partial<ExperimentConfig> = {},
  env: EnvReader = readEnv,
): ExperimentConfig {
  const fromEnv = parseExperimentConfig({ env });
  if (overrides.quick !== undefined && overrides.quick !== fromEnv.quick) {
    // Quick mode decides the default epochs and steps: parse again with it set.
    const quickEnv: EnvReader = (name) =>
      SETTINGS.quick.env.includes(name as never) ? String(overrides.quick) : env(name);
    return withOverrides(parseExperimentConfig({ env: quickEnv }), overrides);
  }
  return withOverrides(fromEnv, overrides);
}

function withOverrides(
  config: ExperimentConfig,
  overrides: Partial<ExperimentConfig>,
): ExperimentConfig {
  const merged = { ...config };
  for (const [key, value] of Object.entries(overrides)) {
    if (value !== undefined) (merged as Record<string, unknown>)[key] = value;
  }
  return merged;
}

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
export function projectPaths(env: EnvReader = readEnv): ProjectPaths {
  const root = dirname(dirname(fileURLToPath(import.meta.url)));
  return {
    root,
    data: env("CARPLANE_DATA_DIR") || join(root, "data"),
    outputs: env("CARPLANE_OUTPUTS_DIR") || join(root, "outputs"),
  };
}

function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no --allow-env: fall back to the defaults
  }
}
