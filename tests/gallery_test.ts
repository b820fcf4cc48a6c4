import assert from "node:assert/strict";
import { join } from "node:path";
import sharp from "sharp";
import {
  augmentationGrid,
  describeTransform,
  GalleryError,
  renderTileSheet,
  sampleGrid,
  shortenStart,
} from "../lib/report/gallery.ts";
import { ARTICLE_TRAIN_AUGMENTATION } from "../lib/training/experiment.ts";
import { withTempDir, writeImage } from "./fixtures.ts";

async function pixels(png: Uint8Array) {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  const at = (x: number, y: number) => {
    const i = (y * info.width + x) * info.channels;
    return Array.from(data.subarray(i, i + 3));
  };
  return { info, at, data };
}

/** A 4x4 image: left half red, right half blue. */
function halves(): Uint8Array {
  const px = new Uint8Array(4 * 4 * 3);
  for (let y = 0; y < 4; y++) {
    for (let x = 0; x < 4; x++) px.set(x < 2 ? [255, 0, 0] : [0, 0, 255], (y * 4 + x) * 3);
  }
  return px;
}

Deno.test("renderTileSheet lays tiles out in rows with frames, captions and a title", async () => {
  const red = {
    width: 2,
    height: 2,
    data: new Uint8Array(12).fill(0).map((_, i) => i % 3 ? 0 : 200),
  };
  const png = await renderTileSheet(
    [
      { image: red, frame: "#2ca02c", captions: [{ text: "one" }, { text: "a" }] },
      { image: red },
      { image: red, captions: [{ text: "three" }] },
    ],
    { tileSize: 16, columns: 2, title: "T" },
  );
  const { info, at } = await pixels(png);
  // cells are (16 + 16) wide and (16 + 36 + 16) high (two caption lines), title 34
  assert.equal(info.width, 2 * 32);
  assert.equal(info.height, 34 + 2 * (16 + 36 + 16));
  assert.deepEqual(at(8 + 4, 34 + 8 + 4), [200, 0, 0]); // image, enlarged nearest
  assert.deepEqual(at(5, 34 + 5), [0x2c, 0xa0, 0x2c]); // green frame
  assert.deepEqual(at(32 + 5, 34 + 5), [255, 255, 255]); // no frame on the second tile
  await assert.rejects(renderTileSheet([]), GalleryError);
  await assert.rejects(renderTileSheet([{ image: red }], { tileSize: 3 }), /at least 8/);
  await assert.rejects(
    renderTileSheet([{ image: "/no/such/image.png" }]),
    (e: unknown) => e instanceof GalleryError && /no\/such\/image\.png/.test(e.message),
  );
});

Deno.test("sampleGrid draws the files as a captioned grid, enlarged nearest", async () => {
  await withTempDir(async (dir) => {
    const files = [join(dir, "a.png"), join(dir, "b.jpg"), join(dir, "c.png")];
    await writeImage(files[0], { width: 4, height: 4, pixels: halves() });
    await writeImage(files[1], { width: 32, height: 32 });
    await writeImage(files[2], { width: 8, height: 8 });
    const png = await sampleGrid(files, {
      tileSize: 32,
      columns: 2,
      captions: ["cars", "planes", "a/very/long/path/to/the/image.jpg"],
    });
    const { info, at } = await pixels(png);
    assert.equal(info.width, 2 * 48);
    assert.equal(info.height, 2 * (32 + 22 + 16)); // one caption line, no title
    assert.deepEqual(at(8 + 3, 8 + 3), [255, 0, 0]); // left half of a.png, nearest
    assert.deepEqual(at(8 + 28, 8 + 28), [0, 0, 255]); // right half
    const plain = await sampleGrid(files.slice(0, 1), { tileSize: 16 });
    assert.equal((await sharp(plain).metadata()).height, 16 + 16);
    await assert.rejects(sampleGrid([]), GalleryError);
    await assert.rejects(sampleGrid(files, { captions: ["x"] }), /one caption per file/);
  });
});

Deno.test("augmentationGrid shows the original then seeded augmentations", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "plane.png");
    await writeImage(file, { width: 4, height: 4, pixels: halves() });
    const options = {
      count: 3,
      seed: 7,
      tileSize: 32,
      columns: 4,
      targetSize: [8, 8] as [number, number],
    };
    const png = await augmentationGrid(file, { horizontalFlip: true }, options);
    const { info, at } = await pixels(png);
    assert.equal(info.width, 4 * 48);
    assert.equal(info.height, 32 + 36 + 16);
    assert.deepEqual(at(8 + 2, 8 + 2), [255, 0, 0]); // the original: red on the left
    // flips only: every variant is the image or its mirror
    for (let i = 1; i <= 3; i++) {
      const left = at(i * 48 + 8 + 2, 8 + 2);
      const right = at(i * 48 + 8 + 29, 8 + 2);
      assert.ok(
        (left.join() === "255,0,0" && right.join() === "0,0,255") ||
          (left.join() === "0,0,255" && right.join() === "255,0,0"),
        `tile ${i}: ${left} / ${right}`,
      );
    }
    // same seed, same picture; another seed, another draw
    assert.deepEqual(await augmentationGrid(file, { horizontalFlip: true }, options), png);
    const article = await augmentationGrid(file, ARTICLE_TRAIN_AUGMENTATION, options);
    const other = await augmentationGrid(file, ARTICLE_TRAIN_AUGMENTATION, { ...options, seed: 8 });
    assert.notDeepEqual(article, other);
    await assert.rejects(augmentationGrid(file, {}, { count: 0 }), /count >= 1/);
  });
});

Deno.test("describeTransform names what a random transform did", () => {
  assert.equal(
    describeTransform({ flipHorizontal: true, shear: 0.0213, zx: 0.9, zy: 1.1 }),
    "flip · shear 0.02° · zoom 0.9×1.1",
  );
  assert.equal(describeTransform({ theta: 12.34, tx: 2, ty: -1 }), "rot 12.3° · shift 2,-1");
  assert.equal(describeTransform({ zx: 1, zy: 1, shear: 0, flipHorizontal: false }), "no change");
  assert.equal(shortenStart("training_set/planes/0042.jpg", 12), "…es/0042.jpg");
  assert.equal(shortenStart("a.jpg", 12), "a.jpg");
});
