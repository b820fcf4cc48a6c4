/**
 * A small toolkit for writing composite kernels for the tfjs `wasm` backend.
 *
 * A composite kernel (e.g. `Conv2DBackpropFilter`) is built out of the wasm backend's own
 * kernels (Conv2D, BatchMatMul, Transpose, StridedSlice, PadV2, Concat, ...). Those kernels are
 * called directly through the kernel registry (`getKernel(name, "wasm").kernelFunc`), not through
 * the tfjs engine: nothing is recorded on a gradient tape, no `tf.Tensor` objects are created and
 * the engine's kernel bookkeeping (profiling, leak checks) sees one kernel with one output. This
 * makes the composite kernels safe to call from inside gradient functions. The price is that
 * every intermediate must be freed by hand; {@linkcode withKernelScope} does that.
 *
 * @module
 */
import {
  getKernel,
  type KernelBackend,
  type NamedAttrMap,
  type NamedTensorInfoMap,
  type TensorInfo,
} from "@tensorflow/tfjs-core";
import { CarplaneError } from "../../errors.ts";

/** Name of the backend the composite kernels are built on and registered for. */
export const WASM_BACKEND_NAME = "wasm";

/** Thrown when a kernel a composite kernel is built from is not registered. */
export class MissingWasmKernelError extends CarplaneError {
  /** @param kernelName the kernel that could not be found */
  constructor(kernelName: string) {
    super(
      `Kernel '${kernelName}' is not registered for the 'wasm' backend. Import ` +
        `"@tensorflow/tfjs-backend-wasm" (version 4.22 is expected) before registering the ` +
        `wasm training kernels.`,
    );
    this.name = "MissingWasmKernelError";
  }
}

/** Thrown when a composite kernel is given inputs or attributes it does not support. */
export class UnsupportedKernelArgumentError extends CarplaneError {
  /**
   * @param kernelName the kernel that refused the call
   * @param detail what is unsupported and what to do instead
   */
  constructor(kernelName: string, detail: string) {
    super(`${kernelName} (wasm training kernels): ${detail}`);
    this.name = "UnsupportedKernelArgumentError";
  }
}

/** Explicit 2D padding `[[top, bottom], [left, right]]`. */
export type Padding2D = [[number, number], [number, number]];

/**
 * Runs wasm kernels and remembers every tensor it creates, so they can all be freed at once.
 *
 * All methods return backend-level {@linkcode TensorInfo}s (not `tf.Tensor`s).
 */
export interface KernelScope {
  /** The wasm backend instance the kernels run on. */
  readonly backend: KernelBackend;
  /** Runs any registered wasm kernel that has exactly one output and tracks that output. */
  run(name: string, inputs: NamedTensorInfoMap, attrs?: NamedAttrMap): TensorInfo;
  /** `x` viewed with another shape (no copy; shares the data with `x`). */
  reshape(x: TensorInfo, shape: number[]): TensorInfo;
  /**
   * A copy of `x` with its own backend id. Use it for the right operand of `matMul` when that
   * operand is a view of someone else's tensor: the wasm backend caches the XNNPACK operator of a
   * product by the right operand's id alone (not its shape), so reusing an id with another shape
   * would silently use a stale operator.
   */
  copy(x: TensorInfo): TensorInfo;
  /** Axis permutation. */
  transpose(x: TensorInfo, perm: number[]): TensorInfo;
  /** Contiguous slice. */
  slice(x: TensorInfo, begin: number[], size: number[]): TensorInfo;
  /** Strided slice from `begin` (inclusive) to `end` (exclusive) with `strides`. */
  stridedSlice(x: TensorInfo, begin: number[], end: number[], strides: number[]): TensorInfo;
  /** Constant padding, `paddings[i] = [before, after]` for every axis. */
  pad(x: TensorInfo, paddings: Array<[number, number]>, constantValue?: number): TensorInfo;
  /** Concatenation along `axis`. */
  concat(xs: TensorInfo[], axis: number): TensorInfo;
  /** Matrix product of rank-2 (or batched rank-3) tensors. */
  matMul(a: TensorInfo, b: TensorInfo, transposeA?: boolean, transposeB?: boolean): TensorInfo;
  /** NHWC 2D convolution with explicit padding. */
  conv2d(
    x: TensorInfo,
    filter: TensorInfo,
    strides: [number, number],
    padding: Padding2D,
    dilations: [number, number],
  ): TensorInfo;
  /** Element-wise binary kernel with broadcasting, e.g. `"Multiply"`, `"Add"`, `"Equal"`. */
  binary(name: string, a: TensorInfo, b: TensorInfo): TensorInfo;
  /** Element-wise unary kernel, e.g. `"LogicalNot"`. */
  unary(name: string, x: TensorInfo): TensorInfo;
  /** `condition ? a : b` element-wise. */
  select(condition: TensorInfo, a: TensorInfo, b: TensorInfo): TensorInfo;
  /** Element-wise sum of tensors of one shape. */
  addN(xs: TensorInfo[]): TensorInfo;
  /** A (small, constant) float32 tensor holding `values`. */
  write(values: Float32Array, shape: number[]): TensorInfo;
  /** A tensor of `shape` filled with `value`. */
  fill(shape: number[], value: number, dtype?: "float32" | "int32" | "bool"): TensorInfo;
  /** Frees a tracked intermediate now instead of at the end of the scope. */
  dispose(x: TensorInfo): void;
  /** Tracks a tensor created outside the scope's methods (e.g. by a captured kernel). */
  track(x: TensorInfo): TensorInfo;
}

