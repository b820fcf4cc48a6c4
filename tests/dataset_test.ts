import assert from "node:assert/strict";
import { join } from "node:path";
import {
  compareCodePoints,
  DatasetError,
  formatFoundLine,
  formatImbalanceWarning,
  isImageFileName,
  listImageFiles,
  scanImageDirectory,
} from "../lib/data/dataset.ts";
import { makeImageFolder, withTempDir, writeImage } from "./fixtures.ts";

Deno.test("class indices come from the sorted folder names and files are grouped by class", async () => {
  await withTempDir(async (dir) => {
    await makeImageFolder(dir, { classes: { planes: 2, cars: 3 }, size: 8 });
    const ds = await scanImageDirectory(dir);
    assert.equal(ds.directory, dir);
    assert.deepEqual(ds.classNames, ["cars", "planes"]);
    assert.deepEqual(ds.classIndices, { cars: 0, planes: 1 });
    assert.deepEqual(ds.filenames, [
      "cars/cars_000.jpg",
      "cars/cars_001.jpg",
      "cars/cars_002.jpg",
      "planes/planes_000.jpg",
      "planes/planes_001.jpg",
    ]);
    assert.deepEqual(ds.files, ds.filenames.map((f) => join(dir, f)));
    assert.deepEqual(ds.labels, [0, 0, 0, 1, 1]);
  });
});

Deno.test("the Found line has exactly Keras' wording", async () => {
  await withTempDir(async (dir) => {
    await makeImageFolder(dir, { classes: { cars: 2, planes: 1 }, size: 4 });
    const ds = await scanImageDirectory(dir);
    assert.equal(formatFoundLine(ds), "Found 3 images belonging to 2 classes.");
    assert.equal(
      formatFoundLine({ files: ["x"], classNames: ["a"] }),
      "Found 1 images belonging to 1 classes.",
    );
  });
});

Deno.test("an explicit classes list sets the indices and leaves other folders out", async () => {
  await withTempDir(async (dir) => {
    await makeImageFolder(dir, { classes: { cars: 1, planes: 2, boats: 1 }, size: 4 });
    const ds = await scanImageDirectory(dir, { classes: ["planes", "cars"] });
    assert.deepEqual(ds.classIndices, { planes: 0, cars: 1 });
    assert.deepEqual(ds.labels, [0, 0, 1]);
    assert.ok(ds.filenames.every((f) => !f.startsWith("boats")));
  });
});

Deno.test("hidden files and folders, Thumbs.db and other non-images are skipped", async () => {
  await withTempDir(async (dir) => {
    await makeImageFolder(dir, { classes: { cars: 2, planes: 1 }, size: 4 });
    await Deno.writeTextFile(join(dir, "cars", "Thumbs.db"), "x");
    await Deno.writeTextFile(join(dir, "cars", ".DS_Store"), "x");
    await Deno.writeTextFile(join(dir, "cars", "notes.txt"), "x");
    await writeImage(join(dir, "cars", "._cars_000.jpg")); // macOS AppleDouble file
    await writeImage(join(dir, "cars", ".hidden", "x.jpg"));
    await writeImage(join(dir, ".ipynb_checkpoints", "x.jpg")); // not a class
    await writeImage(join(dir, "stray.jpg")); // files beside the class folders are not used
    const ds = await scanImageDirectory(dir);
    assert.deepEqual(ds.classNames, ["cars", "planes"]);
    assert.deepEqual(ds.filenames, [
      "cars/cars_000.jpg",
      "cars/cars_001.jpg",
      "planes/planes_000.jpg",
    ]);
  });
});

