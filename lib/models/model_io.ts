/**
 * Saving and loading TensorFlow.js layers models on disk without `@tensorflow/tfjs-node`
 * (whose `file://` handler is the only built-in one for files, and whose binding does not
 * load everywhere).
 *
 * The format is TensorFlow.js' own layers-model format, so a saved directory also loads with
 * `tf.loadLayersModel("file://...")` under tfjs-node or from a web server:
 *
 * - `model.json`: `{ modelTopology, weightsManifest: [{ paths: ["weights.bin"], weights }],
 *   format: "layers-model", generatedBy, convertedBy: null, userDefinedMetadata }`;
 * - `weights.bin`: all weights, concatenated in manifest order.
 *
 * Loading reads every shard of every group of `weightsManifest` (e.g. the 55
 * `groupN-shard1of1` files of a converted Keras MobileNet), from a directory, a `model.json`
 * path, or an `http(s)://` URL.
 *
 * Importing this module also registers this project's custom layers (see
 * `lib/models/custom_layers.ts`), so any model this project saved loads here.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
import "./custom_layers.ts";
import { CarplaneError } from "../errors.ts";

/** Raised when a model cannot be loaded; the message names the file and what is expected. */
export class ModelLoadError extends CarplaneError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ModelLoadError";
  }
}

/** Raised when a model cannot be saved; the message names the directory and the fix. */
export class ModelSaveError extends CarplaneError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ModelSaveError";
  }
}

/** JSON-serialisable metadata stored as `userDefinedMetadata` in `model.json`. */
export type ModelMetadata = Record<string, unknown>;

/** Options for {@linkcode saveModel}. */
export interface SaveModelOptions {
  /** Stored as `userDefinedMetadata` (class names, input size, history, ...). */
  metadata?: ModelMetadata;
  /** Also save the optimizer's weights (tfjs `includeOptimizer`). Default `false`. */
  includeOptimizer?: boolean;
}

/** What {@linkcode saveModel} wrote. */
export interface SavedModelInfo {
  /** The model directory. */
  dir: string;
  /** Path of `model.json`. */
  modelJsonPath: string;
  /** Path of `weights.bin`. */
  weightsPath: string;
  /** Size of `weights.bin` in bytes. */
  weightBytes: number;
}

/** What {@linkcode loadModel} returns. */
export interface LoadedModel {
  /** The model, with its weights. */
  model: tf.LayersModel;
  /** `userDefinedMetadata` from `model.json`, or `{}`. */
  metadata: ModelMetadata;
  /** The `model.json` path or URL it was read from. */
  modelJsonPath: string;
}

const WEIGHTS_FILE = "weights.bin";
const MODEL_JSON = "model.json";

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Saves `model` as `dir/model.json` + `dir/weights.bin`. Nothing half-written is ever left
 * at `dir`: both files are written into a temporary directory beside it (`.<name>.<id>.tmp`),
 * flushed, and that directory is renamed into place. An existing `dir` is first renamed
 * aside and removed only after the new one is in place (so for an instant `dir` is absent,
 * never partial); a failure restores it.
 *
 * @example
 * ```ts
 * await saveModel(model, "outputs/baseline/model", { metadata: { classNames: ["cars", "planes"] } });
 * ```
 */
export async function saveModel(
  model: tf.LayersModel,
  dir: string,
  { metadata, includeOptimizer = false }: SaveModelOptions = {},
): Promise<SavedModelInfo> {
  const parent = dirname(resolve(dir));
  const name = basename(resolve(dir));
  const id = crypto.randomUUID().slice(0, 8);
  const tmp = join(parent, `.${name}.${id}.tmp`);
  const old = join(parent, `.${name}.${id}.old`);
  let weightBytes = 0;

  const handler: tf.io.IOHandler = {
    save: async (artifacts: tf.io.ModelArtifacts) => {
      if (!(artifacts.modelTopology instanceof Object)) {
        throw new ModelSaveError(
          `Cannot save ${dir}: the model has no JSON topology; only layers models are supported.`,
        );
      }
      const weights = artifacts.weightData == null
        ? new Uint8Array(0)
        : new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData));
      weightBytes = weights.byteLength;
      const userDefinedMetadata = {
        ...(artifacts.userDefinedMetadata ?? {}),
        ...(metadata ?? {}),
      };
      const modelJson: Record<string, unknown> = {
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{
          paths: [WEIGHTS_FILE],
          weights: artifacts.weightSpecs ?? [],
        }],
        format: artifacts.format ?? "layers-model",
        generatedBy: artifacts.generatedBy ??
          `TensorFlow.js tfjs-layers v${tf.version_layers}`,
        convertedBy: artifacts.convertedBy ?? null,
        userDefinedMetadata,
      };
      if (artifacts.trainingConfig != null) {
        modelJson.trainingConfig = artifacts.trainingConfig;
      }
      let text: string;
      try {
        text = JSON.stringify(modelJson);
      } catch (err) {
        throw new ModelSaveError(
          `Cannot save ${dir}: metadata is not JSON-serialisable (${describe(err)}); pass ` +
            `plain data.`,
          { cause: err },
        );
      }
      await Deno.mkdir(tmp);
      await writeSynced(join(tmp, MODEL_JSON), new TextEncoder().encode(text));
      await writeSynced(join(tmp, WEIGHTS_FILE), weights);
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: "JSON",
          modelTopologyBytes: text.length,
          weightDataBytes: weightBytes,
        },
      };
    },
  };

  try {
    await Deno.mkdir(parent, { recursive: true });
    await model.save(handler, { includeOptimizer });
    let moved = false;
    try {
      await Deno.rename(resolve(dir), old);
      moved = true;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    try {
      await Deno.rename(tmp, resolve(dir));
    } catch (err) {
      if (moved) await Deno.rename(old, resolve(dir)).catch(() => {});
      throw err;
    }
    if (moved) await Deno.remove(old, { recursive: true }).catch(() => {});
  } catch (err) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    if (err instanceof ModelSaveError) throw err;
    throw new ModelSaveError(
      `Cannot save the model to ${dir}: ${describe(err)}. Check that ${parent} is a writable ` +
        `directory (or choose another output directory); any previous model there is unchanged.`,
      { cause: err },
    );
  }
  return {
    dir,
    modelJsonPath: join(dir, MODEL_JSON),
    weightsPath: join(dir, WEIGHTS_FILE),
    weightBytes,
  };
}

