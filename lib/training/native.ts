/**
 * tfjs-node under Deno: the one module that imports `@tensorflow/tfjs-node` (the main thread
 * through {@linkcode initBackend}, and every data-parallel Worker through the same function).
 *
 * Three things happen before the import, and one after:
 * 1. `util.isNullOrUndefined` is defined when missing. tfjs-node 4.22 calls it for every op
 *    with a dtype attribute, and Deno's `node:util` (like Node 23+) no longer has it: without
 *    it the first op fails with `(0 , util_1.isNullOrUndefined) is not a function`.
 * 2. The addon is looked for where tfjs-node loads it, so that a missing one is reported in
 *    plain words ("run deno task setup-native") instead of node-pre-gyp's npm advice.
 * 3. TensorFlow's thread pools are sized as Keras' anchor sizes them (one inter-op thread,
 *    every core intra-op), unless `TF_NUM_INTEROP_THREADS` / `TF_NUM_INTRAOP_THREADS` are set:
 *    measured on 2 cores, 225-238 against 170-177 images/s for the baseline's training step.
 * 4. After the import, two gradients get faster kernels ({@linkcode registerFasterNodeKernels}):
 *    ReLU's runs as TensorFlow's one `ReluGrad` op instead of tfjs-node's eight full-size ones,
 *    and max pooling's on oneDNN instead of Eigen. CPU time of the baseline's training step
 *    (batch 32, 4 alternating rounds of 6 steps in one process, 2 busy cores): 151-191 ms
 *    upstream, 101-140 with the ReLU change, then 78-92 with oneDNN pooling (112-129 without).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { createRequire } from "node:module";
import process from "node:process";
import util from "node:util";
import { dirname, join } from "node:path";

/** Where tfjs-node loads its native addon from, and what this project's setup noted there. */
export interface NativeAddonPlace {
  /** tfjs-node's package folder. */
  packageDir: string;
  /** tfjs-node's version. */
  version: string;
  /** The Node-API version the addon is built for: the highest tfjs-node lists that Deno has. */
  napiVersion: number;
  /** `lib/napi-v{N}/tfjs_binding.node` in the package folder. */
  addonPath: string;
  /** `carplane-native.json` beside it, written by `deno task setup-native`. */
  notePath: string;
}

/**
 * Where tfjs-node (as this project resolves it) loads its addon from: node-pre-gyp's
 * `binary.module_path` with the highest `napi_versions` entry this runtime supports.
 *
 * @example
 * ```ts
 * nativeAddonPlace().addonPath; // ".../@tensorflow/tfjs-node/lib/napi-v8/tfjs_binding.node"
 * ```
 */
export function nativeAddonPlace(): NativeAddonPlace {
  const packageJson = createRequire(import.meta.url).resolve("@tensorflow/tfjs-node/package.json");
  const packageDir = dirname(packageJson);
  const meta = JSON.parse(Deno.readTextFileSync(packageJson)) as {
    version: string;
    binary: { module_path: string; module_name: string; napi_versions: number[] };
  };
  const runtime = Number(process.versions.napi ?? 0);
  const napiVersion = Math.max(0, ...meta.binary.napi_versions.filter((v) => v <= runtime));
  const moduleDir = join(
    packageDir,
    meta.binary.module_path.replace("{napi_build_version}", String(napiVersion)),
  );
  return {
    packageDir,
    version: meta.version,
    napiVersion,
    addonPath: join(moduleDir, `${meta.binary.module_name}.node`),
    notePath: join(moduleDir, "carplane-native.json"),
  };
}

/**
 * Defines `util.isNullOrUndefined` (removed from Node 23 and absent from Deno's `node:util`)
 * when it is missing; tfjs-node 4.22 needs it. Safe to call more than once.
 *
 * @example
 * ```ts
 * installNodeUtilShim();
 * await import("@tensorflow/tfjs-node");
 * ```
 */
export function installNodeUtilShim(): void {
  const u = util as unknown as Record<string, unknown>;
  if (typeof u.isNullOrUndefined !== "function") {
    u.isNullOrUndefined = (value: unknown) => value === null || value === undefined;
  }
}