Deno.test("extensions are matched in any case, so .JPG and .PNG count", async () => {
  await withTempDir(async (dir) => {
    await makeImageFolder(dir, { classes: { cars: 1 }, size: 4, extension: "JPG" });
    await makeImageFolder(dir, {
      classes: { planes: 1 },
      size: 4,
      format: "png",
      extension: "PNG",
    });
    const ds = await scanImageDirectory(dir);
    assert.deepEqual(ds.filenames, ["cars/cars_000.JPG", "planes/planes_000.PNG"]);
  });
  for (const name of ["a.jpeg", "b.Tiff", "c.bmp", "d.ppm", "e.gif", "f.webp", "g.TIF"]) {
    assert.ok(isImageFileName(name), name);
  }
  for (const name of ["Thumbs.db", "notes.txt", ".DS_Store", "notajpg", "jpg", ".x.jpg"]) {
    assert.ok(!isImageFileName(name), name);
  }
});

Deno.test("subfolders inside a class are included in Keras' sorted(os.walk) order", async () => {
  await withTempDir(async (dir) => {
    const cars = join(dir, "cars");
    for (const rel of ["b.jpg", "a.jpg", "a/z.jpg", "a/sub/y.jpg", "a.b/x.jpg"]) {
      await writeImage(join(cars, rel), { width: 2, height: 2 });
    }
    // Keras sorts the walked folders by their path string: "cars" < "cars/a" < "cars/a.b" <
    // "cars/a/sub" ("." sorts before "/"), then the file names inside each.
    const files = await listImageFiles(cars);
    assert.deepEqual(files.map((f) => f.slice(cars.length + 1)), [
      "a.jpg",
      "b.jpg",
      "a/z.jpg",
      "a.b/x.jpg",
      "a/sub/y.jpg",
    ]);
  });
});

Deno.test("symlinked folders inside a class are not followed, like follow_links=False", async () => {
  await withTempDir(async (dir) => {
    await makeImageFolder(join(dir, "data"), { classes: { cars: 1 }, size: 4 });
    await writeImage(join(dir, "elsewhere", "x.jpg"));
    await Deno.symlink(join(dir, "elsewhere"), join(dir, "data", "cars", "linked"));
    const ds = await scanImageDirectory(join(dir, "data"));
    assert.deepEqual(ds.filenames, ["cars/cars_000.jpg"]);
  });
});

Deno.test("sorting compares code points like Python, not UTF-16 units", () => {
  assert.deepEqual(["b", "a", "B", "_"].sort(compareCodePoints), ["B", "_", "a", "b"]);
  // U+FF5E (one UTF-16 unit 0xFF5E) sorts before U+1F600 (surrogates 0xD83D...) by code point.
  assert.ok(compareCodePoints("\uFF5E", "\u{1F600}") < 0);
  assert.ok("\uFF5E" > "\u{1F600}"); // JavaScript's own comparison disagrees
  assert.equal(compareCodePoints("ab", "ab"), 0);
  assert.ok(compareCodePoints("a", "ab") < 0);
});

Deno.test("a missing folder is an error that names it and says what was expected", async () => {
  await withTempDir(async (dir) => {
    const missing = join(dir, "nope");
    await assert.rejects(scanImageDirectory(missing), (error: unknown) => {
      assert.ok(error instanceof DatasetError);
      assert.equal(error.path, missing);
      assert.match(error.message, /does not exist/);
      assert.match(error.message, /one subfolder of images per class/);
      return true;
    });
  });
});

Deno.test("a file given instead of a folder is an error", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "x.jpg");
    await writeImage(file);
    await assert.rejects(scanImageDirectory(file), /is a file, not a folder/);
  });
});

Deno.test("an empty folder, or one with images but no class folders, is an error", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(scanImageDirectory(dir), /has no class subfolders/);
    await writeImage(join(dir, "loose.jpg"));
    await assert.rejects(scanImageDirectory(dir), (error: unknown) => {
      assert.ok(error instanceof DatasetError);
      assert.ok(error.message.includes(dir));
      assert.match(error.message, /images lying directly in the folder are not used/);
      return true;
    });
  });
});

