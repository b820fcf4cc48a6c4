/**
 * Picking a pretrained base, for the CLI and the notebooks alike: {@linkcode createBase} builds
 * the one named, {@linkcode resolveBase} also knows the default. The default is the article's
 * base, VGG16 with Keras' ImageNet weights, when those weights can be had (in the cache or
 * downloaded); otherwise the MobileNet v1 0.25 embedded in the repository
 * ({@linkcode EMBEDDED_MOBILENET_DIR}, ImageNet weights too), said plainly in the log and in the
 * {@linkcode BaseChoice} that reports and `metrics.json` carry. A base asked for by name never
 * falls back: it works or fails with what to do.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { PretrainedBase } from "./base.ts";
import { createMobileNetBase } from "./mobilenet.ts";
import { createVgg16Base, VGG16_NOTOP_FILE, VGG16_NOTOP_URLS } from "./vgg16.ts";
import { defaultCacheDir } from "../data/download.ts";
import { CarplaneError } from "../errors.ts";
import { firstLine } from "../_text.ts";
import type { BaseName, Preprocessing } from "../config.ts";

/**
 * MobileNet v1 0.25 with ImageNet weights, embedded in the repository
 * (`assets/models/mobilenet_v1_0.25_224`, 1.9 MB, Apache-2.0; see its `SOURCE.md`): the
 * MobileNet base's default weights, and the default base when VGG16's weights cannot be had.
 */
export const EMBEDDED_MOBILENET_DIR = fileURLToPath(
  new URL("../../assets/models/mobilenet_v1_0.25_224", import.meta.url),
);

/** Raised for a base that cannot be built from the options given. */
export class BaseOptionsError extends CarplaneError {
  constructor(message: string) {
    super(message);
    this.name = "BaseOptionsError";
  }
}

/** Options for {@linkcode createBase}. */
export interface CreateBaseOptions {
  /** `vgg16` (default weights: Keras' ImageNet file, downloaded with the cache) or `mobilenet`. */
  base: BaseName;
  /**
   * Weights: VGG16 `.h5` path or URL (`"none"` for random initialisation, a smoke test only);
   * MobileNet layers-model folder, `model.json` or URL (default: the embedded MobileNet v1
   * 0.25, {@linkcode EMBEDDED_MOBILENET_DIR}).
   */
  weights?: string;
  /** Images fed to the base, `[h, w, 3]` (the article: `[64, 64, 3]`). */
  inputShape?: [number, number, number];
  /** VGG16 only: `rescale` (the article) or `vgg16` (Keras' `preprocess_input`). */
  preprocessing?: Preprocessing;
  /** Download cache. */
  cacheDir?: string;
  /** Progress lines. */
  log?: (line: string) => void;
}

/**
 * Builds the named frozen base.
 *
 * @example
 * ```ts
 * const base = await createBase({ base: "mobilenet" }); // the embedded MobileNet v1 0.25
 * console.log(base.model.outputs[0].shape); // [null, 7, 7, 256]
 * ```
 */
export async function createBase(options: CreateBaseOptions): Promise<PretrainedBase> {
  const inputShape = options.inputShape ?? [64, 64, 3];
  if (options.base === "mobilenet") {
    if (options.weights === "none") {
      throw new BaseOptionsError(
        'The MobileNet base has no random-weights mode (weights "none"): pass a MobileNet v1 ' +
          "TensorFlow.js layers model (folder with model.json and its shards, or a URL) with " +
          "--weights DIR, or leave it out for the embedded MobileNet v1 0.25.",
      );
    }
    return await createMobileNetBase({
      weights: options.weights ?? EMBEDDED_MOBILENET_DIR,
      inputShape,
    });
  }
  if (options.base !== "vgg16") {
    throw new BaseOptionsError(`Unknown base "${options.base}": use vgg16 or mobilenet.`);
  }
  return await createVgg16Base({
    weights: options.weights === "none" ? null : options.weights,
    inputShape,
    preprocessing: options.preprocessing ?? "rescale",
    cacheDir: options.cacheDir,
    log: options.log,
  });
}

