/** What a notebook cell made is disposed when the cell (the same key) runs again. */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { disposeKept, keep, keptKeys } from "../lib/notebook/rerun.ts";

Deno.test("keeping a value under a key disposes the value kept there before", async () => {
  const disposed: string[] = [];
  await keep("rerun-test", "first", (v) => disposed.push(v));
  await keep("rerun-test", "second", (v) => disposed.push(v));
  assert.deepEqual(disposed, ["first"]);
  assert.ok(keptKeys().includes("rerun-test"));
  assert.equal(await disposeKept("rerun-test"), true);
  assert.deepEqual(disposed, ["first", "second"]);
  assert.equal(await disposeKept("rerun-test"), false, "nothing left to dispose");
  assert.ok(!keptKeys().includes("rerun-test"));
});

Deno.test("a re-run that keeps a new model leaves the tensor count as one run left it", async () => {
  const before = tf.memory().numTensors;
  const build = () => tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [4] })] });
  await keep("rerun-model", build(), (m) => m.dispose());
  const afterOne = tf.memory().numTensors;
  await keep("rerun-model", build(), (m) => m.dispose());
  await keep("rerun-model", build(), (m) => m.dispose());
  assert.equal(tf.memory().numTensors, afterOne);
  assert.ok(afterOne > before);
  await disposeKept("rerun-model");
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("keys are independent", async () => {
  const disposed: string[] = [];
  await keep("rerun-a", "a", (v) => disposed.push(v));
  await keep("rerun-b", "b", (v) => disposed.push(v));
  await disposeKept("rerun-a");
  assert.deepEqual(disposed, ["a"]);
  await disposeKept("rerun-b");
  assert.deepEqual(disposed, ["a", "b"]);
});
