/**
 * Reading Keras HDF5 weight files (`model.save_weights("x.h5")`, and the files behind
 * `keras.applications`) and loading them into a TensorFlow.js model the way Keras'
 * `load_weights` does.
 *
 * The layout Keras (h5py) writes, and that is read here exactly as Keras'
 * `hdf5_format.load_weights_from_hdf5_group` reads it:
 *
 * - the root (or the `model_weights` group of a whole-model file) has the attribute
 *   `layer_names`: the model's layers, in order (possibly split into `layer_names0`,
 *   `layer_names1`, ... when large);
 * - each layer's group has the attribute `weight_names`, e.g. `block1_conv1/kernel:0`,
 *   `block1_conv1/bias:0`: the order of the weights comes from this attribute, not from the
 *   datasets' names (HDF5 lists those alphabetically);
 * - each weight is the dataset at `<layer>/<weight name>`.
 *
 * HDF5 is read with h5wasm (the HDF5 C library compiled to WebAssembly). Under Deno its Node
 * build (`h5wasm/node`, Emscripten NODERAWFS) works: it reads the file straight from disk.
 *
 * @module
 */
import * as path from "node:path";
import h5wasm from "h5wasm/node";
import type * as tf from "@tensorflow/tfjs";
import { tensor } from "@tensorflow/tfjs";
import { CarplaneError } from "../errors.ts";

/** A weights file is missing, not a Keras HDF5 file, or does not fit the model. */
export class WeightsError extends CarplaneError {
  /** Weights that cannot be read are unavailable: an optional step may skip them. */
  override readonly unavailable = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "WeightsError";
  }
}

/** One weight array read from a Keras HDF5 file. */
export interface KerasH5Weight {
  /** The name from `weight_names`, e.g. `block1_conv1/kernel:0`. */
  name: string;
  shape: number[];
  /** Row-major values (converted to float32 if stored as float64). */
  values: Float32Array;
}

/** One layer with weights, in the file's order. */
export interface KerasH5Layer {
  name: string;
  weights: KerasH5Weight[];
}

/** The contents of a Keras HDF5 weights file. */
export interface KerasH5Weights {
  /** The file read (absolute). */
  path: string;
  /** Root attribute `keras_version`, when present. */
  kerasVersion?: string;
  /** Root attribute `backend`, when present. */
  backend?: string;
  /** Every name of `layer_names`, in order, including layers without weights. */
  layerNames: string[];
  /** The layers that have weights, in `layer_names` order (the list Keras loads from). */
  layers: KerasH5Layer[];
}

/** Options of {@link readKerasH5Weights}. */
export interface ReadKerasH5Options {
  /** Appended to error messages: where to get the right file. */
  hint?: string;
}

/** Options of {@link loadKerasH5IntoModel}. */
export interface LoadKerasH5Options extends ReadKerasH5Options {
  /**
   * `false` (default): Keras' default — the file's layers with weights are matched, in order,
   * to the model's layers with weights, and their counts must agree. `true`: Keras'
   * `by_name=True` — each file layer goes to the model layer of the same name.
   */
  byName?: boolean;
  /**
   * In order mode, also require the k-th model layer to have the k-th file layer's name
   * (default true; Keras itself does not check, so `false` reproduces it exactly).
   */
  checkNames?: boolean;
  /**
   * Skip (and report) weights whose count or shape does not match instead of failing, like
   * Keras' `skip_mismatch`; in by-name mode, also model layers missing from the file.
   */
  skipMismatch?: boolean;
  /** Where notes about skipped weights go (default: stderr). */
  log?: (message: string) => void;
}

/** What {@link loadKerasH5IntoModel} did. */
export interface LoadReport {
  /** The weights file. */
  path: string;
  /** Model layer name -> file layer name, for each layer whose weights were set. */
  loaded: { layer: string; fileLayer: string; weights: number }[];
  /** What was skipped (only with `skipMismatch`). */
  skipped: { layer: string; reason: string }[];
}

const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

const DEFAULT_HINT = 'Use a file written by Keras\' model.save_weights("file.h5"), ' +
  "or download the weights again.";

type H5Group = InstanceType<typeof h5wasm.Group>;
type H5File = InstanceType<typeof h5wasm.File>;

/** Loads h5wasm (once per process, by the module system) with errors thrown, not printed. */
async function h5(): Promise<typeof h5wasm> {
  const module = await h5wasm.ready;
  module.activate_throwing_error_handler();
  return h5wasm;
}

