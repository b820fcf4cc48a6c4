import assert from "node:assert/strict";
import { join } from "node:path";
import { type Batch, flowFromDirectory } from "../lib/data/batches.ts";
import { DatasetError } from "../lib/data/dataset.ts";
import { EMBEDDED_DATASET_DIR } from "../lib/data/sources.ts";
import { fixturePixels, makeImageFolder, withTempDir, writeBadImages } from "./fixtures.ts";

/** Collects log lines. */
function collector(): { lines: string[]; log: (line: string) => void } {
  const lines: string[] = [];
  return { lines, log: (line) => lines.push(line) };
}

async function take(it: { next(): Promise<Batch> }, n: number): Promise<Batch[]> {
  const out: Batch[] = [];
  for (let i = 0; i < n; i++) out.push(await it.next());
  return out;
}

Deno.test("flowFromDirectory prints the Found line and exposes Keras' iterator attributes", async () => {
  await withTempDir(async (dir) => {
    await makeImageFolder(dir, { classes: { cars: 6, planes: 5 }, size: 32, format: "png" });
    const { lines, log } = collector();
    const it = await flowFromDirectory(dir, {
      targetSize: [64, 64],
      batchSize: 4,
      classMode: "binary",
      shuffle: false,
      log,
    });
    assert.deepEqual(lines, ["Found 11 images belonging to 2 classes."]);
    assert.equal(it.samples, 11);
    assert.equal(it.numClasses, 2);
    assert.deepEqual(it.classIndices, { cars: 0, planes: 1 });
    assert.deepEqual(it.classNames, ["cars", "planes"]);
    assert.equal(it.batchSize, 4);
    assert.equal(it.stepsPerPass, 3);
    assert.deepEqual(it.imageShape, [64, 64, 3]);
    assert.equal(it.filenames[0], "cars/cars_000.png");
    assert.equal(it.files[0], join(dir, "cars/cars_000.png"));
    assert.deepEqual(it.labels, [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
  });
});

Deno.test("flowFromDirectory warns after the Found line when one class has over 3x the images", async () => {
  await withTempDir(async (dir) => {
    await makeImageFolder(dir, { classes: { cars: 2, planes: 7 }, size: 8, format: "png" });
    const { lines, log } = collector();
    await flowFromDirectory(dir, { targetSize: [8, 8], batchSize: 4, classMode: "binary", log });
    assert.equal(lines[0], "Found 9 images belonging to 2 classes.");
    assert.match(lines[1], /^Warning: class imbalance: planes has 7 images, cars 2 \(4x\)/);
  });
});

Deno.test("without shuffling, batches follow file order with a smaller last batch and the iterator restarts", async () => {
  await withTempDir(async (dir) => {
    await makeImageFolder(dir, { classes: { cars: 6, planes: 5 }, size: 32, format: "png" });
    const it = await flowFromDirectory(dir, {
      targetSize: [64, 64],
      batchSize: 4,
      classMode: "binary",
      shuffle: false,
      log: () => {},
    });
    const batches = await take(it, 4);
    assert.deepEqual(batches.map((b) => b.size), [4, 4, 3, 4]);
    assert.deepEqual(batches.map((b) => b.indices), [
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9, 10],
      [0, 1, 2, 3],
    ]);
    assert.deepEqual([...batches[1].ys!], [0, 0, 1, 1]);
    assert.deepEqual(batches[2].shape, [3, 64, 64, 3]);
    assert.equal(batches[2].xs.length, 3 * 64 * 64 * 3);
    // No augmentation and no rescale: the 32x32 PNG, upscaled by nearest, values 0..255.
    const px = fixturePixels(32, 32, 0, 0);
    const xs = batches[0].xs;
    for (const [y, x] of [[0, 0], [1, 1], [17, 40], [63, 63]]) {
      for (let c = 0; c < 3; c++) {
        assert.equal(xs[(y * 64 + x) * 3 + c], px[((y >> 1) * 32 + (x >> 1)) * 3 + c]);
      }
    }
    assert.equal(batches[0].files[0], join(dir, "cars/cars_000.png"));
  });
});

Deno.test("shuffled passes visit every file once, differ from each other and repeat with the seed", async () => {
  await withTempDir(async (dir) => {
    await makeImageFolder(dir, { classes: { cars: 6, planes: 6 }, size: 8 });
    const options = {
      targetSize: [8, 8] as [number, number],
      batchSize: 4,
      seed: 5,
      augment: { rescale: 1 / 255, shearRange: 10, zoomRange: 0.2, horizontalFlip: true },
      log: () => {},
    };
    const a = await flowFromDirectory(dir, options);
    const b = await flowFromDirectory(dir, options);
    const c = await flowFromDirectory(dir, { ...options, seed: 6 });
    const batchesA = await take(a, 9); // three passes of three batches
    const batchesB = await take(b, 9);
    const batchesC = await take(c, 9);
    const passes = [0, 1, 2].map((p) => batchesA.slice(p * 3, p * 3 + 3).flatMap((x) => x.indices));
    for (const pass of passes) {
      assert.deepEqual([...pass].sort((x, y) => x - y), Array.from({ length: 12 }, (_, i) => i));
    }
    assert.notDeepEqual(passes[0], passes[1]);
    for (let i = 0; i < 9; i++) {
      assert.deepEqual(batchesA[i].indices, batchesB[i].indices);
      assert.deepEqual(batchesA[i].xs, batchesB[i].xs);
    }
    assert.notDeepEqual(batchesA.map((x) => x.indices), batchesC.map((x) => x.indices));
    assert.equal(a.totalBatchesSeen, 9);
  });
});

Deno.test("restart() serves the first batches again, augmentations included; reset() does not", async () => {
  await withTempDir(async (dir) => {
    await makeImageFolder(dir, { classes: { cars: 6, planes: 6 }, size: 8 });
    const it = await flowFromDirectory(dir, {
      targetSize: [8, 8],
      batchSize: 4,
      seed: 5,
      augment: { rescale: 1 / 255, zoomRange: 0.2, horizontalFlip: true },
      log: () => {},
    });
    const first = await take(it, 4); // a pass and a bit
    it.reset();
    const afterReset = await take(it, 2);
    assert.notDeepEqual(afterReset.map((b) => b.xs), first.slice(0, 2).map((b) => b.xs));
    it.restart();
    assert.equal(it.totalBatchesSeen, 0);
    const again = await take(it, 4);
    for (let i = 0; i < 4; i++) {
      assert.deepEqual(again[i].indices, first[i].indices);
      assert.deepEqual(again[i].xs, first[i].xs);
    }
  });
});

Deno.test("augmentation is drawn per draw from the cached pixels and rescale maps to [0, 1]", async () => {
  await withTempDir(async (dir) => {
    await makeImageFolder(dir, { classes: { cars: 2, planes: 2 }, size: 16, format: "png" });
    const plain = await flowFromDirectory(dir, {
      targetSize: [16, 16],
      batchSize: 4,
      shuffle: false,
      augment: { rescale: 1 / 255 },
      log: () => {},
    });
    const augmented = await flowFromDirectory(dir, {
      targetSize: [16, 16],
      batchSize: 4,
      shuffle: false,
      seed: 1,
      augment: { rescale: 1 / 255, rotationRange: 30, zoomRange: 0.3 },
      log: () => {},
    });
    const [p1, p2] = await take(plain, 2);
    assert.deepEqual(p1.xs, p2.xs); // no random augmentation: identical draws
    for (const v of p1.xs) assert.ok(v >= 0 && v <= 1);
    const [a1, a2] = await take(augmented, 2);
    assert.notDeepEqual(a1.xs, p1.xs);
    assert.notDeepEqual(a1.xs, a2.xs); // a new augmentation each time the image is drawn
    for (const v of a1.xs) assert.ok(v >= 0 && v <= 1 + 1e-6);
  });
});

Deno.test("class modes give binary floats, one-hot rows, sparse indices or no labels", async () => {
  await withTempDir(async (dir) => {
    await makeImageFolder(dir, { classes: { a: 1, b: 1, c: 2 }, size: 4 });
    const make = (classMode: "categorical" | "sparse" | "none") =>
      flowFromDirectory(dir, {
        targetSize: [4, 4],
        batchSize: 4,
        shuffle: false,
        classMode,
        log: () => {},
      });
    const categorical = await (await make("categorical")).next();
    assert.deepEqual([...categorical.ys!], [1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1]);
    const sparse = await (await make("sparse")).next();
    assert.deepEqual([...sparse.ys!], [0, 1, 2, 2]);
    assert.equal((await (await make("none")).next()).ys, null);
    // Keras' default class mode is categorical.
    const dflt = await flowFromDirectory(dir, { targetSize: [4, 4], log: () => {} });
    assert.equal(dflt.classMode, "categorical");
    await assert.rejects(
      flowFromDirectory(dir, { targetSize: [4, 4], classMode: "binary", log: () => {} }),
      /needs exactly 2 class folders/,
    );
  });
});

Deno.test("steps per epoch may exceed one pass: every file comes back once per pass", async () => {
  await withTempDir(async (dir) => {
    await makeImageFolder(dir, { classes: { cars: 6, planes: 5 }, size: 4 });
    const it = await flowFromDirectory(dir, {
      targetSize: [4, 4],
      batchSize: 4,
      seed: 2,
      log: () => {},
    });
    const batches = await take(it, 9); // three passes of 4 + 4 + 3
    assert.deepEqual(batches.map((b) => b.size), [4, 4, 3, 4, 4, 3, 4, 4, 3]);
    const counts = new Map<number, number>();
    for (const b of batches) for (const i of b.indices) counts.set(i, (counts.get(i) ?? 0) + 1);
    assert.equal(counts.size, 11);
    for (const n of counts.values()) assert.equal(n, 3);
  });
});

Deno.test("reset makes the next batch start a new pass", async () => {
  await withTempDir(async (dir) => {
    await makeImageFolder(dir, { classes: { cars: 3, planes: 3 }, size: 4 });
    const it = await flowFromDirectory(dir, {
      targetSize: [4, 4],
      batchSize: 4,
      shuffle: false,
      log: () => {},
    });
    await it.next();
    it.reset();
    assert.deepEqual((await it.next()).indices, [0, 1, 2, 3]);
  });
});

Deno.test("the iterator is async-iterable and endless", async () => {
  await withTempDir(async (dir) => {
    await makeImageFolder(dir, { classes: { cars: 1, planes: 1 }, size: 4 });
    const it = await flowFromDirectory(dir, { targetSize: [4, 4], batchSize: 1, log: () => {} });
    let n = 0;
    for await (const batch of it) {
      assert.equal(batch.size, 1);
      if (++n === 5) break;
    }
    assert.equal(n, 5);
  });
});

Deno.test("unreadable images are skipped with a count before the Found line, never mid-epoch", async () => {
  await withTempDir(async (dir) => {
    await makeImageFolder(dir, { classes: { cars: 6, planes: 5 }, size: 8 });
    const bad = await writeBadImages(join(dir, "cars"));
    const { lines, log } = collector();
    const it = await flowFromDirectory(dir, { targetSize: [8, 8], batchSize: 5, seed: 1, log });
    assert.equal(lines.length, 2);
    assert.match(lines[0], /^Skipped 3 unreadable images in /);
    for (const path of Object.values(bad)) assert.ok(lines[0].includes(path), path);
    assert.equal(lines[1], "Found 11 images belonging to 2 classes.");
    assert.equal(it.samples, 11);
    assert.equal(it.skipped.length, 3);
    const seen = new Set<string>();
    for (const b of await take(it, 10)) for (const f of b.files) seen.add(f);
    assert.equal(seen.size, 11);
    for (const path of Object.values(bad)) assert.ok(!seen.has(path));
  });
});

Deno.test("strict mode refuses a folder with unreadable images and lists them", async () => {
  await withTempDir(async (dir) => {
    await makeImageFolder(dir, { classes: { cars: 2, planes: 2 }, size: 8 });
    const bad = await writeBadImages(join(dir, "planes"));
    await assert.rejects(
      flowFromDirectory(dir, { targetSize: [8, 8], strict: true, log: () => {} }),
      (error: unknown) => {
        assert.ok(error instanceof DatasetError);
        assert.match(error.message, /Strict mode: 3 of 7 images/);
        for (const path of Object.values(bad)) assert.ok(error.message.includes(path), path);
        return true;
      },
    );
  });
});

Deno.test("a class whose images are all unreadable is an error", async () => {
  await withTempDir(async (dir) => {
    await makeImageFolder(dir, { classes: { cars: 2 }, size: 8 });
    await writeBadImages(join(dir, "planes"));
    await assert.rejects(
      flowFromDirectory(dir, { targetSize: [8, 8], classMode: "binary", log: () => {} }),
      /planes" has no readable images/,
    );
  });
});

Deno.test("missing or empty data folders and bad options are errors naming the folder", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(flowFromDirectory(join(dir, "nope"), { log: () => {} }), /does not exist/);
    await assert.rejects(flowFromDirectory(dir, { log: () => {} }), /has no class subfolders/);
    await makeImageFolder(dir, { classes: { cars: 1 }, size: 4 });
    await assert.rejects(
      flowFromDirectory(dir, { batchSize: 0, log: () => {} }),
      /batchSize must be a positive integer/,
    );
    await assert.rejects(
      flowFromDirectory(dir, { targetSize: [0, 4], log: () => {} }),
      /targetSize must be/,
    );
  });
});

