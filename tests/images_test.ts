import assert from "node:assert/strict";
import { join } from "node:path";
import {
  decodeImageFile,
  ImageDecodeError,
  loadImage,
  loadImageRgb,
  loadImages,
  resizeBilinear,
  resizeNearest,
  type RgbImage,
  UnreadableImagesError,
} from "../lib/data/images.ts";
import { encodeRgb, fixturePixels, withTempDir, writeBadImages, writeImage } from "./fixtures.ts";

function maxDiff(a: Uint8Array, b: Uint8Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function rgb(width: number, height: number, values: number[]): RgbImage {
  return { width, height, data: Uint8Array.from(values) };
}

Deno.test("an RGB PNG decodes to exactly its pixels as 8-bit HWC RGB", async () => {
  await withTempDir(async (dir) => {
    const pixels = await writeImage(join(dir, "a.png"), { width: 5, height: 3 });
    const img = await decodeImageFile(join(dir, "a.png"));
    assert.equal(img.width, 5);
    assert.equal(img.height, 3);
    assert.deepEqual(img.data, pixels);
  });
});

Deno.test("lossless formats Keras accepts (BMP, PPM, TIFF, WebP, GIF) decode to their pixels", async () => {
  await withTempDir(async (dir) => {
    const pixels = fixturePixels(6, 7, 1, 2);
    for (const format of ["bmp", "ppm", "tiff", "webp", "gif"] as const) {
      const path = join(dir, `x.${format}`);
      await Deno.writeFile(path, await encodeRgb(pixels, 7, 6, format));
      const img = await decodeImageFile(path);
      assert.equal(img.width, 7, format);
      assert.equal(img.height, 6, format);
      // GIF goes through a 256-colour palette; the fixture has few colours, so it stays close.
      assert.ok(maxDiff(img.data, pixels) <= (format === "gif" ? 8 : 0), format);
    }
  });
});

Deno.test("grayscale PNG and JPEG become three equal channels", async () => {
  await withTempDir(async (dir) => {
    for (const name of ["g.png", "g.jpg"]) {
      const pixels = await writeImage(join(dir, name), { mode: "gray", width: 8, height: 8 });
      const img = await decodeImageFile(join(dir, name));
      assert.equal(img.data.length, 8 * 8 * 3);
      for (let i = 0; i < 64; i++) {
        assert.equal(img.data[i * 3], img.data[i * 3 + 1]);
        assert.equal(img.data[i * 3], img.data[i * 3 + 2]);
        assert.ok(Math.abs(img.data[i * 3] - pixels[i * 3]) <= (name.endsWith("png") ? 0 : 3));
      }
    }
  });
});

Deno.test("alpha is dropped without compositing, for RGBA and gray+alpha, like PIL convert('RGB')", async () => {
  await withTempDir(async (dir) => {
    const pixels = await writeImage(join(dir, "rgba.png"), { mode: "rgba", alpha: 0 });
    const img = await decodeImageFile(join(dir, "rgba.png"));
    assert.deepEqual(img.data, pixels); // fully transparent pixels keep their colour
    const gray = await writeImage(join(dir, "ga.png"), { mode: "gray-alpha", alpha: 30 });
    const ga = await decodeImageFile(join(dir, "ga.png"));
    for (let i = 0; i < 64; i++) {
      assert.deepEqual([...ga.data.subarray(i * 3, i * 3 + 3)], [
        gray[i * 3],
        gray[i * 3],
        gray[i * 3],
      ]);
    }
  });
});

Deno.test("a palette PNG is looked up to RGB", async () => {
  await withTempDir(async (dir) => {
    const pixels = await writeImage(join(dir, "p.png"), { mode: "palette" });
    const img = await decodeImageFile(join(dir, "p.png"));
    assert.equal(img.data.length, pixels.length);
    assert.ok(maxDiff(img.data, pixels) <= 8);
  });
});

Deno.test("16-bit RGB keeps the high byte of each sample, as PIL's RGB;16B mode does", async () => {
  await withTempDir(async (dir) => {
    // v * 256 + 200: the high byte is v, while rounding v16 / 257 would give v + 1 for most v.
    const pixels = fixturePixels(4, 4, 0, 0);
    const samples16 = Uint16Array.from(pixels, (v) => v * 256 + 200);
    await writeImage(join(dir, "rgb16.png"), { mode: "rgb16", width: 4, height: 4, samples16 });
    const img = await decodeImageFile(join(dir, "rgb16.png"));
    assert.deepEqual(img.data, pixels);
  });
});

Deno.test("16-bit grayscale clips at 255 exactly as PIL's I;16 to RGB conversion does", async () => {
  await withTempDir(async (dir) => {
    const samples16 = Uint16Array.from([0, 100, 255, 256, 40000, 65535]);
    await writeImage(join(dir, "g16.png"), { mode: "gray16", width: 6, height: 1, samples16 });
    const img = await decodeImageFile(join(dir, "g16.png"));
    assert.deepEqual(
      [...img.data],
      [0, 100, 255, 255, 255, 255].flatMap((v) => [v, v, v]),
    );
  });
});

Deno.test("a CMYK JPEG becomes plausible RGB through PIL's naive CMYK formula", async () => {
  await withTempDir(async (dir) => {
    // Left half pure red, right half white.
    const pixels = new Uint8Array(8 * 8 * 3);
    for (let i = 0; i < 64; i++) {
      const red = i % 8 < 4;
      pixels.set(red ? [230, 20, 20] : [255, 255, 255], i * 3);
    }
    await writeImage(join(dir, "cmyk.jpg"), { mode: "cmyk", pixels });
    const img = await decodeImageFile(join(dir, "cmyk.jpg"));
    assert.equal(img.data.length, 8 * 8 * 3);
    const at = (
      x: number,
      y: number,
    ) => [...img.data.subarray((y * 8 + x) * 3, (y * 8 + x) * 3 + 3)];
    const [r, g, b] = at(1, 4);
    assert.ok(r > 180 && g < 90 && b < 90, `red stays red, got ${[r, g, b]}`);
    for (const v of at(6, 4)) assert.ok(v > 235, `white stays white, got ${at(6, 4)}`);
  });
});

Deno.test("an empty file, a truncated JPEG and a text file named .jpg raise ImageDecodeError naming the file", async () => {
  await withTempDir(async (dir) => {
    const bad = await writeBadImages(dir);
    const cases: [string, RegExp][] = [
      [bad.zeroByte, /empty \(0 bytes\)/],
      [bad.truncated, /truncated/],
      [bad.textAsJpeg, /not a recognised image format/],
      [join(dir, "missing.jpg"), /does not exist/],
    ];
    for (const [path, reason] of cases) {
      await assert.rejects(decodeImageFile(path), (error: unknown) => {
        assert.ok(error instanceof ImageDecodeError);
        assert.equal(error.path, path);
        assert.match(error.message, reason);
        assert.ok(error.message.includes(path));
        assert.match(error.message, /Expected a JPEG, PNG/);
        return true;
      });
    }
  });
});

Deno.test("nearest resize 32 -> 64 duplicates every pixel exactly", () => {
  const src = rgb(32, 32, [...fixturePixels(32, 32, 1, 4)]);
  const out = resizeNearest(src, 64, 64);
  for (let y = 0; y < 64; y++) {
    for (let x = 0; x < 64; x++) {
      for (let c = 0; c < 3; c++) {
        assert.equal(
          out.data[(y * 64 + x) * 3 + c],
          src.data[((y >> 1) * 32 + (x >> 1)) * 3 + c],
        );
      }
    }
  }
});

Deno.test("nearest resize picks source index floor((x + 0.5) * src / dst) like PIL", () => {
  // One row, values = column index * 10; 3 -> 7 and 7 -> 3.
  const row = (n: number) => rgb(n, 1, Array.from({ length: n }, (_, i) => [i * 10, 0, 0]).flat());
  const up = resizeNearest(row(3), 1, 7);
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map((x) => up.data[x * 3]), [0, 0, 10, 10, 10, 20, 20]);
  const down = resizeNearest(row(7), 1, 3);
  assert.deepEqual([0, 1, 2].map((x) => down.data[x * 3]), [10, 30, 50]);
});