/**
 * Sets TensorFlow's defaults for this project unless the user set them: quiet C++ logging
 * (warnings and errors only), one inter-op thread and every core for intra-op work, as the
 * Keras anchor runs. Must run before libtensorflow loads.
 *
 * @example
 * ```ts
 * setNativeThreadDefaults();
 * Deno.env.get("TF_NUM_INTEROP_THREADS"); // "1"
 * ```
 */
export function setNativeThreadDefaults(cores = navigator.hardwareConcurrency ?? 2): void {
  const defaults: Record<string, string> = {
    TF_CPP_MIN_LOG_LEVEL: "2",
    TF_NUM_INTEROP_THREADS: "1",
    TF_NUM_INTRAOP_THREADS: String(Math.max(1, cores)),
  };
  for (const [name, value] of Object.entries(defaults)) {
    if (Deno.env.get(name) === undefined) Deno.env.set(name, value);
  }
}

/**
 * Why tfjs-node's addon cannot load here, in plain words with the fix, or `null` when the file
 * is in place (whether it then loads is for the import to tell). `CARPLANE_NATIVE=off` in the
 * environment switches tfjs-node off (to run or test the zero-install wasm path on a machine
 * that has the addon).
 *
 * @example
 * ```ts
 * nativeAddonProblem();
 * // "tfjs-node's native addon is not set up in this checkout: run deno task setup-native (...)"
 * ```
 */
export function nativeAddonProblem(place: NativeAddonPlace = nativeAddonPlace()): string | null {
  if ((Deno.env.get("CARPLANE_NATIVE") ?? "").toLowerCase() === "off") {
    return "tfjs-node is switched off here (CARPLANE_NATIVE=off)";
  }
  try {
    Deno.statSync(place.addonPath);
    return null;
  } catch {
    return "tfjs-node's native addon is not set up in this checkout: run deno task setup-native " +
      `(it looks for ${place.addonPath})`;
  }
}

/**
 * Turns an error from loading tfjs-node into one plain line with the fix.
 *
 * @example
 * ```ts
 * explainNativeLoadError(new Error("libtensorflow_cc.so.2: cannot open shared object file"));
 * // "tfjs-node's addon cannot find its libtensorflow (...): run deno task setup-native again"
 * ```
 */
export function explainNativeLoadError(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const first = text.split("\n")[0].slice(0, 240);
  if (/cannot open shared object file/.test(text)) {
    return `tfjs-node's addon cannot find its libtensorflow (${first}): the library it was ` +
      "built against has moved or been removed; run deno task setup-native again";
  }
  if (/undefined symbol/.test(text)) {
    return `tfjs-node's addon does not match its libtensorflow (${first}): run ` +
      "deno task setup-native --force";
  }
  if (/isNullOrUndefined/.test(text)) {
    return `tfjs-node needs util.isNullOrUndefined, which Deno's node:util lacks (${first})`;
  }
  return first;
}

let loaded: Promise<void> | null = null;

/**
 * Loads tfjs-node once (shim, thread defaults, the import, the faster kernels), or throws an
 * Error whose message says in plain words why it cannot run here and what to do.
 *
 * @example
 * ```ts
 * await loadTfjsNode();
 * await tf.setBackend("tensorflow");
 * ```
 */
export function loadTfjsNode(): Promise<void> {
  loaded ??= (async () => {
    const problem = nativeAddonProblem();
    if (problem !== null) throw new Error(problem);
    installNodeUtilShim();
    setNativeThreadDefaults();
    try {
      await import("@tensorflow/tfjs-node");
    } catch (error) {
      throw new Error(explainNativeLoadError(error));
    }
    registerFasterNodeKernels();
  })();
  loaded.catch(() => {
    loaded = null;
  });
  return loaded;
}

interface NodeBackend {
  executeSingleInput(name: string, input: tf.Tensor): tf.Tensor;
  executeSingleOutput(name: string, attrs: unknown[], inputs: tf.Tensor[]): tf.Tensor;
  executeMultipleOutputs(
    name: string,
    attrs: unknown[],
    inputs: tf.Tensor[],
    outputs: number,
  ): tf.Tensor[];
  binding: {
    TF_ATTR_TYPE: number;
    TF_ATTR_INT: number;
    TF_ATTR_STRING: number;
    TF_ATTR_BOOL: number;
    TF_FLOAT: number;
  };
}

/** The kernel behind the ReLU gradient on tfjs-node: TensorFlow's own `ReluGrad`. */
const RELU_GRAD = "CarplaneReluGrad";