/** Which base a run uses, and why: for the log, `report.md` and `metrics.json`. */
export interface BaseChoice {
  /** What was asked for: a base by name, or `default` (nothing: `--base`/`CARPLANE_BASE` unset). */
  requested: "default" | "vgg16" | "mobilenet";
  /** The base used. */
  used: "vgg16" | "mobilenet";
  /** Where its weights came from (a path or URL). */
  weights: string;
  /** Set when the default's VGG16 could not be had: why, in one line. */
  fallbackReason?: string;
  /** One sentence saying all of the above. */
  summary: string;
}

/** Options for {@linkcode resolveBase}. */
export interface ResolveBaseOptions extends Omit<CreateBaseOptions, "base"> {
  /**
   * The base asked for; unset for the default (VGG16 with Keras' ImageNet weights when they can
   * be had, else the embedded MobileNet). With `weights` and no base, VGG16 with those weights.
   */
  base?: BaseName;
  /**
   * Where the default's VGG16 weights come from (default: Keras' URLs through the cache). Tests
   * point it at an address that cannot answer.
   */
  defaultVgg16Weights?: string;
}

/** A built base and the {@linkcode BaseChoice} that explains it. */
export interface ResolvedBase {
  base: PretrainedBase;
  choice: BaseChoice;
}

/**
 * The transfer step's base: the one asked for (which fails clearly when it cannot be built),
 * or the default: VGG16 with Keras' ImageNet weights when the file is in the cache or can be
 * downloaded, else the embedded MobileNet v1 0.25, with the reason in the log and the choice.
 *
 * @example
 * ```ts
 * const { base, choice } = await resolveBase({ inputShape: [64, 64, 3] });
 * console.log(choice.summary);
 * // offline: "mobilenet (the embedded MobileNet v1 0.25, ImageNet weights) in place of the
 * //   default VGG16, whose ImageNet weights could not be had: ..."
 * ```
 */
export async function resolveBase(options: ResolveBaseOptions = {}): Promise<ResolvedBase> {
  const log = options.log ?? ((line: string) => console.error(line));
  const { base: requested, defaultVgg16Weights, ...rest } = options;
  if (requested !== undefined || options.weights !== undefined) {
    const name = requested ?? "vgg16";
    const base = await createBase({ ...rest, base: name });
    const summary = `${name} as asked, weights ${base.weightsSource}`;
    return {
      base,
      choice: { requested: requested ?? "vgg16", used: name, weights: base.weightsSource, summary },
    };
  }
  log("Default base: the article's VGG16, if Keras' ImageNet weights can be had.");
  try {
    const base = await createBase({ ...rest, base: "vgg16", weights: defaultVgg16Weights });
    return {
      base,
      choice: {
        requested: "default",
        used: "vgg16",
        weights: base.weightsSource,
        summary: `vgg16 (the article's base), Keras' ImageNet weights from ${base.weightsSource}`,
      },
    };
  } catch (error) {
    // The error says whether it means "cannot be had" (CarplaneError.unavailable: a failed
    // download, an unreadable weights file); anything else is a real failure.
    if (!(error instanceof CarplaneError && error.unavailable)) throw error;
    const fallbackReason = firstLine(error);
    log(
      `VGG16's ImageNet weights cannot be had (${fallbackReason}).\n` +
        `Using the MobileNet v1 0.25 embedded in the repository instead (ImageNet weights, ` +
        `${EMBEDDED_MOBILENET_DIR}). For the article's VGG16: download ${VGG16_NOTOP_URLS[0]} ` +
        `to ${join(options.cacheDir ?? defaultCacheDir(), VGG16_NOTOP_FILE)}, or pass ` +
        "--weights PATH (CARPLANE_WEIGHTS in the notebooks).",
    );
    const base = await createBase({ ...rest, base: "mobilenet", weights: EMBEDDED_MOBILENET_DIR });
    return {
      base,
      choice: {
        requested: "default",
        used: "mobilenet",
        weights: base.weightsSource,
        fallbackReason,
        summary: "mobilenet (the embedded MobileNet v1 0.25, ImageNet weights) in place of the " +
          `default VGG16, whose ImageNet weights could not be had: ${fallbackReason}`,
      },
    };
  }
}
