/** The image errors and caps. */
import assert from "node:assert/strict";
import {
  ImageDecodeError,
  MAX_IMAGE_FILE_BYTES,
  MAX_IMAGE_PIXELS,
  UnreadableImagesError,
} from "../lib/data/image_types.ts";
import { CarplaneError } from "../lib/errors.ts";

Deno.test("an ImageDecodeError names the file, its reason and the formats expected", () => {
  const e = new ImageDecodeError("a.jpg", "the file is empty (0 bytes)");
  assert.ok(e instanceof CarplaneError);
  assert.match(
    e.message,
    /Cannot decode image "a\.jpg": the file is empty \(0 bytes\)\. Expected a JPEG/,
  );
  const all = new UnreadableImagesError([{ path: "a.jpg", reason: "x" }, {
    path: "b.png",
    reason: "y",
  }], 9);
  assert.ok(
    all.message.startsWith(
      "2 of 9 images cannot be decoded (strict mode):\n  a.jpg: x\n  b.png: y",
    ),
    all.message,
  );
});

Deno.test("the caps are the documented 64 MiB per file and 2^26 pixels", () => {
  assert.equal(MAX_IMAGE_FILE_BYTES, 64 * 1024 * 1024);
  assert.equal(MAX_IMAGE_PIXELS, 67_108_864);
});
