/**
 * Picking a pretrained base by name, for the CLI and the notebooks alike.
 *
 * @module
 */
import type { PretrainedBase } from "./base.ts";
import { createMobileNetBase } from "./mobilenet.ts";
import { createVgg16Base } from "./vgg16.ts";
import { CarplaneError } from "../errors.ts";

/** The bases this project knows, and `none` for no transfer step. */
export type BaseName = "vgg16" | "mobilenet" | "none";

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
  base: Exclude<BaseName, "none">;
  /**
   * Weights: VGG16 `.h5` path or URL (`"none"` for random initialisation, a smoke test only);
   * MobileNet layers-model folder, `model.json` or URL (required).
   */
  weights?: string;
  /** Images fed to the base, `[h, w, 3]` (the article: `[64, 64, 3]`). */
  inputShape?: [number, number, number];
  /** VGG16 only: `rescale` (the article) or `vgg16` (Keras' `preprocess_input`). */
  preprocessing?: "rescale" | "vgg16";
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
 * const base = await createBase({ base: "mobilenet", weights: "../shared/models/mobilenet_v1_0.25_224" });
 * console.log(base.model.outputs[0].shape); // [null, 7, 7, 256]
 * ```
 */
export async function createBase(options: CreateBaseOptions): Promise<PretrainedBase> {
  const inputShape = options.inputShape ?? [64, 64, 3];
  if (options.base === "mobilenet") {
    if (!options.weights || options.weights === "none") {
      throw new BaseOptionsError(
        "The MobileNet base needs weights: a MobileNet v1 TensorFlow.js layers model " +
          "(folder with model.json and its shards, or a URL), e.g. --weights DIR.",
      );
    }
    return await createMobileNetBase({ weights: options.weights, inputShape });
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
