/** PIL's resize algorithms on 8-bit RGB (the Pillow reference values are in images_test.ts). */
import assert from "node:assert/strict";
import { resizeBilinear, resizeImage, resizeNearest } from "../lib/data/image_resize.ts";
import type { RgbImage } from "../lib/data/image_types.ts";

const img = (width: number, height: number): RgbImage => ({
  width,
  height,
  data: Uint8Array.from({ length: width * height * 3 }, (_, i) => (i * 37) & 0xff),
});

Deno.test("the same size is returned as is; other sizes get new images", () => {
  const a = img(4, 3);
  assert.equal(resizeImage(a, [3, 4]), a);
  const n = resizeNearest(a, 6, 8);
  assert.deepEqual([n.width, n.height, n.data.length], [8, 6, 144]);
  // Enlarging 2x duplicates every pixel.
  assert.deepEqual([...n.data.subarray(0, 6)], [
    ...a.data.subarray(0, 3),
    ...a.data.subarray(0, 3),
  ]);
  const b = resizeBilinear(a, 3, 4);
  assert.notEqual(b.data, a.data);
  assert.deepEqual(b.data, a.data);
});

Deno.test("bad sizes and unknown interpolations are RangeErrors naming them", () => {
  assert.throws(
    () => resizeNearest(img(2, 2), 0, 3),
    /positive integers \[height, width\], got \[0, 3\]/,
  );
  assert.throws(
    () => resizeImage(img(2, 2), [3, 3], "bogus" as "nearest"),
    /Unknown interpolation "bogus"/,
  );
});
