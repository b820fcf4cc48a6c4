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

/** Adam's learning rate for fine-tuning: 1e-5, a hundredth of Keras' default (Keras' guide). */
export const FINE_TUNE_LEARNING_RATE = 1e-5;

/** Epochs of fine-tuning by default. */
export const FINE_TUNE_EPOCHS = 10;

/**
 * Fine-tuning after the transfer head (beyond the article; Chollet's DLwP 5.3): the base's top
 * block unfrozen, trained on at a low learning rate.
 */
export interface FineTuneConfig {
  /** Epochs of fine-tuning ({@linkcode FINE_TUNE_EPOCHS} by default, 1 in quick mode). */
  epochs: number;
  /** Adam's learning rate ({@linkcode FINE_TUNE_LEARNING_RATE} by default). */
  learningRate: number;
}

/** At most this many seeds in one run (`--seeds`): each one retrains every model. */
export const MAX_SEEDS = 100;

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
  /**
   * Every seed to train every model with (`--seeds`), the first being `seed`: its run is the one
   * whose models, charts and predictions are saved. Undefined (or one seed): the single run.
   */
  seeds?: number[];
  /** Fine-tune the transfer model's top block after its head (`--fine-tune`), or null. */
  fineTune: FineTuneConfig | null;
  /**
   * Training images per class for the accuracy-vs-data-size experiment (`--train-per-class`),
   * ascending; undefined for none.
   */
  trainPerClass?: number[];
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
  | { type: "switch" }
  | { type: "seeds" }
  | { type: "sizes"; max: number };

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
  seeds: { flag: "--seeds", env: ["CARPLANE_SEEDS"], kind: { type: "seeds" } },
  fineTune: { flag: "--fine-tune", env: ["CARPLANE_FINE_TUNE"], kind: { type: "switch" } },
  fineTuneLearningRate: {
    flag: "--fine-tune-lr",
    env: ["CARPLANE_FINE_TUNE_LR"],
    kind: { type: "rate", max: 10 },
  },
  fineTuneEpochs: {
    flag: "--fine-tune-epochs",
    env: ["CARPLANE_FINE_TUNE_EPOCHS"],
    kind: { type: "count", min: 1, max: 10_000 },
  },
  trainPerClass: {
    flag: "--train-per-class",
    env: ["CARPLANE_TRAIN_PER_CLASS"],
    kind: { type: "sizes", max: 100_000 },
  },
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
  const seed = (value("seed") as number | undefined) ?? 42;
  const seedsText = read("seeds", (v) => v) as string | undefined;
  const seeds = seedsText === undefined
    ? undefined
    : parseSeedList(seedsText, seed, raw("seeds")!.from);
  const fineTuneOn = (value("fineTune") as boolean | undefined) ?? false;
  const fineTuneLr = value("fineTuneLearningRate") as number | undefined;
  const fineTuneEpochs = value("fineTuneEpochs") as number | undefined;
  if (!fineTuneOn && (fineTuneLr !== undefined || fineTuneEpochs !== undefined)) {
    const from = raw(fineTuneLr !== undefined ? "fineTuneLearningRate" : "fineTuneEpochs")!.from;
    throw new ConfigError(
      from,
      `${from} sets how fine-tuning runs, but fine-tuning is off: add ` +
        `${from.startsWith("--") ? "--fine-tune" : "CARPLANE_FINE_TUNE=1"} to run it.`,
    );
  }
  if (fineTuneOn && transfer === null) {
    const [f, b] = [raw("fineTune")!.from, raw("base")!.from];
    throw new ConfigError(
      f,
      `${f} fine-tunes the pretrained base's top block, but ${b} is none (no transfer model). ` +
        `Drop ${f}, or choose a base.`,
    );
  }
  const sizesText = read("trainPerClass", (v) => v) as string | undefined;
  return {
    targetSize: [64, 64],
    batchSize: (value("batchSize") as number | undefined) ?? 32,
    epochs: (value("epochs") as number | undefined) ?? protocol.epochs,
    stepsPerEpoch: (value("stepsPerEpoch") as number | undefined) ?? protocol.stepsPerEpoch,
    seed,
    quick,
    transfer,
    threads: (value("threads") as number | undefined) ?? 2,
    strict: (value("strict") as boolean | undefined) ?? false,
    cacheDir: value("cacheDir") as string | undefined,
    seeds,
    fineTune: fineTuneOn
      ? {
        epochs: fineTuneEpochs ?? (quick ? 1 : FINE_TUNE_EPOCHS),
        learningRate: fineTuneLr ?? FINE_TUNE_LEARNING_RATE,
      }
      : null,
    trainPerClass: sizesText === undefined
      ? undefined
      : parsePerClassList(sizesText, raw("trainPerClass")!.from),
  };
}

/**
 * Parses `--seeds`: a count `N` gives the seeds `first, first + 1, ..., first + N - 1` (`first`
 * is `--seed`, default 42, so `--seeds 1` is the single run); a comma-separated list gives those
 * seeds, in that order (the first one is the run whose models and charts are saved). At most
 * {@linkcode MAX_SEEDS}; each seed from 0 to 2^53.
 *
 * @example
 * ```ts
 * parseSeedList("3", 42); // [42, 43, 44]
 * parseSeedList("1,2,7", 42); // [1, 2, 7]
 * ```
 */
export function parseSeedList(text: string, first: number, from = "--seeds"): number[] {
  const t = text.trim();
  const bad = (why = "") =>
    new ConfigError(
      from,
      `${from} takes a number of seeds from 1 to ${MAX_SEEDS} (e.g. 5) or a comma-separated ` +
        `list of distinct whole-number seeds from 0 to 2^53 (e.g. 1,2,7), got "${text}"${why}.`,
    );
  if (!t.includes(",")) {
    if (!/^[0-9]+$/.test(t)) throw bad();
    const n = Number(t);
    if (n < 1 || n > MAX_SEEDS) throw bad();
    if (n - 1 > MAX_SEED - first) throw bad(` (from --seed ${first} that passes 2^53)`);
    return Array.from({ length: n }, (_, i) => first + i);
  }
  const parts = t.split(",").map((s) => s.trim());
  if (parts.length > MAX_SEEDS) throw bad(` (${parts.length} seeds)`);
  if (parts.some((p) => !/^[0-9]+$/.test(p) || BigInt(p) > BigInt(MAX_SEED))) throw bad();
  const seeds = parts.map(Number);
  if (new Set(seeds).size !== seeds.length) throw bad(" (a seed twice)");
  return seeds;
}

/**
 * Parses `--train-per-class 20,40,80` into sizes (ascending, each once), each from 1 to 100,000.
 *
 * @example
 * ```ts
 * parsePerClassList("80,20,40"); // [20, 40, 80]
 * ```
 */
export function parsePerClassList(text: string, from = "--train-per-class"): number[] {
  const max = (SETTINGS.trainPerClass.kind as { max: number }).max;
  const parts = text.split(",").map((s) => s.trim());
  if (
    parts.length > 20 ||
    parts.some((p) => !/^[0-9]+$/.test(p) || Number(p) < 1 || Number(p) > max)
  ) {
    throw new ConfigError(
      from,
      `${from} takes up to 20 comma-separated whole numbers from 1 to ${max} (training ` +
        `images per class), got "${text}"; e.g. 20,40,80.`,
    );
  }
  return [...new Set(parts.map(Number))].sort((a, b) => a - b);
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
    case "seeds":
    case "sizes":
      return value; // parsed by parseSeedList / parsePerClassList, which need more context
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