Deno.test("bilinear resize matches PIL's convolution, including its antialiasing when shrinking", () => {
  // Enlarging [0, 100] to 4 columns: PIL gives [a, .75a + .25b, .25a + .75b, b].
  const up = resizeBilinear(rgb(2, 1, [0, 0, 0, 100, 100, 100]), 1, 4);
  assert.deepEqual([0, 1, 2, 3].map((x) => up.data[x * 3]), [0, 25, 75, 100]);
  // Shrinking [0, 70, 140, 210] to 2: support 2 -> weights (3, 3, 1)/7 and (1, 3, 3)/7.
  const down = resizeBilinear(rgb(4, 1, [0, 70, 140, 210].flatMap((v) => [v, v, v])), 1, 2);
  assert.deepEqual([down.data[0], down.data[3]], [50, 160]);
  // Vertical pass works the same way.
  const tall = resizeBilinear(rgb(1, 2, [0, 0, 0, 100, 100, 100]), 4, 1);
  assert.deepEqual([0, 1, 2, 3].map((y) => tall.data[y * 3]), [0, 25, 75, 100]);
});

Deno.test("loadImage returns float32 HWC RGB at the target size with values 0..255", async () => {
  await withTempDir(async (dir) => {
    const pixels = await writeImage(join(dir, "a.png"), { width: 32, height: 32 });
    const img = await loadImage(join(dir, "a.png"), { targetSize: [64, 64] });
    assert.equal(img.channels, 3);
    assert.equal(img.height, 64);
    assert.equal(img.width, 64);
    assert.ok(img.data instanceof Float32Array);
    assert.equal(img.data.length, 64 * 64 * 3);
    assert.equal(img.data[0], pixels[0]);
    const bilinear = await loadImageRgb(join(dir, "a.png"), {
      targetSize: [16, 24],
      interpolation: "bilinear",
    });
    assert.equal(bilinear.data.length, 16 * 24 * 3);
  });
});

