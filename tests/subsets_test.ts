import assert from "node:assert/strict";
import { join } from "node:path";
import { choosePerClass, writeTrainingSubset } from "../lib/data/subsets.ts";
import { DatasetError, scanImageDirectory } from "../lib/data/dataset.ts";
import { makeArticleLayout, withTempDir } from "./fixtures.ts";

const files = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(2, "0")}`);

Deno.test("choosePerClass: seeded, per class, nested across sizes, different across seeds", () => {
  const byClass = { cars: files("c", 30), planes: files("p", 30) };
  const a = choosePerClass(byClass, 10, 1);
  assert.equal(a.cars.length, 10);
  assert.equal(a.planes.length, 10);
  assert.equal(new Set(a.cars).size, 10);
  assert.ok(a.cars.every((f) => f.startsWith("c")));
  assert.deepEqual(choosePerClass(byClass, 10, 1), a, "same seed, same subset");
  const b = choosePerClass(byClass, 20, 1);
  assert.ok(a.cars.every((f) => b.cars.includes(f)), "10 of a seed are among its 20");
  assert.notDeepEqual(choosePerClass(byClass, 10, 2).cars, a.cars);
  assert.notDeepEqual(a.cars, byClass.cars.slice(0, 10), "not just the first files");
});

Deno.test("choosePerClass refuses what it cannot do", () => {
  assert.throws(
    () => choosePerClass({ cars: files("c", 5) }, 8, 1),
    /class "cars" has only 5 training images; ask for at most 5 per class/,
  );
  assert.throws(() => choosePerClass({ cars: files("c", 5) }, 0, 1), DatasetError);
});

Deno.test("writeTrainingSubset writes perClass images per class and the whole val_set", async () => {
  await withTempDir(async (dir) => {
    const data = await makeArticleLayout(join(dir, "data"), {
      train: { cars: 6, planes: 5 },
      val: { cars: 2, planes: 3 },
      test: { cars: 1, planes: 1 },
    });
    const out = await writeTrainingSubset(data, 3, 7, join(dir, "subset"));
    const train = await scanImageDirectory(join(out, "training_set"));
    assert.deepEqual(train.classNames, ["cars", "planes"]);
    assert.deepEqual(train.labels.filter((l) => l === 0).length, 3);
    assert.deepEqual(train.labels.filter((l) => l === 1).length, 3);
    const full = await scanImageDirectory(join(data, "training_set"));
    assert.ok(train.filenames.every((f) => full.filenames.includes(f)), "names kept");
    const val = await scanImageDirectory(join(out, "val_set"));
    assert.equal(val.files.length, 5);
    // rewriting replaces the old subset
    await writeTrainingSubset(data, 2, 7, out);
    assert.equal((await scanImageDirectory(join(out, "training_set"))).files.length, 4);
    await assert.rejects(
      () => writeTrainingSubset(data, 6, 7, join(dir, "too-many")),
      /class "planes" has only 5 training images/,
    );
  });
});
