/**
 * Proves tfjs-node's addon works in a fresh process: loads it the way the project does
 * ({@linkcode initBackend}), runs one Adam step of a small convolutional network, and prints
 * `{"tensorflow": "<version>"}`. Run by `deno task setup-native` after installing the addon.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/training/runtime.ts";
import { loadTfjsNode } from "../../lib/training/native.ts";

if (import.meta.main) {
  await loadTfjsNode();
  await initBackend("node", { log: null });
  // deno-lint-ignore no-explicit-any
  const backend = tf.backend() as any;
  const version = String(backend.binding?.TF_Version ?? tf.version.tfjs);
  console.log(JSON.stringify({ tensorflow: version }));
}
