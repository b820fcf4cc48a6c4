/**
 * Image decoding with the meaning Keras' `load_img` gives it (PIL underneath): any file mode
 * becomes 8-bit RGB the way PIL's `Image.convert("RGB")` does it.
 *
 * Only regular files are read (a link to `/dev/zero` named `.jpg` is refused unread), at most
 * {@link MAX_IMAGE_FILE_BYTES} of them, decoding to at most {@link MAX_IMAGE_PIXELS}.
 *
 * Decoding itself is done by sharp (JPEG, PNG, GIF, TIFF, WebP) and by small native decoders for
 * the two formats Keras accepts that sharp cannot read (BMP and PPM/PGM/PBM).
 *
 * PIL's conversion rules reproduced here:
 * - grayscale (`L`) and grayscale+alpha (`LA`): gray replicated to R, G and B, alpha dropped;
 * - RGBA: alpha dropped (no compositing onto a background), like `convert("RGB")`;
 * - palette (`P`): palette lookup, transparency dropped;
 * - CMYK JPEG: PIL's naive `cmyk2rgb` (`R = (255 - K) - C * (255 - K) / 255`), not an ICC
 *   transform; embedded ICC profiles are ignored for every mode, as PIL ignores them;
 * - 16-bit RGB(A) and 16-bit gray+alpha: the high byte of each sample (PIL's `;16B` raw modes);
 * - 16-bit single-channel gray (PIL mode `I;16`): values above 255 are CLIPPED to 255, exactly as
 *   PIL's `I;16 -> RGB` conversion does (so such images come out mostly white in Keras too);
 * - EXIF orientation is not applied (Keras does not apply it either); multi-frame files give
 *   their first frame.
 *
 * @module
 */
import sharp from "sharp";
import { decodeBmp } from "./image_bmp.ts";
import { decodePnm } from "./image_pnm.ts";
import {
  ImageDecodeError,
  MAX_IMAGE_FILE_BYTES,
  MAX_IMAGE_PIXELS,
  type RgbImage,
} from "./image_types.ts";

/**
 * Reads and decodes an image file into 8-bit RGB at its original size, with PIL's
 * `convert("RGB")` semantics (see the module documentation).
 *
 * @param path the image file
 * @returns the decoded image
 * @throws {ImageDecodeError} for missing, empty, truncated or non-image files
 * @example
 * ```ts
 * const img = await decodeImageFile("data/training_set/cars/0001.jpg");
 * console.log(img.width, img.height, img.data.length); // 32 32 3072
 * ```
 */
export async function decodeImageFile(path: string): Promise<RgbImage> {
  const unreadable = (reason: string, error?: unknown): never => {
    throw new ImageDecodeError(path, reason, { cause: error });
  };
  let info: Deno.FileInfo;
  try {
    // stat (not open) first: opening a FIFO would block until something writes to it.
    info = await Deno.stat(path);
  } catch (error) {
    return unreadable(describeReadError(error), error);
  }
  if (!info.isFile) {
    unreadable(
      info.isDirectory
        ? "it is a folder, not an image file"
        : "it is not a regular file (a device, FIFO or socket, perhaps through a link); only " +
          "regular files are read as images",
    );
  }
  if (info.size > MAX_IMAGE_FILE_BYTES) unreadable(tooLarge(info.size));
  let bytes: Uint8Array;
  try {
    bytes = await readAtMost(path, MAX_IMAGE_FILE_BYTES);
  } catch (error) {
    return unreadable(describeReadError(error), error);
  }
  if (bytes.length > MAX_IMAGE_FILE_BYTES) unreadable(tooLarge(bytes.length));
  return await decodeImageBytes(bytes, path);
}

function describeReadError(error: unknown): string {
  return error instanceof Deno.errors.NotFound
    ? "the file does not exist (or is a link to nothing)"
    : `the file cannot be read (${(error as Error).message})`;
}

function tooLarge(bytes: number): string {
  return `the file is ${(bytes / 1024 ** 2).toFixed(0)} MiB, more than the ` +
    `${MAX_IMAGE_FILE_BYTES / 1024 ** 2} MiB read per image`;
}

/** Reads a file's first `limit + 1` bytes at most (one more than allowed shows it is too large). */
async function readAtMost(path: string, limit: number): Promise<Uint8Array> {
  const file = await Deno.open(path, { read: true });
  try {
    const info = await file.stat();
    if (!info.isFile) throw new Error("not a regular file");
    const buf = new Uint8Array(Math.min(limit + 1, Math.max(info.size, 0) + 1));
    let filled = 0;
    while (filled < buf.length) {
      const n = await file.read(buf.subarray(filled));
      if (n === null) break;
      filled += n;
    }
    return buf.subarray(0, filled);
  } finally {
    file.close();
  }
}

/**
 * Decodes an encoded image held in memory into 8-bit RGB (PIL `convert("RGB")` semantics).
 *
 * @param bytes the encoded file content
 * @param path a name for the content, used in error messages
 * @returns the decoded image
 * @throws {ImageDecodeError} for empty, truncated or non-image content
 * @example
 * ```ts
 * const bytes = await Deno.readFile("photo.png");
 * const img = await decodeImageBytes(bytes, "photo.png");
 * ```
 */
export async function decodeImageBytes(
  bytes: Uint8Array,
  path: string,
): Promise<RgbImage> {
  if (bytes.length === 0) {
    throw new ImageDecodeError(path, "the file is empty (0 bytes)");
  }
  if (bytes[0] === 0x42 && bytes[1] === 0x4d) return decodeBmp(bytes, path);
  if (bytes[0] === 0x50 && bytes[1] >= 0x31 && bytes[1] <= 0x36) {
    return decodePnm(bytes, path);
  }
  return await decodeWithSharp(bytes, path);
}

