import assert from "node:assert/strict";
import { createTransferHead } from "../lib/models/head.ts";

Deno.test("the transfer head is Flatten, Dense(256, relu), Dropout(0.5), Dense(1, sigmoid)", () => {
  const head = createTransferHead([2, 2, 512], { seed: 1 });
  try {
    assert.deepEqual(head.layers.map((l) => [l.getClassName(), l.outputShape]), [
      ["Flatten", [null, 2048]],
      ["Dense", [null, 256]],
      ["Dropout", [null, 256]],
      ["Dense", [null, 1]],
    ]);
    assert.equal(head.countParams(), 2048 * 256 + 256 + 257);
    const dropout = head.layers[2].getConfig();
    assert.equal(dropout.rate, 0.5);
  } finally {
    head.dispose();
  }
});

Deno.test("a head for more than two classes ends in Dense(classes, softmax)", () => {
  const head = createTransferHead([2, 2, 8], { classes: 4, seed: 1 });
  assert.deepEqual(head.outputs[0].shape, [null, 4]);
  assert.equal(head.layers.at(-1)!.getConfig().activation, "softmax");
  assert.equal(head.loss, "categoricalCrossentropy");
  head.dispose();
});
