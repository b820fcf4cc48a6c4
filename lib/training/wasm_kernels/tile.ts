/**
 * `Tile` for the tfjs `wasm` backend, from concatenations.
 *
 * The wasm backend tiles element by element with index arithmetic: spreading a BatchNorm
 * layer's per-channel `[1, 1, 1, 256]` over `[32, 7, 7, 256]` (its gradient does, twice per
 * step when MobileNet's top block is fine-tuned) took 28-31 ms for 0.4 million numbers, 0.3 ms
 * this way. Tiling axis by axis as a concatenation of copies along that axis moves contiguous
 * blocks (memory copies): fast when the blocks are large, as there; a tile into many small blocks
 * (`[992, 1, 31, 1, 32]` by `[1, 2, 1, 2, 1]`: 10.9 ms) is still slower than the binary
 * kernels' own broadcasting (6.1 ms), so nothing here replaces that. Tensors of any dtype but
 * strings; empty ones go upstream.
 *
 * @module
 */
import {
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
  Tile,
  util,
} from "@tensorflow/tfjs-core";
import { type KernelScope, WASM_BACKEND_NAME, withKernelScope } from "./ops.ts";

/** Attributes of the `Tile` kernel. */
export interface TileAttrs {
  reps: number[];
}

/**
 * `x` tiled `reps` times along each axis, by concatenating copies axis by axis (innermost
 * first); `undefined` for strings or empty tensors.
 *
 * @param x the tensor to tile
 * @param attrs the repetitions per axis
 * @param backend the wasm backend
 * @returns the tiled tensor, or `undefined` to let the caller use the upstream kernel
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import "@tensorflow/tfjs-backend-wasm";
 * import { concatTileWasm } from "./tile.ts";
 *
 * await tf.setBackend("wasm");
 * const info = concatTileWasm(tf.tensor([[1, 2]]), { reps: [2, 2] }, tf.backend());
 * tf.engine().makeTensorFromTensorInfo(info!).print(); // [[1, 2, 1, 2], [1, 2, 1, 2]]
 * ```
 */
export function concatTileWasm(
  x: TensorInfo,
  attrs: TileAttrs,
  backend: unknown,
): TensorInfo | undefined {
  const { reps } = attrs;
  if (x.dtype === "string" || reps.length !== x.shape.length) return undefined;
  if (util.sizeFromShape(x.shape) === 0 || reps.some((r) => !(r >= 1))) return undefined;
  return withKernelScope(backend, (s) => concatTile(x, reps, s));
}

/**
 * `x` tiled `reps` times per axis in `scope`, by concatenations (innermost axis first); a new
 * tensor even when every rep is 1.
 *
 * @example
 * ```ts
 * const spread = concatTile(perChannel, [32, 7, 7, 1], scope); // [1, 1, 1, C] -> [32, 7, 7, C]
 * ```
 */
export function concatTile(x: TensorInfo, reps: readonly number[], scope: KernelScope): TensorInfo {
  let out = scope.copy(x); // the caller owns the result: never hand back x itself
  for (let axis = reps.length - 1; axis >= 0; axis--) {
    if (reps[axis] === 1) continue;
    const next = scope.concat(Array.from({ length: reps[axis] }, () => out), axis);
    scope.dispose(out);
    out = next;
  }
  return out;
}

/**
 * The kernel config replacing the wasm `Tile` with {@linkcode concatTileWasm} (`upstream` for
 * what it does not take).
 *
 * @param upstream the wasm backend's own kernel function
 *
 * @example
 * ```ts
 * import "@tensorflow/tfjs-backend-wasm";
 * import { getKernel, registerKernel, unregisterKernel } from "@tensorflow/tfjs-core";
 * import { tileConfig } from "./tile.ts";
 *
 * const upstream = getKernel("Tile", "wasm").kernelFunc;
 * unregisterKernel("Tile", "wasm");
 * registerKernel(tileConfig(upstream));
 * ```
 */
export function tileConfig(upstream: KernelFunc): KernelConfig {
  return {
    kernelName: Tile,
    backendName: WASM_BACKEND_NAME,
    kernelFunc: (args) =>
      concatTileWasm(
        args.inputs.x as TensorInfo,
        args.attrs as unknown as TileAttrs,
        args.backend,
      ) ??
        upstream(args),
  };
}
