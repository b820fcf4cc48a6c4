/**
 * Reading image files safely (issue 11, items 2 and 14): only regular files, at most
 * MAX_IMAGE_FILE_BYTES each, and every failure reported with its own file's reason.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { decodeImageFile } from "../lib/data/image_decode.ts";
import { decodeBmp } from "../lib/data/image_bmp.ts";
import { decodePnm } from "../lib/data/image_pnm.ts";
import { loadImages } from "../lib/data/images.ts";
import {
  ImageDecodeError,
  MAX_IMAGE_FILE_BYTES,
  MAX_IMAGE_PIXELS,
} from "../lib/data/image_types.ts";
import { encodeRgb, fixturePixels, withTempDir, writeImage } from "./fixtures.ts";

const decodeFails = async (file: string, reason: RegExp) =>
  await assert.rejects(decodeImageFile(file), (e: unknown) => {
    assert.ok(e instanceof ImageDecodeError, String(e));
    assert.equal(e.path, file);
    assert.match(e.reason, reason);
    return true;
  });

Deno.test({
  name: "a link to /dev/zero named .jpg is refused without being read",
  ignore: Deno.build.os === "windows", // no /dev/zero there
  fn: async () => {
    await withTempDir(async (dir) => {
      const link = join(dir, "z.jpg");
      await Deno.symlink("/dev/zero", link);
      await decodeFails(link, /not a regular file/);
      const random = join(dir, "r.jpg");
      await Deno.symlink("/dev/urandom", random);
      await decodeFails(random, /not a regular file/);
    });
  },
});

Deno.test("a file larger than the per-image cap is refused by its size, unread", async () => {
  await withTempDir(async (dir) => {
    const big = join(dir, "huge.jpg");
    const file = await Deno.open(big, { create: true, write: true });
    await file.truncate(MAX_IMAGE_FILE_BYTES + 1); // sparse: costs no disk
    file.close();
    await decodeFails(big, /more than the 64 MiB read per image/);
  });
});

Deno.test("folders, dangling links and link loops get their own reasons", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(join(dir, "folder.jpg"));
    await decodeFails(join(dir, "folder.jpg"), /is a folder/);
    await Deno.symlink(join(dir, "nothing.jpg"), join(dir, "dangling.jpg"));
    await decodeFails(join(dir, "dangling.jpg"), /does not exist/);
    await Deno.symlink("loop.jpg", join(dir, "loop.jpg"));
    await decodeFails(join(dir, "loop.jpg"), /cannot be read/);
  });
});

Deno.test("BMP and PNM headers declaring more pixels than the cap are refused before allocating", () => {
  const side = Math.ceil(Math.sqrt(MAX_IMAGE_PIXELS)) + 1;
  assert.throws(
    () => decodePnm(new TextEncoder().encode(`P1 ${side} ${side} 0`), "big.pbm"),
    /pixels, more than the \d+ decoded per image/,
  );
  const bmp = new Uint8Array(54);
  const v = new DataView(bmp.buffer);
  bmp.set([0x42, 0x4d]);
  v.setUint32(10, 54, true);
  v.setUint32(14, 40, true);
  v.setInt32(18, side, true);
  v.setInt32(22, side, true);
  v.setUint16(28, 1, true);
  assert.throws(() => decodeBmp(bmp, "big.bmp"), /pixels, more than the \d+ decoded per image/);
});

Deno.test("concurrent decode failures keep their own file's reason", async () => {
  await withTempDir(async (dir) => {
    const jpeg = await encodeRgb(fixturePixels(32, 32, 0, 1), 32, 32, "jpeg");
    const files: string[] = [];
    for (let i = 0; i < 30; i++) {
      files.push(join(dir, `trunc${i}.jpg`));
      await Deno.writeFile(files.at(-1)!, jpeg.subarray(0, Math.floor(jpeg.length / 2)));
      files.push(join(dir, `text${i}.jpg`));
      await Deno.writeTextFile(files.at(-1)!, "hello, not an image\n".repeat(20));
      files.push(join(dir, `tiff${i}.tif`));
      await Deno.writeFile(files.at(-1)!, new Uint8Array([0x49, 0x49, 0x2a, 0, 8, 0, 0, 0, 1]));
      files.push(join(dir, `ok${i}.png`));
      await writeImage(files.at(-1)!, { width: 8, height: 8, format: "png" });
    }
    // Each file's reason when decoded alone.
    const alone = new Map<string, string>();
    for (const f of files) {
      await decodeImageFile(f).catch((e: ImageDecodeError) => alone.set(f, e.reason));
    }
    assert.equal(alone.size, 90);
    const mixed: string[] = [];
    for (let round = 0; round < 5; round++) {
      const { skipped, images } = await loadImages(files, { concurrency: 8 });
      assert.equal(images.length, 30);
      for (const s of skipped) {
        if (alone.get(s.path) !== s.reason) mixed.push(`${s.path}: ${s.reason}`);
      }
    }
    assert.deepEqual(mixed, []);
  });
});