async function writeSynced(path: string, bytes: Uint8Array): Promise<void> {
  const file = await Deno.open(path, { write: true, createNew: true });
  try {
    let written = 0;
    while (written < bytes.length) {
      written += await file.write(bytes.subarray(written));
    }
    await file.sync();
  } finally {
    file.close();
  }
}

/** Where a model's files are read from: a local directory or a base URL. */
interface ModelLocation {
  modelJsonPath: string;
  readText(): Promise<string>;
  readShard(path: string): Promise<Uint8Array>;
}

function isUrl(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

async function locate(source: string): Promise<ModelLocation> {
  if (isUrl(source)) {
    const url = source.endsWith(".json")
      ? new URL(source)
      : new URL(MODEL_JSON, source.endsWith("/") ? source : source + "/");
    const get = async (u: URL, what: string): Promise<Response> => {
      let res: Response;
      try {
        res = await fetch(u);
      } catch (err) {
        throw new ModelLoadError(
          `Cannot fetch ${what} ${u.href}: ${describe(err)}. Check the URL and the network, ` +
            `or download the model and pass its directory.`,
          { cause: err },
        );
      }
      if (!res.ok) {
        await res.body?.cancel();
        throw new ModelLoadError(
          `Cannot fetch ${what} ${u.href}: HTTP ${res.status} ${res.statusText}. Check the URL; ` +
            `it should point at a model.json (with its weight files beside it) or its folder.`,
        );
      }
      return res;
    };
    const folder = new URL(".", url);
    return {
      modelJsonPath: url.href,
      readText: async () => await (await get(url, "model file")).text(),
      readShard: async (path) => {
        const shard = new URL(path, url);
        if (shard.origin !== folder.origin || !shard.pathname.startsWith(folder.pathname)) {
          throw outsideFolder(url.href, path, folder.href);
        }
        return new Uint8Array(await (await get(shard, "weight shard")).arrayBuffer());
      },
    };
  }

  let modelJsonPath = source;
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(source);
  } catch (err) {
    throw new ModelLoadError(
      `No model at ${source}: ${describe(err)}. Pass a directory holding model.json and its ` +
        `weight files, a path to a model.json, or an http(s) URL.`,
      { cause: err },
    );
  }
  if (stat.isDirectory) {
    modelJsonPath = join(source, MODEL_JSON);
    try {
      await Deno.stat(modelJsonPath);
    } catch {
      throw new ModelLoadError(
        `Directory ${source} has no ${MODEL_JSON}. Expected a TensorFlow.js layers model: ` +
          `model.json plus the weight files its weightsManifest lists (e.g. weights.bin), as ` +
          `written by saveModel or the tensorflowjs converter.`,
      );
    }
  }
  const dir = dirname(modelJsonPath);
  return {
    modelJsonPath,
    readText: () => Deno.readTextFile(modelJsonPath),
    readShard: async (path) => {
      const shard = join(dir, path);
      // Lexically, then after links: a model.json must not make us read /etc/passwd.
      if (isAbsolute(path) || !inside(resolve(dir), resolve(shard))) {
        throw outsideFolder(modelJsonPath, path, dir);
      }
      try {
        const [realDir, realShard] = [await Deno.realPath(dir), await Deno.realPath(shard)];
        if (!inside(realDir, realShard)) throw outsideFolder(modelJsonPath, path, dir);
      } catch (err) {
        if (err instanceof ModelLoadError) throw err;
        // missing: reported by the read below
      }
      try {
        return await Deno.readFile(shard);
      } catch (err) {
        throw new ModelLoadError(
          `Weight shard ${shard} listed in ${modelJsonPath} cannot be read (${
            describe(err)
          }). The model is incomplete: copy or download all its files again.`,
          { cause: err },
        );
      }
    },
  };
}

