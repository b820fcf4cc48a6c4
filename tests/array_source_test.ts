import assert from "node:assert/strict";
import { createArraySource } from "../lib/data/array_source.ts";

Deno.test("an array source cycles through every sample once per pass, with a smaller last batch", async () => {
  const xs = Float32Array.from({ length: 10 * 2 }, (_, i) => Math.floor(i / 2));
  const ys = Float32Array.from({ length: 10 }, (_, i) => i % 2);
  const source = createArraySource(xs, ys, [2], { batchSize: 4, seed: 3 });
  assert.equal(source.stepsPerPass, 3);
  for (let pass = 0; pass < 2; pass++) {
    const seen: number[] = [];
    const sizes: number[] = [];
    for (let s = 0; s < 3; s++) {
      const b = await source.next();
      sizes.push(b.size);
      for (let k = 0; k < b.size; k++) {
        const id = b.xs[k * 2];
        assert.equal(b.xs[k * 2 + 1], id, "a sample's values stay together");
        assert.equal(b.ys![k], id % 2, "a sample keeps its label");
        seen.push(id);
      }
    }
    assert.deepEqual(sizes, [4, 4, 2]);
    assert.deepEqual([...seen].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  }
});

Deno.test("the same seed gives the same order; shuffle off keeps the input order", async () => {
  const xs = Float32Array.from({ length: 8 }, (_, i) => i);
  const a = createArraySource(xs, null, [1], { batchSize: 8, seed: 5 });
  const b = createArraySource(xs, null, [1], { batchSize: 8, seed: 5 });
  const c = createArraySource(xs, null, [1], { batchSize: 8, shuffle: false });
  assert.deepEqual(Array.from((await a.next()).xs), Array.from((await b.next()).xs));
  assert.deepEqual(Array.from((await c.next()).xs), [0, 1, 2, 3, 4, 5, 6, 7]);
});

Deno.test("arrays that do not fit the sample shape are refused", () => {
  assert.throws(() => createArraySource(new Float32Array(7), null, [2]), /do not split/);
  assert.throws(() => createArraySource(new Float32Array(8), new Float32Array(3), [2]), /labels/);
});