/** Where HDF5 looks for its signature: offset 0, 512, 1024, 2048, ... */
async function hasHdf5Signature(file: string, size: number): Promise<boolean> {
  const f = await Deno.open(file, { read: true });
  try {
    const buf = new Uint8Array(8);
    for (let offset = 0; offset + 8 <= size; offset = offset === 0 ? 512 : offset * 2) {
      await f.seek(offset, Deno.SeekMode.Start);
      let filled = 0;
      while (filled < 8) {
        const n = await f.read(buf.subarray(filled));
        if (n === null) break;
        filled += n;
      }
      if (filled === 8 && HDF5_SIGNATURE.every((b, i) => buf[i] === b)) return true;
    }
    return false;
  } finally {
    f.close();
  }
}

function firstHdf5Line(e: unknown): string {
  const text = String((e as Error)?.message ?? e);
  const minor = [...text.matchAll(/minor: ([^\n]+)/g)].map((m) => m[1].trim());
  const last = text.split("\n").map((l) => l.trim()).filter((l) => /\): /.test(l)).pop();
  const detail = last ? last.replace(/^.*?\): /, "") : text.split("\n")[0];
  return minor.length ? `${detail}; ${minor.at(-1)}` : detail;
}

/** An attribute as a list of strings (Keras stores name lists as fixed-length byte strings). */
function stringList(value: unknown): string[] {
  if (value === null || value === undefined) return [];
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flat(Infinity).map((v) => String(v).replace(/\0+$/, ""));
  if (ArrayBuffer.isView(value)) {
    const arr = value as unknown as ArrayLike<number>;
    if (arr.length === 0) return [];
    if (value instanceof Uint8Array) return [new TextDecoder().decode(value).replace(/\0+$/, "")];
  }
  return [String(value)];
}

/** Keras' `load_attributes_from_hdf5_group`: `name`, or the chunks `name0`, `name1`, .... */
function loadNameList(group: H5Group, name: string): string[] | undefined {
  const attrs = group.attrs;
  if (name in attrs) return stringList(attrs[name].value);
  if (!(`${name}0` in attrs)) return undefined;
  const out: string[] = [];
  for (let i = 0; `${name}${i}` in attrs; i++) out.push(...stringList(attrs[`${name}${i}`].value));
  return out;
}

function scalarString(group: H5Group, name: string): string | undefined {
  if (!(name in group.attrs)) return undefined;
  const list = stringList(group.attrs[name].value);
  return list.length ? list[0] : undefined;
}

/**
 * Reads a Keras HDF5 weights file: the layers that have weights, in the order of the root
 * attribute `layer_names`, each with its weights in the order of its `weight_names` attribute.
 * Throws a {@link WeightsError} for a missing, truncated or non-HDF5 file, or an HDF5 file
 * without Keras' layout.
 *
 * @example
 * ```ts
 * import { readKerasH5Weights } from "./keras_h5.ts";
 * const file = await readKerasH5Weights("vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5");
 * console.log(file.layers[0].name, file.layers[0].weights.map((w) => w.shape)); // block1_conv1 [[3,3,3,64],[64]]
 * ```
 */