function inside(folder: string, path: string): boolean {
  const rel = relative(folder, path);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel);
}

function outsideFolder(modelJson: string, path: string, folder: string): ModelLoadError {
  return new ModelLoadError(
    `${modelJson} lists the weight file "${path}", which lies outside the model folder ` +
      `${folder}; it was not read. Weight paths in weightsManifest must be relative and inside ` +
      `the model's folder (e.g. "weights.bin"): use the model's original model.json.`,
  );
}

/**
 * Loads a layers model saved by {@linkcode saveModel}, by the tensorflowjs converter or by
 * tfjs' own `model.save`: from a directory holding `model.json`, a `model.json` path, or an
 * `http(s)://` URL (of the `model.json` or its folder). Reads all shards of all weight groups.
 *
 * Throws {@linkcode ModelLoadError} for a missing `model.json`, a missing shard (named), a
 * `model.json` that is not valid JSON or has no `modelTopology`, or shards whose size does not
 * match the manifest.
 *
 * @example
 * ```ts
 * const { model, metadata } = await loadModel("outputs/baseline/model");
 * ```
 */
export async function loadModel(source: string): Promise<LoadedModel> {
  const where = await locate(source);
  const { modelJsonPath } = where;
  const text = await where.readText().catch((err) => {
    if (err instanceof ModelLoadError) throw err;
    throw new ModelLoadError(
      `Cannot read ${modelJsonPath}: ${describe(err)}.`,
      { cause: err },
    );
  });
  let modelJson: tf.io.ModelJSON;
  try {
    modelJson = JSON.parse(text);
  } catch (err) {
    throw new ModelLoadError(
      `${modelJsonPath} is not valid JSON (${
        describe(err)
      }); the file is corrupt or truncated. Save or download the model again.`,
      { cause: err },
    );
  }
  if (
    modelJson === null || typeof modelJson !== "object" ||
    typeof modelJson.modelTopology !== "object" ||
    modelJson.modelTopology === null
  ) {
    throw new ModelLoadError(
      `${modelJsonPath} has no modelTopology; it is not a TensorFlow.js layers model. Save ` +
        `the model with saveModel or convert it with the tensorflowjs converter.`,
    );
  }
  const manifest = modelJson.weightsManifest ?? [];
  if (!Array.isArray(manifest)) {
    throw new ModelLoadError(
      `${modelJsonPath}: weightsManifest is not a list of weight groups; the file is corrupt.`,
    );
  }

  const loadWeights = async (
    groups: tf.io.WeightsManifestConfig,
  ): Promise<[tf.io.WeightsManifestEntry[], ArrayBuffer]> => {
    const shards: Uint8Array[] = [];
    for (const group of groups) {
      for (const path of group.paths) shards.push(await where.readShard(path));
    }
    const total = shards.reduce((n, s) => n + s.byteLength, 0);
    const specs = tf.io.getWeightSpecs(groups);
    const expected = specs.reduce((n, s) => n + specBytes(s), 0);
    if (!Number.isNaN(expected) && expected !== total) {
      throw new ModelLoadError(
        `The weight shards of ${modelJsonPath} hold ${total} bytes but its weightsManifest ` +
          `describes ${expected}; a shard is truncated or from another model. Copy or ` +
          `download the model's files again.`,
      );
    }
    const data = new Uint8Array(total);
    let offset = 0;
    for (const shard of shards) {
      data.set(shard, offset);
      offset += shard.byteLength;
    }
    return [specs, data.buffer];
  };

  let artifacts: tf.io.ModelArtifacts;
  try {
    artifacts = await tf.io.getModelArtifactsForJSON(modelJson, loadWeights);
  } catch (err) {
    if (err instanceof ModelLoadError) throw err;
    throw new ModelLoadError(
      `Cannot read the weights of ${modelJsonPath}: ${describe(err)}.`,
      { cause: err },
    );
  }
  let model: tf.LayersModel;
  try {
    model = await tf.loadLayersModel({ load: () => Promise.resolve(artifacts) });
  } catch (err) {
    throw new ModelLoadError(
      `Cannot build the model in ${modelJsonPath}: ${describe(err)}. If it names an unknown ` +
        `layer class, import the module that registers it before loading; otherwise the file ` +
        `was not written by a compatible TensorFlow.js / Keras version.`,
      { cause: err },
    );
  }
  return {
    model,
    metadata: (modelJson.userDefinedMetadata ?? {}) as ModelMetadata,
    modelJsonPath,
  };
}

const DTYPE_BYTES: Record<string, number> = {
  float32: 4,
  int32: 4,
  bool: 1,
  uint8: 1,
  uint16: 2,
  float16: 2,
};

/** Bytes a manifest entry occupies in the shards (honouring quantization). */
function specBytes(spec: tf.io.WeightsManifestEntry): number {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  if (spec.quantization) {
    return size * (DTYPE_BYTES[spec.quantization.dtype] ?? 4);
  }
  if (spec.dtype === "string") return NaN;
  return size * (DTYPE_BYTES[spec.dtype] ?? 4);
}