Deno.test("loadImages skips unreadable files with reasons, or throws listing all of them in strict mode", async () => {
  await withTempDir(async (dir) => {
    await writeImage(join(dir, "good1.png"));
    await writeImage(join(dir, "good2.jpg"));
    const bad = await writeBadImages(dir);
    const paths = [
      join(dir, "good1.png"),
      bad.zeroByte,
      bad.truncated,
      join(dir, "good2.jpg"),
      bad.textAsJpeg,
    ];
    const result = await loadImages(paths, { targetSize: [4, 4] });
    assert.deepEqual(result.paths, [paths[0], paths[3]]);
    assert.equal(result.images.length, 2);
    assert.equal(result.images[0].data.length, 4 * 4 * 3);
    assert.deepEqual(result.skipped.map((s) => s.path), [
      bad.zeroByte,
      bad.truncated,
      bad.textAsJpeg,
    ]);
    await assert.rejects(loadImages(paths, { strict: true }), (error: unknown) => {
      assert.ok(error instanceof UnreadableImagesError);
      assert.equal(error.skipped.length, 3);
      for (const p of [bad.zeroByte, bad.truncated, bad.textAsJpeg]) {
        assert.ok(error.message.includes(p), p);
      }
      return true;
    });
  });
});

Deno.test("resizing matches reference values computed with Pillow 9.4 (Image.resize)", () => {
  // Reference: PIL.Image.fromarray(fixturePixels(32, 32, 1, 4)).resize((w, h), filter);
  // "weighted" = sum of value * (flat index % 251 + 1), px = the pixel at row 5, column 7.
  const src = rgb(32, 32, [...fixturePixels(32, 32, 1, 4)]);
  const cases: [RgbImage, number, number, number[]][] = [
    [resizeNearest(src, 23, 45), 186304, 22900700, [7, 18, 55]],
    [resizeBilinear(src, 23, 45), 184469, 22690435, [8, 19, 56]],
    [resizeBilinear(src, 50, 20), 178142, 22379827, [20, 41, 112]],
  ];
  for (const [img, sum, weighted, px] of cases) {
    let s = 0;
    let ws = 0;
    img.data.forEach((v, i) => {
      s += v;
      ws += v * ((i % 251) + 1);
    });
    assert.equal(s, sum);
    assert.equal(ws, weighted);
    const o = (5 * img.width + 7) * 3;
    assert.deepEqual([...img.data.subarray(o, o + 3)], px);
  }
});
