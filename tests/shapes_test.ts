import assert from "node:assert/strict";
import { join } from "node:path";
import { drawShapesDataset, ShapesError } from "../lib/data/shapes.ts";
import { scanImageDirectory } from "../lib/data/dataset.ts";
import { withTempDir } from "./fixtures.ts";

Deno.test("the shapes dataset: one folder per class and split, the same bytes for the same seed", async () => {
  await withTempDir(async (dir) => {
    const a = await drawShapesDataset(join(dir, "a"), {
      counts: { training_set: 3, val_set: 2 },
      size: 24,
      seed: 5,
    });
    assert.deepEqual(a.classNames, ["circles", "squares", "triangles"]);
    assert.deepEqual(a.counts, { training_set: 9, val_set: 6 });
    const ds = await scanImageDirectory(join(dir, "a", "training_set"));
    assert.deepEqual(ds.classNames, ["circles", "squares", "triangles"]);
    assert.equal(ds.files.length, 9);
    await drawShapesDataset(join(dir, "b"), {
      counts: { training_set: 3, val_set: 2 },
      size: 24,
      seed: 5,
    });
    await drawShapesDataset(join(dir, "c"), {
      counts: { training_set: 3, val_set: 2 },
      size: 24,
      seed: 6,
    });
    const file = join("training_set", "squares", "square_0001.png");
    const bytes = (root: string) => Deno.readFile(join(dir, root, file));
    assert.deepEqual(await bytes("a"), await bytes("b"));
    assert.notDeepEqual(await bytes("a"), await bytes("c"));
  });
});

Deno.test("the shapes dataset refuses unknown shapes, one class, bad sizes and mixed layouts", async () => {
  const bad = [
    { classes: ["circles"] },
    { classes: ["circles", "hexagons"] },
    { size: 4 },
    { counts: { all: 2, test: 1 } },
    { counts: { training_set: 0 } },
  ] as Parameters<typeof drawShapesDataset>[1][];
  for (const options of bad) {
    await assert.rejects(drawShapesDataset("/nonexistent/x", options), ShapesError);
  }
});