/**
 * Runs `body` with a fresh {@linkcode KernelScope} on `backend` and frees every intermediate it
 * created except the returned tensor (also when `body` throws).
 *
 * @example
 * ```ts
 * import { getKernel, registerKernel, type TensorInfo } from "@tensorflow/tfjs-core";
 * import { withKernelScope } from "./ops.ts";
 *
 * // A composite kernel: the transpose of a matrix product.
 * const kernelFunc = ({ inputs, backend }: { inputs: Record<string, TensorInfo>; backend: {} }) =>
 *   withKernelScope(backend, (s) => s.transpose(s.matMul(inputs.a, inputs.b), [1, 0]));
 * ```
 */
export function withKernelScope(
  backend: unknown,
  body: (scope: KernelScope) => TensorInfo,
): TensorInfo {
  const { scope, release } = createKernelScope(backend as KernelBackend);
  let out: TensorInfo | undefined;
  try {
    out = body(scope);
    return out;
  } finally {
    release(out);
  }
}

/**
 * The values of a (small) tensor on the wasm backend, read synchronously: the per-channel
 * statistics or the single bound a kernel turns into attributes.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import "@tensorflow/tfjs-backend-wasm";
 * import { readValues } from "./ops.ts";
 *
 * await tf.setBackend("wasm");
 * readValues(tf.backend(), tf.tensor([1, 2])); // Float32Array [1, 2]
 * ```
 */
export function readValues(backend: unknown, x: TensorInfo): ArrayLike<number> {
  return (backend as { readSync(dataId: unknown): ArrayLike<number> }).readSync(x.dataId);
}

/**
 * Creates a {@linkcode KernelScope} on the wasm `backend` and a `release(keep)` function that
 * frees every tracked intermediate except `keep`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import "@tensorflow/tfjs-backend-wasm";
 * import { createKernelScope } from "./ops.ts";
 *
 * await tf.setBackend("wasm");
 * const x = tf.tensor2d([[1, 2], [3, 4]]);
 * const { scope, release } = createKernelScope(tf.backend());
 * const info = scope.transpose(x, [1, 0]);
 * release(info); // frees nothing else; `info` now belongs to the caller
 * const y = tf.engine().makeTensorFromTensorInfo(info);
 * y.print(); // [[1, 3], [2, 4]]
 * ```
 */
export function createKernelScope(
  backend: KernelBackend,
): { scope: KernelScope; release: (keep?: TensorInfo) => void } {
  const temps: TensorInfo[] = [];

  const kernel = (name: string) => {
    const config = getKernel(name, WASM_BACKEND_NAME);
    if (config == null) throw new MissingWasmKernelError(name);
    return config.kernelFunc;
  };

  const run = (name: string, inputs: NamedTensorInfoMap, attrs: NamedAttrMap = {}) => {
    const out = kernel(name)({ inputs, backend, attrs });
    if (Array.isArray(out)) {
      out.forEach((t) => backend.disposeData(t.dataId));
      throw new UnsupportedKernelArgumentError(
        name,
        "kernels with several outputs are not wrapped",
      );
    }
    temps.push(out);
    return out;
  };

  const dispose = (x: TensorInfo) => {
    const i = temps.indexOf(x);
    if (i >= 0) {
      temps.splice(i, 1);
      backend.disposeData(x.dataId);
    }
  };

  const release = (keep?: TensorInfo) => {
    for (const t of temps) {
      if (t !== keep) backend.disposeData(t.dataId);
    }
    temps.length = 0;
  };

  const scope: KernelScope = {
    backend,
    run,
    reshape: (x, shape) => run("Reshape", { x }, { shape }),
    copy: (x) => run("Identity", { x }),
    transpose: (x, perm) => run("Transpose", { x }, { perm }),
    slice: (x, begin, size) => run("Slice", { x }, { begin, size }),
    stridedSlice: (x, begin, end, strides) =>
      run("StridedSlice", { x }, {
        begin,
        end,
        strides,
        beginMask: 0,
        endMask: 0,
        ellipsisMask: 0,
        newAxisMask: 0,
        shrinkAxisMask: 0,
      }),
    pad: (x, paddings, constantValue = 0) => run("PadV2", { x }, { paddings, constantValue }),
    // Concat and AddN take their inputs as an array, as the engine passes them.
    concat: (xs, axis) => run("Concat", xs as unknown as NamedTensorInfoMap, { axis }),
    matMul: (a, b, transposeA = false, transposeB = false) =>
      run("BatchMatMul", { a, b }, { transposeA, transposeB }),
    conv2d: (x, filter, strides, padding, dilations) =>
      run("Conv2D", { x, filter }, {
        strides,
        pad: [[0, 0], padding[0], padding[1], [0, 0]],
        dilations,
        dataFormat: "NHWC",
        dimRoundingMode: undefined as unknown as string,
      }),
    binary: (name, a, b) => run(name, { a, b }),
    unary: (name, x) => run(name, { x }),
    select: (condition, a, b) => run("Select", { condition, t: a, e: b }),
    addN: (xs) => run("AddN", xs as unknown as NamedTensorInfoMap),
    write: (values, shape) => {
      const out: TensorInfo = {
        dataId: backend.write(values, shape, "float32"),
        shape,
        dtype: "float32",
      };
      temps.push(out);
      return out;
    },
    fill: (shape, value, dtype = "float32") => run("Fill", {}, { shape, value, dtype }),
    dispose,
    track: (x) => {
      temps.push(x);
      return x;
    },
  };
  return { scope, release };
}
