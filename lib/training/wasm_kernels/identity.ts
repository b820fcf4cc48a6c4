/**
 * `Identity` for the tfjs `wasm` backend, without copying.
 *
 * tfjs-layers runs an `Identity` on the inputs of every layer call (model execution clones the
 * tensors it feeds), and the wasm backend's `Identity` copies the data: ~9 ms per training step of
 * the article's CNN at batch 32, for nothing. tfjs tensors are immutable (variables are updated by
 * swapping their data, not by writing into it), so, like the tfjs cpu backend, this kernel returns
 * a new reference to the same data (`incRef`), as the wasm backend's own `Reshape` does.
 * Strings go to the upstream kernel.
 *
 * @module
 */
import {
  Identity,
  type KernelBackend,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from "@tensorflow/tfjs-core";
import { WASM_BACKEND_NAME } from "./ops.ts";

/**
 * The kernel config replacing the wasm `Identity` with a shared-data one.
 *
 * @param upstream the wasm backend's own `Identity` kernel function (used for strings)
 *
 * @example
 * ```ts
 * import "@tensorflow/tfjs-backend-wasm";
 * import { getKernel, registerKernel, unregisterKernel } from "@tensorflow/tfjs-core";
 * import { identityConfig } from "./identity.ts";
 *
 * const upstream = getKernel("Identity", "wasm").kernelFunc;
 * unregisterKernel("Identity", "wasm");
 * registerKernel(identityConfig(upstream));
 * ```
 */
export function identityConfig(upstream: KernelFunc): KernelConfig {
  return {
    kernelName: Identity,
    backendName: WASM_BACKEND_NAME,
    kernelFunc: (args) => {
      const x = args.inputs.x as TensorInfo;
      if (x.dtype === "string") return upstream(args);
      (args.backend as KernelBackend).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
    },
  };
}
