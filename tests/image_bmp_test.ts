/** The BMP decoder (sharp cannot read BMP). */
import assert from "node:assert/strict";
import { decodeBmp } from "../lib/data/image_bmp.ts";
import { ImageDecodeError } from "../lib/data/image_types.ts";
import { encodeBmp, fixturePixels } from "./fixtures.ts";

Deno.test("a 24-bit BMP decodes to exactly its pixels, rows in order", () => {
  const pixels = fixturePixels(5, 7, 0, 3);
  const img = decodeBmp(encodeBmp(pixels, 7, 5), "a.bmp");
  assert.deepEqual([img.width, img.height], [7, 5]);
  assert.deepEqual(img.data, pixels);
});

Deno.test("truncated pixel data and RLE compression are ImageDecodeErrors with reasons", () => {
  const bmp = encodeBmp(fixturePixels(4, 4, 0, 1), 4, 4);
  assert.throws(
    () => decodeBmp(bmp.subarray(0, bmp.length - 10), "cut.bmp"),
    (e: unknown) => e instanceof ImageDecodeError && /pixel data is truncated/.test(e.reason),
  );
  const rle = bmp.slice();
  new DataView(rle.buffer).setUint32(30, 1, true);
  assert.throws(() => decodeBmp(rle, "rle.bmp"), /RLE\) is not supported/);
});