export async function readKerasH5Weights(
  file: string,
  opts: ReadKerasH5Options = {},
): Promise<KerasH5Weights> {
  const abs = path.resolve(file);
  const hint = opts.hint ?? DEFAULT_HINT;
  let size: number;
  try {
    const stat = await Deno.stat(abs);
    if (!stat.isFile) throw new Error("not a file");
    size = stat.size;
  } catch {
    throw new WeightsError(`The weights file ${abs} does not exist. ${hint}`);
  }
  if (!(await hasHdf5Signature(abs, size))) {
    throw new WeightsError(
      `${abs} is not a valid HDF5 / Keras weights file (no HDF5 signature; ${size} bytes). ` +
        `It may be an error page or a file in another format. ${hint}`,
    );
  }
  const lib = await h5();
  let f: H5File;
  try {
    f = new lib.File(abs, "r");
  } catch (e) {
    throw new WeightsError(
      `${abs} is not a valid HDF5 / Keras weights file: HDF5 cannot open it ` +
        `(${firstHdf5Line(e)}); it is probably truncated or corrupt. ${hint}`,
      { cause: e },
    );
  }
  try {
    let root: H5Group = f;
    if (!("layer_names" in f.attrs) && !("layer_names0" in f.attrs)) {
      const mw = f.get("model_weights");
      if (mw instanceof lib.Group) root = mw;
    }
    const layerNames = loadNameList(root, "layer_names");
    if (!layerNames) {
      throw new WeightsError(
        `${abs} is an HDF5 file but not a Keras weights file: it has no "layer_names" ` +
          `attribute (top-level entries: ${f.keys().slice(0, 10).join(", ") || "none"}). ${hint}`,
      );
    }
    const layers: KerasH5Layer[] = [];
    for (const layerName of layerNames) {
      const group = root.get(layerName);
      if (!(group instanceof lib.Group)) {
        throw new WeightsError(
          `${abs} lists layer "${layerName}" in layer_names but has no group for it; ` +
            `the file is damaged. ${hint}`,
        );
      }
      const weightNames = loadNameList(group, "weight_names") ?? [];
      if (weightNames.length === 0) continue;
      const weights: KerasH5Weight[] = [];
      for (const weightName of weightNames) {
        let dataset: unknown;
        try {
          dataset = group.get(weightName);
        } catch (e) {
          throw new WeightsError(
            `Cannot read weight "${weightName}" of layer "${layerName}" in ${abs} ` +
              `(${firstHdf5Line(e)}); the file is damaged. ${hint}`,
            { cause: e },
          );
        }
        if (!(dataset instanceof lib.Dataset)) {
          throw new WeightsError(
            `${abs}: layer "${layerName}" lists weight "${weightName}" but has no dataset ` +
              `"${layerName}/${weightName}"; the file is damaged. ${hint}`,
          );
        }
        let raw: unknown;
        try {
          raw = dataset.value;
        } catch (e) {
          throw new WeightsError(
            `Cannot read weight "${weightName}" of layer "${layerName}" in ${abs} ` +
              `(${firstHdf5Line(e)}); the file is truncated or damaged. ${hint}`,
            { cause: e },
          );
        }
        let values: Float32Array;
        if (raw instanceof Float32Array) values = raw;
        else if (raw instanceof Float64Array) values = Float32Array.from(raw);
        else if (typeof raw === "number") values = Float32Array.of(raw);
        else {
          throw new WeightsError(
            `Weight "${weightName}" of layer "${layerName}" in ${abs} has type ` +
              `${JSON.stringify(dataset.dtype)}, not float32/float64; it cannot be loaded.`,
          );
        }
        const shape = [...(dataset.shape ?? [])];
        const expected = shape.reduce((a, b) => a * b, 1);
        if (values.length !== expected) {
          throw new WeightsError(
            `Weight "${weightName}" of layer "${layerName}" in ${abs} holds ${values.length} ` +
              `values for shape [${shape.join(", ")}]; the file is damaged. ${hint}`,
          );
        }
        weights.push({ name: weightName, shape, values });
      }
      layers.push({ name: layerName, weights });
    }
    const kerasVersion = scalarString(f, "keras_version") ?? scalarString(root, "keras_version");
    const backend = scalarString(f, "backend") ?? scalarString(root, "backend");
    return { path: abs, kerasVersion, backend, layerNames, layers };
  } catch (e) {
    if (e instanceof WeightsError) throw e;
    throw new WeightsError(
      `Cannot read ${abs} as a Keras weights file (${firstHdf5Line(e)}). ${hint}`,
      { cause: e },
    );
  } finally {
    try {
      f.close();
    } catch {
      // already closed
    }
  }
}

function shapeText(shape: readonly (number | null)[]): string {
  return `[${shape.join(", ")}]`;
}

