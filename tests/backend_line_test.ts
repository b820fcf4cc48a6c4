/** The backend in plain words for notebook readers. */
import assert from "node:assert/strict";
import { plainBackendLine } from "../lib/notebook/backend_line.ts";

const NODE_MISSING = "WebAssembly (XNNPACK, SIMD) with this project's training kernels passed a " +
  "training probe (auto; tried first: node: its native addon tfjs_binding.node is not built " +
  "(libtensorflow could not be downloaded when @tensorflow/tfjs-node was installed))";

Deno.test("wasm after a failed native try says so in plain words, with the command that helps", () => {
  assert.equal(
    plainBackendLine({ name: "wasm", reason: NODE_MISSING }, { threads: 2 }),
    "Training on the CPU with WebAssembly, 2 threads; the native TensorFlow engine is not set " +
      "up: `deno task setup-native`",
  );
});

Deno.test("a backend asked for by name has no setup hint; counts read as words", () => {
  const asked = "WebAssembly (XNNPACK, SIMD) with this project's training kernels passed a " +
    "training probe (requested)";
  assert.equal(
    plainBackendLine({ name: "wasm", reason: asked }),
    "Training on the CPU with WebAssembly, 1 thread",
  );
  assert.equal(
    plainBackendLine({ name: "cpu", reason: "pure JavaScript (requested)" }, { threads: 2 }),
    "Training on the CPU in plain JavaScript (slow), 2 threads",
  );
  assert.equal(
    plainBackendLine({ name: "node", reason: "tfjs-node's native libtensorflow binding loaded" }),
    "Training with the native TensorFlow engine (libtensorflow, all cores)",
  );
});

Deno.test("the plain line is short and has none of the developer's words", () => {
  const line = plainBackendLine({ name: "wasm", reason: NODE_MISSING }, { threads: 2 });
  assert.ok(line.length < NODE_MISSING.length / 2);
  assert.doesNotMatch(line, /XNNPACK|tfjs_binding|probe/);
});