/**
 * libvips keeps ONE error buffer per process (`vips_error_buffer()`), and sharp builds its error
 * message from it after a failed operation. Decodes running at the same time on libvips' threads
 * therefore read, or clear, each other's messages: measured on 120 bad files decoded 8 at a time,
 * 3 to 20 of 600 reasons belonged to another file (a truncated JPEG reported as "tiff2vips: Not a
 * TIFF file, bad magic number 0x6568", the first bytes of a text file beside it). Successful
 * decodes are unaffected, so decodes run concurrently (shared), and a failed one is decoded again
 * alone (exclusive), when the buffer can hold only its own message.
 */
class SharpGate {
  #shared = 0;
  #exclusive: Promise<void> | null = null;
  #drained: (() => void)[] = [];

  async shared<T>(fn: () => Promise<T>): Promise<T> {
    while (this.#exclusive) await this.#exclusive;
    this.#shared++;
    try {
      return await fn();
    } finally {
      if (--this.#shared === 0) { for (const wake of this.#drained.splice(0)) wake(); }
    }
  }

  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    while (this.#exclusive) await this.#exclusive;
    let release!: () => void;
    this.#exclusive = new Promise((resolve) => (release = resolve));
    try {
      while (this.#shared > 0) await new Promise<void>((wake) => this.#drained.push(wake));
      return await fn();
    } finally {
      this.#exclusive = null;
      release();
    }
  }
}

const sharpGate = new SharpGate();

async function decodeWithSharp(bytes: Uint8Array, path: string): Promise<RgbImage> {
  try {
    return await sharpGate.shared(() => sharpDecode(bytes, path));
  } catch (error) {
    if (!(error instanceof ImageDecodeError)) throw error;
    return await sharpGate.exclusive(() => sharpDecode(bytes, path));
  }
}

async function sharpDecode(
  bytes: Uint8Array,
  path: string,
): Promise<RgbImage> {
  const open = () =>
    sharp(bytes, { failOn: "truncated", ignoreIcc: true, limitInputPixels: MAX_IMAGE_PIXELS });
  let meta: sharp.Metadata;
  try {
    meta = await open().metadata();
  } catch (error) {
    throw new ImageDecodeError(path, describeSharpError(error), {
      cause: error,
    });
  }
  try {
    if (meta.space === "cmyk") {
      // Keep the pipeline in CMYK so libvips hands over the stored samples untouched (otherwise
      // it round-trips them through its default CMYK profile), then apply PIL's formula.
      const { data, info } = await open().pipelineColourspace("cmyk").toColourspace("cmyk")
        .raw().toBuffer({ resolveWithObject: true });
      return cmykToRgb(data, info.width, info.height, info.channels);
    }
    if (meta.depth === "ushort" && meta.channels === 1) {
      // PIL opens 16-bit gray as mode I;16, whose conversion to RGB clips at 255.
      const { data, info } = await open().toColourspace("grey16")
        .raw({ depth: "ushort" }).toBuffer({ resolveWithObject: true });
      const samples = new Uint16Array(
        data.buffer,
        data.byteOffset,
        data.length / 2,
      );
      return gray16ClipToRgb(samples, info.width, info.height, info.channels);
    }
    // 8-bit content, or 16-bit RGB(A)/gray+alpha, which libvips narrows by taking the high
    // byte, like PIL's ";16B" raw modes.
    const { data, info } = await open().raw().toBuffer({
      resolveWithObject: true,
    });
    return toRgb(data, info.width, info.height, info.channels);
  } catch (error) {
    throw new ImageDecodeError(path, describeSharpError(error), {
      cause: error,
    });
  }
}

function describeSharpError(error: unknown): string {
  const message = String((error as Error)?.message ?? error).split("\n")[0];
  if (/unsupported image format/i.test(message)) {
    return "the content is not a recognised image format";
  }
  if (/premature end|end of stream|truncated|unexpected end/i.test(message)) {
    return `the image data is truncated (${message})`;
  }
  return `the decoder failed (${message})`;
}

/** Spreads 1-4 channel 8-bit pixels to RGB: gray replicated, alpha dropped. */
function toRgb(
  data: Uint8Array,
  width: number,
  height: number,
  channels: number,
): RgbImage {
  const n = width * height;
  if (channels === 3) {
    return { width, height, data: new Uint8Array(data.subarray(0, n * 3)) };
  }
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    if (channels <= 2) {
      const v = data[i * channels];
      out[i * 3] = v;
      out[i * 3 + 1] = v;
      out[i * 3 + 2] = v;
    } else {
      out[i * 3] = data[i * channels];
      out[i * 3 + 1] = data[i * channels + 1];
      out[i * 3 + 2] = data[i * channels + 2];
    }
  }
  return { width, height, data: out };
}

function gray16ClipToRgb(
  samples: Uint16Array,
  width: number,
  height: number,
  channels: number,
): RgbImage {
  const n = width * height;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const raw = samples[i * channels];
    const v = raw > 255 ? 255 : raw;
    out[i * 3] = v;
    out[i * 3 + 1] = v;
    out[i * 3 + 2] = v;
  }
  return { width, height, data: out };
}

/** PIL's `MULDIV255(a, b)`: `a * b / 255` rounded, in integers. */
function mulDiv255(a: number, b: number): number {
  const tmp = a * b + 128;
  return ((tmp >> 8) + tmp) >> 8;
}

function cmykToRgb(
  data: Uint8Array,
  width: number,
  height: number,
  channels: number,
): RgbImage {
  const n = width * height;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const nk = 255 - data[i * channels + 3];
    for (let c = 0; c < 3; c++) {
      const v = nk - mulDiv255(data[i * channels + c], nk);
      out[i * 3 + c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return { width, height, data: out };
}