/**
 * Makes the ReLU gradient cheaper on tfjs-node, where it is most of a training step's
 * element-wise work (the article's first ReLU has 32x62x62x32 values):
 * - the ReLU gradient `dy * cast(step(x))` becomes TensorFlow's one `ReluGrad(dy, x)` op on the
 *   `tensorflow` backend (other backends keep tfjs' formula);
 * - max pooling's gradient runs on oneDNN (see `registerOneDnnMaxPoolGrad` below);
 * - a convolution's bias gradient (a sum over every axis but the channels of a 4-D tensor) runs
 *   as TensorFlow's `BiasAddGrad`: 2.4-2.8 ms of CPU against 7.3-8.8 ms for `Sum` on the
 *   article's first layer (32x62x62x32), the same sums to float32 rounding;
 * - tfjs-node's `Step` kernel (still used by fused layers' ReLU gradient) becomes
 *   `Sign(Relu(x))` for alpha 0: the same 0, 1 and NaN in two ops instead of six full-size
 *   ones (isNaN, greater, ones, fill, where, select).
 * Measured on the baseline's training step (batch 32, 2 cores, same process, 4 alternating
 * rounds of 6 steps, CPU ms per step): upstream 151-191, the Step change alone 119-151, both
 * 101-140.
 *
 * @example
 * ```ts
 * registerFasterNodeKernels();
 * ```
 */
export function registerFasterNodeKernels(): void {
  if (tf.getKernel(RELU_GRAD, "tensorflow") !== undefined) return;
  tf.registerKernel({
    kernelName: RELU_GRAD,
    backendName: "tensorflow",
    kernelFunc: (args) => {
      const { dy, x } = args.inputs as { dy: tf.Tensor; x: tf.Tensor };
      const backend = args.backend as unknown as NodeBackend;
      const type = {
        name: "T",
        type: backend.binding.TF_ATTR_TYPE,
        value: backend.binding.TF_FLOAT,
      };
      return backend.executeSingleOutput("ReluGrad", [type], [dy, x]) as unknown as tf.TensorInfo;
    },
  });
  tf.registerGradient({
    kernelName: "Relu",
    inputsToSave: ["x"],
    gradFunc: (dy, saved) => {
      const [x] = saved;
      const grad = dy as tf.Tensor;
      if (tf.getBackend() === "tensorflow" && x.dtype === "float32" && grad.dtype === "float32") {
        return { x: () => tf.engine().runKernel(RELU_GRAD, { dy: grad, x }) as tf.Tensor };
      }
      return { x: () => tf.mul(grad, tf.cast(tf.step(x), "float32")) };
    },
  });
  registerOneDnnMaxPoolGrad();
  registerBiasGradientSum();
  const upstream = tf.getKernel("Step", "tensorflow");
  if (upstream === undefined) return;
  tf.unregisterKernel("Step", "tensorflow");
  tf.registerKernel({
    kernelName: "Step",
    backendName: "tensorflow",
    kernelFunc: (args) => {
      const { x } = args.inputs as { x: tf.Tensor };
      const alpha = (args.attrs as { alpha?: number } | undefined)?.alpha ?? 0;
      if (alpha !== 0 || x.dtype !== "float32") return upstream.kernelFunc(args);
      const backend = args.backend as unknown as NodeBackend;
      const relu = backend.executeSingleInput("Relu", x);
      const sign = backend.executeSingleInput("Sign", relu);
      relu.dispose();
      return sign as unknown as tf.TensorInfo;
    },
  });
}

let oneDnn = false;

/**
 * Whether max-pooling gradients run on oneDNN on tfjs-node (false before the first one, or when
 * this libtensorflow lacks oneDNN's kernels).
 *
 * @example
 * ```ts
 * oneDnnMaxPoolGrad(); // true after a training step on node with TensorFlow 2.21's libtensorflow
 * ```
 */
export function oneDnnMaxPoolGrad(): boolean {
  return oneDnn && oneDnnUsed;
}

let oneDnnUsed = false;

