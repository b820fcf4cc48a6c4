import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { BackendError, initBackend, parseBackendRequest } from "../lib/training/runtime.ts";

Deno.test("backend requests are parsed from flags and env values; unknown ones say what is allowed", () => {
  assert.equal(parseBackendRequest(undefined), "auto");
  assert.equal(parseBackendRequest(""), "auto");
  assert.equal(parseBackendRequest("WASM"), "wasm");
  assert.equal(parseBackendRequest("tfjs-node"), "node");
  assert.throws(
    () => parseBackendRequest("gpu"),
    (e: unknown) => e instanceof BackendError && /one of auto, node, wasm, cpu/.test(e.message),
  );
});

Deno.test("auto picks a backend that passes the training probe and says why", async () => {
  const lines: string[] = [];
  const choice = await initBackend("auto", { log: (l) => lines.push(l) });
  assert.equal(tf.getBackend(), choice.tfName);
  assert.equal(lines.length, 1);
  assert.match(lines[0], new RegExp(`^Using backend ${choice.name}: `));
  if (choice.name !== "node") {
    // Without libtensorflow, auto says why tfjs-node was passed over and lands on wasm.
    assert.equal(choice.name, "wasm");
    assert.match(choice.reason, /tried first: node: /);
    assert.match(choice.reason, /training probe/);
  }
});

Deno.test("an explicitly requested backend runs, or fails with a BackendError naming it", async () => {
  const cpu = await initBackend("cpu", { log: null });
  assert.equal(cpu.name, "cpu");
  assert.equal(tf.getBackend(), "cpu");
  let node: Awaited<ReturnType<typeof initBackend>> | null = null;
  try {
    node = await initBackend("node", { log: null });
  } catch (error) {
    assert.ok(error instanceof BackendError);
    assert.match(error.message, /Backend node cannot run here .*Try --backend auto/);
  }
  if (node) assert.equal(node.tfName, "tensorflow");
  await initBackend("wasm", { log: null, skipProbe: true });
  assert.equal(tf.getBackend(), "wasm");
});