function sameShape(a: readonly (number | null)[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * Loads a Keras HDF5 weights file into a TensorFlow.js model, as Keras' `load_weights` does:
 * by default the file's layers with weights are matched in order to the model's layers with
 * weights (counts must agree; names are checked too unless `checkNames: false`), or by name with
 * `byName: true`. Every shape is checked before anything is set, so a failed load leaves the
 * model unchanged. Errors are {@link WeightsError}s naming the layer, the weight and both shapes.
 *
 * @example
 * ```ts
 * import { loadKerasH5IntoModel } from "./keras_h5.ts";
 * import { buildVgg16Architecture } from "./vgg16.ts";
 * const model = buildVgg16Architecture([64, 64, 3]);
 * const report = await loadKerasH5IntoModel(model, "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5");
 * console.log(`${report.loaded.length} layers loaded from ${report.path}`);
 * ```
 */
export async function loadKerasH5IntoModel(
  model: tf.LayersModel,
  weights: string | KerasH5Weights,
  opts: LoadKerasH5Options = {},
): Promise<LoadReport> {
  const file = typeof weights === "string" ? await readKerasH5Weights(weights, opts) : weights;
  const hint = opts.hint ?? DEFAULT_HINT;
  const log = opts.log ?? ((m: string) => console.error(m));
  const skipMismatch = opts.skipMismatch ?? false;
  if (file.backend && file.backend !== "tensorflow") {
    throw new WeightsError(
      `${file.path} was saved with the "${file.backend}" Keras backend; only TensorFlow ` +
        `(channels-last) kernels can be loaded. ${hint}`,
    );
  }
  const report: LoadReport = { path: file.path, loaded: [], skipped: [] };
  const plan: {
    layer: tf.layers.Layer;
    fileLayer: KerasH5Layer;
    values: (KerasH5Weight | null)[];
  }[] = [];

  /** Checks one model layer against one file layer; returns the weights to set (null = keep). */
  const match = (layer: tf.layers.Layer, fileLayer: KerasH5Layer, k: number) => {
    const symbolic = layer.weights;
    const where = `layer #${k} "${layer.name}" (file layer "${fileLayer.name}" in ${file.path})`;
    if (symbolic.length !== fileLayer.weights.length) {
      const why = `Weight count mismatch for ${where}: the model's layer has ` +
        `${symbolic.length} weight(s) (${symbolic.map((w) => w.originalName).join(", ")}), ` +
        `the file has ${fileLayer.weights.length} (${
          fileLayer.weights.map((w) => w.name).join(", ")
        }).`;
      if (!skipMismatch) throw new WeightsError(`${why} ${hint}`);
      report.skipped.push({ layer: layer.name, reason: why });
      log(`Skipping ${why}`);
      return;
    }
    const values: (KerasH5Weight | null)[] = [];
    symbolic.forEach((w, i) => {
      const saved = fileLayer.weights[i];
      if (sameShape(w.shape, saved.shape)) {
        values.push(saved);
        return;
      }
      const why = `Shape mismatch for weight "${saved.name}" of layer "${layer.name}" ` +
        `(file layer "${fileLayer.name}" in ${file.path}): the file has ` +
        `${shapeText(saved.shape)}, the model's ${w.originalName} expects ${shapeText(w.shape)}.`;
      if (!skipMismatch) throw new WeightsError(`${why} ${hint}`);
      report.skipped.push({ layer: layer.name, reason: why });
      log(`Skipping ${why}`);
      values.push(null);
    });
    plan.push({ layer, fileLayer, values });
  };

  const modelLayers = model.layers.filter((l) => l.weights.length > 0);
  if (!opts.byName) {
    if (modelLayers.length !== file.layers.length) {
      const inFile = new Set(file.layers.map((l) => l.name));
      const inModel = new Set(modelLayers.map((l) => l.name));
      const missing = modelLayers.filter((l) => !inFile.has(l.name)).map((l) => l.name);
      const extra = file.layers.filter((l) => !inModel.has(l.name)).map((l) => l.name);
      throw new WeightsError(
        `Layer count mismatch loading ${file.path}: the model "${model.name}" has ` +
          `${modelLayers.length} layers with weights, the file has ${file.layers.length}.` +
          (missing.length ? ` Missing from the file: ${missing.join(", ")}.` : "") +
          (extra.length ? ` In the file but not in the model: ${extra.join(", ")}.` : "") +
          ` ${hint}`,
      );
    }
    modelLayers.forEach((layer, k) => {
      const fileLayer = file.layers[k];
      if ((opts.checkNames ?? true) && layer.name !== fileLayer.name) {
        throw new WeightsError(
          `Layer #${k} is "${layer.name}" in the model but "${fileLayer.name}" in ` +
            `${file.path}: the file is for another architecture. ${hint}`,
        );
      }
      match(layer, fileLayer, k);
    });
  } else {
    const byName = new Map(file.layers.map((l, k) => [l.name, { l, k }] as const));
    const missing: string[] = [];
    for (const layer of modelLayers) {
      const found = byName.get(layer.name);
      if (!found) missing.push(layer.name);
      else match(layer, found.l, found.k);
    }
    if (missing.length > 0) {
      const why = `${missing.length === 1 ? "Layer" : "Layers"} ${missing.join(", ")} of the ` +
        `model ${missing.length === 1 ? "is" : "are"} not in ${file.path} ` +
        `(it has: ${file.layers.map((l) => l.name).join(", ") || "no layers with weights"}).`;
      if (!skipMismatch) throw new WeightsError(`${why} ${hint}`);
      for (const name of missing) report.skipped.push({ layer: name, reason: why });
      log(`Skipping: ${why}`);
    }
  }

  for (const { layer, fileLayer, values } of plan) {
    const created = values.map((v) => v ? tensor(v.values, v.shape, "float32") : null);
    try {
      // A skipped weight keeps its current value (read() is the variable itself: not disposed).
      layer.setWeights(created.map((t, i) => t ?? layer.weights[i].read()));
    } finally {
      for (const t of created) t?.dispose();
    }
    report.loaded.push({
      layer: layer.name,
      fileLayer: fileLayer.name,
      weights: values.filter((v) => v).length,
    });
  }
  return report;
}