const realTrainingSet = join(EMBEDDED_DATASET_DIR, "training_set");

Deno.test("on the embedded sample's 160 real photos, 30 batches of 32 draw each file 6 times", async () => {
  const { lines, log } = collector();
  const it = await flowFromDirectory(realTrainingSet, {
    targetSize: [64, 64],
    batchSize: 32,
    classMode: "binary",
    augment: { rescale: 1 / 255, shearRange: 0.2, zoomRange: 0.2, horizontalFlip: true },
    seed: 1,
    log,
  });
  assert.deepEqual(lines, ["Found 160 images belonging to 2 classes."]);
  assert.deepEqual(it.classIndices, { cars: 0, planes: 1 });
  const counts = new Map<string, number>();
  let images = 0;
  for (const batch of await take(it, 30)) {
    assert.deepEqual(batch.shape, [32, 64, 64, 3]);
    images += batch.size;
    for (const f of batch.files) counts.set(f, (counts.get(f) ?? 0) + 1);
  }
  assert.equal(images, 960);
  assert.equal(counts.size, 160);
  for (const n of counts.values()) assert.equal(n, 6);
});

Deno.test({
  name:
    "links to /dev/zero, a link loop and a dangling link in a class folder are reported and skipped",
  ignore: Deno.build.os === "windows", // no /dev/zero, and symlinks need privileges
  fn: async () => {
    await withTempDir(async (dir) => {
      await makeImageFolder(dir, { classes: { cars: 3, planes: 3 }, size: 8, format: "png" });
      await Deno.symlink("/dev/zero", join(dir, "cars", "z.jpg"));
      await Deno.symlink("/dev/urandom", join(dir, "cars", "r.jpg"));
      await Deno.symlink("loop.jpg", join(dir, "planes", "loop.jpg"));
      await Deno.symlink(join(dir, "nothing.png"), join(dir, "planes", "dangling.png"));
      const { lines, log } = collector();
      const it = await flowFromDirectory(dir, { targetSize: [8, 8], batchSize: 2, seed: 1, log });
      assert.match(lines[0], /^Skipped 4 unreadable images in /);
      assert.match(lines[0], /z\.jpg: it is not a regular file/);
      assert.match(lines[0], /r\.jpg: it is not a regular file/);
      assert.match(lines[0], /loop\.jpg: the file cannot be read/);
      assert.match(lines[0], /dangling\.png: the file does not exist/);
      assert.equal(it.samples, 6);
    });
  },
});