Deno.test("a class folder with no images is an error naming that folder", async () => {
  await withTempDir(async (dir) => {
    await makeImageFolder(dir, { classes: { cars: 2 }, size: 4 });
    await Deno.mkdir(join(dir, "planes"));
    await Deno.writeTextFile(join(dir, "planes", "Thumbs.db"), "x");
    await assert.rejects(scanImageDirectory(dir), (error: unknown) => {
      assert.ok(error instanceof DatasetError);
      assert.equal(error.path, join(dir, "planes"));
      assert.match(error.message, /holds no images/);
      assert.match(error.message, /Add images to it or remove the folder/);
      return true;
    });
  });
});

Deno.test("a requested class without a folder is an error", async () => {
  await withTempDir(async (dir) => {
    await makeImageFolder(dir, { classes: { cars: 1 }, size: 4 });
    await assert.rejects(
      scanImageDirectory(dir, { classes: ["cars", "planes"] }),
      /Class folder ".*planes" does not exist/,
    );
    await assert.rejects(scanImageDirectory(dir, { classes: ["cars", "cars"] }), /twice/);
  });
});

Deno.test("more than 3x the images of another class gets a warning naming both classes", () => {
  const labels = (counts: number[]) => counts.flatMap((n, c) => new Array(n).fill(c));
  const names = ["cars", "planes", "ships"];
  assert.equal(formatImbalanceWarning({ classNames: names, labels: labels([80, 80, 80]) }), null);
  assert.equal(
    formatImbalanceWarning({ classNames: names, labels: labels([80, 240, 100]) }),
    null,
    "3x exactly is still fine",
  );
  assert.equal(
    formatImbalanceWarning({ classNames: ["cars", "planes"], labels: labels([80, 10080]) }),
    "Warning: class imbalance: planes has 10080 images, cars 80 (126x). Accuracy will flatter " +
      "the model; balance the folders or weigh the classes (Keras' class_weight).",
  );
  assert.match(
    formatImbalanceWarning({ classNames: names, labels: labels([5, 40, 16]) })!,
    /planes has 40 images, cars 5 \(8x\)/,
  );
});

Deno.test("validationSplit and subset split each class as Keras: the first floor(split * n) files validate", async () => {
  await withTempDir(async (dir) => {
    await makeImageFolder(dir, { classes: { cars: 10, planes: 7 }, size: 8, format: "png" });
    const val = await scanImageDirectory(dir, { validationSplit: 0.2, subset: "validation" });
    const train = await scanImageDirectory(dir, { validationSplit: 0.2, subset: "training" });
    // keras_preprocessing's DirectoryIterator: split = (0, 0.2) for validation, (0.2, 1) for
    // training; start, stop = int(split[0] * n), int(split[1] * n) per class, files sorted.
    assert.deepEqual(val.filenames, [
      "cars/cars_000.png",
      "cars/cars_001.png",
      "planes/planes_000.png",
    ]);
    assert.deepEqual(val.labels, [0, 0, 1]);
    assert.equal(train.files.length, 8 + 6);
    assert.equal(train.filenames[0], "cars/cars_002.png");
    assert.deepEqual(
      [...val.files, ...train.files].sort(),
      (await scanImageDirectory(dir)).files.slice().sort(),
      "the two subsets are disjoint and cover the folder",
    );
    await assert.rejects(
      scanImageDirectory(dir, { validationSplit: 0.01, subset: "validation" }),
      /has 10 images; validationSplit 0.01 leaves none for the validation subset/,
    );
    await assert.rejects(
      scanImageDirectory(dir, { validationSplit: 1.5, subset: "training" }),
      /validationSplit must be a number strictly between 0 and 1 to use subset "training", got 1.5/,
    );
    await assert.rejects(
      scanImageDirectory(dir, { validationSplit: 0.2 }),
      /subset must be "training" or "validation" when validationSplit is given, got undefined/,
    );
  });
});