/**
 * tfjs-node's `MaxPoolGrad` runs TensorFlow's eager `MaxPoolGrad`, Eigen's kernel: TensorFlow
 * rewrites it to oneDNN only in graphs (Keras' `tf.function`), not for eager ops. This runs the
 * oneDNN kernels by name (`_MklNativeMaxPool` for the workspace, then `_MklNativeMaxPoolGrad`,
 * with the `_kernel` label TensorFlow's own rewrite sets): identical gradients, about a third of
 * the CPU time (the article's first pool, 32x62x62x32: 13-16 ms against 38-45 ms, forward
 * recomputed included). A libtensorflow without oneDNN (or `TF_ENABLE_ONEDNN_OPTS=0`) makes the
 * first call fail; from then on tfjs-node's own kernel runs.
 */
function registerOneDnnMaxPoolGrad(): void {
  const upstream = tf.getKernel("MaxPoolGrad", "tensorflow");
  if (upstream === undefined) return;
  oneDnn = true;
  tf.unregisterKernel("MaxPoolGrad", "tensorflow");
  tf.registerKernel({
    kernelName: "MaxPoolGrad",
    backendName: "tensorflow",
    kernelFunc: (args) => {
      const { dy, input } = args.inputs as Record<string, tf.Tensor4D>;
      const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as {
        filterSize: [number, number] | number;
        strides: [number, number] | number;
        pad: "valid" | "same" | number;
        dimRoundingMode?: "floor" | "round" | "ceil";
      };
      const info = tf.backend_util.computePool2DInfo(
        input.shape,
        filterSize,
        strides,
        1,
        pad,
        dimRoundingMode,
      );
      const padding = info.padInfo.type;
      if (!oneDnn || input.dtype !== "float32" || (padding !== "VALID" && padding !== "SAME")) {
        return upstream.kernelFunc(args);
      }
      const backend = args.backend as unknown as NodeBackend;
      const b = backend.binding;
      const attrs = [
        { name: "T", type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
        { name: "ksize", type: b.TF_ATTR_INT, value: [1, info.filterHeight, info.filterWidth, 1] },
        {
          name: "strides",
          type: b.TF_ATTR_INT,
          value: [1, info.strideHeight, info.strideWidth, 1],
        },
        { name: "padding", type: b.TF_ATTR_STRING, value: padding },
        { name: "data_format", type: b.TF_ATTR_STRING, value: "NHWC" },
        { name: "workspace_enabled", type: b.TF_ATTR_BOOL, value: true },
        { name: "_kernel", type: b.TF_ATTR_STRING, value: "MklNameChangeOp" },
      ];
      let forward: tf.Tensor[] = [];
      try {
        forward = backend.executeMultipleOutputs("_MklNativeMaxPool", attrs, [input], 2);
        const grad = backend.executeSingleOutput(
          "_MklNativeMaxPoolGrad",
          attrs,
          [input, forward[0], dy, forward[1]],
        );
        oneDnnUsed = true;
        return grad as unknown as tf.TensorInfo;
      } catch {
        oneDnn = false;
        return upstream.kernelFunc(args);
      } finally {
        tf.dispose(forward);
      }
    },
  });
}

/**
 * `Sum` over axes 0, 1, 2 of a float32 NHWC tensor (a convolution's bias gradient) as
 * TensorFlow's `BiasAddGrad`, a kernel made for exactly that reduction; every other `Sum` runs
 * tfjs-node's own kernel.
 */
function registerBiasGradientSum(): void {
  const upstream = tf.getKernel("Sum", "tensorflow");
  if (upstream === undefined) return;
  tf.unregisterKernel("Sum", "tensorflow");
  tf.registerKernel({
    kernelName: "Sum",
    backendName: "tensorflow",
    kernelFunc: (args) => {
      const { x } = args.inputs as { x: tf.Tensor };
      const { axis, keepDims } = args.attrs as unknown as {
        axis: number | number[];
        keepDims: boolean;
      };
      const axes = x.rank === 4 ? tf.util.parseAxisParam(axis, x.shape) : [];
      const channelsOnly = axes.length === 3 && [0, 1, 2].every((a) => axes.includes(a));
      if (!channelsOnly || keepDims || x.dtype !== "float32") return upstream.kernelFunc(args);
      const backend = args.backend as unknown as NodeBackend;
      const b = backend.binding;
      return backend.executeSingleOutput("BiasAddGrad", [
        { name: "T", type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
        { name: "data_format", type: b.TF_ATTR_STRING, value: "NHWC" },
      ], [x]) as unknown as tf.TensorInfo;
    },
  });
}
