import assert from "node:assert/strict";
import { join } from "node:path";
import { copyArticleLayout, LayoutError, validateArticleLayout } from "../lib/data/layout.ts";
import { DatasetError } from "../lib/data/dataset.ts";
import { EMBEDDED_DATASET_DIR } from "../lib/data/sources.ts";
import { makeArticleLayout, makeImageFolder, withTempDir, writeImage } from "./fixtures.ts";

const SPEC = {
  train: { cars: 4, planes: 3 },
  val: { cars: 2, planes: 2 },
  test: { cars: 2, planes: 1 },
  size: 8,
};

async function entries(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

Deno.test("a valid article layout reports image counts per split and class", async () => {
  await withTempDir(async (dir) => {
    await makeArticleLayout(dir, SPEC);
    const layout = await validateArticleLayout(dir);
    assert.equal(layout.root, dir);
    assert.deepEqual(layout.classNames, ["cars", "planes"]);
    assert.deepEqual(layout.counts, {
      training_set: { cars: 4, planes: 3 },
      val_set: { cars: 2, planes: 2 },
      test: { cars: 2, planes: 1 },
    });
    assert.deepEqual(layout.totals, { training_set: 7, val_set: 4, test: 3 });
  });
});

Deno.test("a missing dataset folder or split folder is named in the error", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(validateArticleLayout(join(dir, "nope")), /does not exist/);
    await makeImageFolder(join(dir, "training_set"), { classes: SPEC.train, size: 8 });
    await makeImageFolder(join(dir, "test"), { classes: SPEC.test, size: 8 });
    await assert.rejects(validateArticleLayout(dir), (error: unknown) => {
      assert.ok(error instanceof LayoutError);
      assert.ok(error instanceof DatasetError);
      assert.equal(error.path, join(dir, "val_set"));
      assert.match(error.message, /Split folder ".*val_set" is missing/);
      return true;
    });
  });
});

Deno.test("train and val with different class sets are rejected, naming the differing classes", async () => {
  await withTempDir(async (dir) => {
    await makeArticleLayout(dir, { ...SPEC, val: { cars: 2, boats: 2 } });
    await assert.rejects(validateArticleLayout(dir), (error: unknown) => {
      assert.ok(error instanceof LayoutError);
      assert.match(error.message, /Class folders differ/);
      assert.match(error.message, /missing in val_set\/: planes/);
      assert.match(error.message, /only in val_set\/: boats/);
      return true;
    });
  });
});

Deno.test("a class folder without images in any split is rejected, naming it", async () => {
  await withTempDir(async (dir) => {
    await makeArticleLayout(dir, SPEC);
    const empty = join(dir, "test", "planes");
    await Deno.remove(empty, { recursive: true });
    await Deno.mkdir(empty);
    await Deno.writeTextFile(join(empty, "Thumbs.db"), "x");
    await assert.rejects(validateArticleLayout(dir), (error: unknown) => {
      assert.ok(error instanceof LayoutError);
      assert.equal(error.path, empty);
      assert.match(error.message, /holds no images/);
      return true;
    });
  });
});

Deno.test("copyArticleLayout copies only the images and keeps other files already in dest", async () => {
  await withTempDir(async (dir) => {
    const source = join(dir, "source");
    await makeArticleLayout(source, SPEC);
    await Deno.writeTextFile(join(source, "training_set", "cars", "notes.txt"), "x");
    await Deno.writeTextFile(join(source, "training_set", "cars", "Thumbs.db"), "x");
    await writeImage(join(source, "training_set", "cars", ".hidden.jpg"));
    const dest = join(dir, "data");
    await Deno.mkdir(dest);
    await Deno.writeTextFile(join(dest, "README.md"), "# data\n");
    const layout = await copyArticleLayout(source, dest);
    assert.equal(layout.root, dest);
    assert.deepEqual(layout.totals, { training_set: 7, val_set: 4, test: 3 });
    assert.deepEqual(await entries(dest), ["README.md", "test", "training_set", "val_set"]);
    assert.equal(await Deno.readTextFile(join(dest, "README.md")), "# data\n");
    assert.deepEqual(await entries(join(dest, "training_set", "cars")), [
      "cars_000.jpg",
      "cars_001.jpg",
      "cars_002.jpg",
      "cars_003.jpg",
    ]);
    const original = await Deno.readFile(join(source, "val_set", "planes", "planes_001.jpg"));
    assert.deepEqual(
      await Deno.readFile(join(dest, "val_set", "planes", "planes_001.jpg")),
      original,
    );
    assert.deepEqual(await entries(dir), ["data", "source"]); // no staging folder left behind
  });
});

Deno.test("copyArticleLayout refuses to overwrite splits unless asked, then replaces them whole", async () => {
  await withTempDir(async (dir) => {
    const first = join(dir, "first");
    const second = join(dir, "second");
    await makeArticleLayout(first, SPEC);
    await makeArticleLayout(second, { ...SPEC, train: { cars: 1, planes: 1 } });
    const dest = join(dir, "data");
    await copyArticleLayout(first, dest);
    await assert.rejects(copyArticleLayout(second, dest), /already holds training_set\//);
    const layout = await copyArticleLayout(second, dest, { replace: true });
    assert.deepEqual(layout.counts.training_set, { cars: 1, planes: 1 });
    assert.deepEqual(await entries(join(dest, "training_set", "cars")), ["cars_000.jpg"]);
    assert.deepEqual(await entries(dir), ["data", "first", "second"]);
  });
});

Deno.test("copyArticleLayout leaves dest untouched when the source is invalid", async () => {
  await withTempDir(async (dir) => {
    const good = join(dir, "good");
    const bad = join(dir, "bad");
    await makeArticleLayout(good, SPEC);
    await makeArticleLayout(bad, { ...SPEC, val: { cars: 1 } });
    const dest = join(dir, "data");
    await copyArticleLayout(good, dest);
    await assert.rejects(copyArticleLayout(bad, dest, { replace: true }), LayoutError);
    assert.deepEqual(
      (await validateArticleLayout(dest)).counts,
      (await validateArticleLayout(good)).counts,
    );
    assert.deepEqual(await entries(dir), ["bad", "data", "good"]);
  });
});

Deno.test("the embedded sample has the article's layout and split sizes", async () => {
  const layout = await validateArticleLayout(EMBEDDED_DATASET_DIR);
  assert.deepEqual(layout.counts, {
    training_set: { cars: 80, planes: 80 },
    val_set: { cars: 20, planes: 20 },
    test: { cars: 8, planes: 7 },
  });
});
