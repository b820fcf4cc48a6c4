/**
 * Writes HDF5 weight files in the exact layout Keras (through h5py) writes with
 * `model.save_weights("x.h5")`: root attributes `layer_names` (fixed-length byte strings),
 * `backend` and `keras_version`; one group per layer with the attribute `weight_names`
 * (an empty float64 array for layers without weights, as h5py stores `np.asarray([])`); and
 * each weight as a float32 dataset at `<layer>/<weight name>`, e.g.
 * `block1_conv1/block1_conv1/kernel:0`.
 *
 * Not a test file itself (no `_test` suffix).
 *
 * @module
 */
import h5wasm from "h5wasm/node";

/** One weight to write. */
export interface WeightSpec {
  name: string;
  shape: number[];
  values: Float32Array;
}

/** One layer to write (`weights` empty for pooling and input layers). */
export interface LayerSpec {
  name: string;
  weights: WeightSpec[];
}

/** Options of {@link writeKerasH5}. */
export interface WriteKerasH5Options {
  kerasVersion?: string;
  backend?: string;
  /** Create the datasets in reverse order (their listing order then differs further). */
  reverseDatasets?: boolean;
  /** Split `layer_names` into `layer_names0`, `layer_names1` (as Keras does above 64 KB). */
  chunkLayerNames?: boolean;
  /** Put everything under `model_weights`, as in a whole-model `model.save("x.h5")` file. */
  underModelWeights?: boolean;
  /** Leave out `backend` and `keras_version`, as Keras 1 files (the VGG16 notop file) do. */
  noVersionAttrs?: boolean;
}

function fixedStrings(values: string[]): { data: string[]; dtype: string } {
  const len = Math.max(1, ...values.map((v) => new TextEncoder().encode(v).length));
  return { data: values, dtype: `S${len}` };
}

/** Writes a Keras-layout HDF5 weights file. */
export async function writeKerasH5(
  file: string,
  layers: LayerSpec[],
  opts: WriteKerasH5Options = {},
): Promise<void> {
  const module = await h5wasm.ready;
  module.activate_throwing_error_handler();
  const f = new h5wasm.File(file, "w");
  try {
    const root = opts.underModelWeights ? f.create_group("model_weights") : f;
    const names = fixedStrings(layers.map((l) => l.name));
    if (opts.chunkLayerNames) {
      const half = Math.ceil(layers.length / 2);
      const a = fixedStrings(names.data.slice(0, half));
      const b = fixedStrings(names.data.slice(half));
      root.create_attribute("layer_names0", a.data, [a.data.length], a.dtype);
      root.create_attribute("layer_names1", b.data, [b.data.length], b.dtype);
    } else {
      root.create_attribute("layer_names", names.data, [names.data.length], names.dtype);
    }
    if (!opts.noVersionAttrs) {
      const backend = opts.backend ?? "tensorflow";
      const version = opts.kerasVersion ?? "2.4.0";
      root.create_attribute("backend", backend, [], `S${backend.length}`);
      root.create_attribute("keras_version", version, [], `S${version.length}`);
    }
    for (const layer of layers) {
      const g = root.create_group(layer.name);
      if (layer.weights.length === 0) {
        g.create_attribute("weight_names", new Float64Array(0), [0], "<d");
        continue;
      }
      const wn = fixedStrings(layer.weights.map((w) => w.name));
      g.create_attribute("weight_names", wn.data, [wn.data.length], wn.dtype);
      const order = opts.reverseDatasets ? [...layer.weights].reverse() : layer.weights;
      for (const w of order) {
        const parts = w.name.split("/");
        let parent = g;
        for (const part of parts.slice(0, -1)) {
          const existing = parent.get(part);
          parent = existing instanceof h5wasm.Group ? existing : parent.create_group(part);
        }
        parent.create_dataset({
          name: parts.at(-1)!,
          data: w.values,
          shape: w.shape,
          dtype: "<f",
        });
      }
    }
  } finally {
    f.close();
  }
}

/** Deterministic pseudo-random float32 values in [-1, 1) (xorshift32). */
export function randomValues(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = s / 2147483648 - 1;
  }
  return out;
}

/** Conv2D weights `<layer>/kernel:0` [k, k, cin, cout] and `<layer>/bias:0` [cout]. */
export function convLayer(
  name: string,
  k: number,
  cin: number,
  cout: number,
  seed: number,
): LayerSpec {
  return {
    name,
    weights: [
      {
        name: `${name}/kernel:0`,
        shape: [k, k, cin, cout],
        values: randomValues(k * k * cin * cout, seed),
      },
      { name: `${name}/bias:0`, shape: [cout], values: randomValues(cout, seed + 1) },
    ],
  };
}

/** The layers of `keras.applications.VGG16(include_top=False)` with random weights. */
export function vgg16NotopLayers(): LayerSpec[] {
  const blocks: [number, number][] = [[64, 2], [128, 2], [256, 3], [512, 3], [512, 3]];
  const layers: LayerSpec[] = [{ name: "input_1", weights: [] }];
  let cin = 3;
  blocks.forEach(([filters, convs], b) => {
    for (let i = 1; i <= convs; i++) {
      layers.push(convLayer(`block${b + 1}_conv${i}`, 3, cin, filters, 100 * (b + 1) + i));
      cin = filters;
    }
    layers.push({ name: `block${b + 1}_pool`, weights: [] });
  });
  return layers;
}
