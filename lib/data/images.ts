/**
 * Image decoding with the meaning Keras' `load_img` gives it (PIL underneath): any file mode
 * becomes 8-bit RGB the way PIL's `Image.convert("RGB")` does it, then the image is resized
 * to the target size with PIL's own `Image.resize` algorithms ("nearest", Keras' default, and
 * "bilinear"), reimplemented on the raw decoded pixels so the result matches Keras pixel for
 * pixel rather than sharp's kernels.
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
import { CarplaneError } from "../errors.ts";

/** An 8-bit RGB image, height x width x 3, row-major (HWC). The compact form used for caching. */
export interface RgbImage {
  /** Width in pixels. */
  readonly width: number;
  /** Height in pixels. */
  readonly height: number;
  /** `height * width * 3` samples, 0..255, in HWC order. */
  readonly data: Uint8Array;
}

/** A float32 RGB image, height x width x 3 in HWC order, values 0..255 (Keras' `img_to_array`). */
export interface FloatImage {
  /** Width in pixels. */
  readonly width: number;
  /** Height in pixels. */
  readonly height: number;
  /** Always 3 (RGB). */
  readonly channels: 3;
  /** `height * width * 3` samples in HWC order. */
  readonly data: Float32Array;
}

/** How an image is resampled to the target size (Keras' `interpolation` argument). */
export type Interpolation = "nearest" | "bilinear";

/** Options for {@link loadImage} and friends. */
export interface LoadImageOptions {
  /** `[height, width]` to resize to, as Keras' `target_size`; omit or `null` to keep the size. */
  targetSize?: readonly [number, number] | null;
  /** Resampling used when the size changes; `"nearest"` (Keras' default) or `"bilinear"`. */
  interpolation?: Interpolation;
}

/** Options for {@link loadImages}. */
export interface LoadImagesOptions extends LoadImageOptions {
  /** Throw an {@link ImageDecodeError} listing every unreadable file instead of skipping them. */
  strict?: boolean;
  /** How many files are decoded at once (default 4). */
  concurrency?: number;
}

/** A file that {@link loadImages} could not decode, and why. */
export interface SkippedImage {
  /** The file's path as given. */
  readonly path: string;
  /** What was wrong with it, in words. */
  readonly reason: string;
}

/** What {@link loadImages} returns: the decoded images (in input order) and the skipped files. */
export interface LoadImagesResult {
  /** The paths that decoded, in input order. */
  readonly paths: string[];
  /** `images[i]` is the decoded content of `paths[i]`. */
  readonly images: RgbImage[];
  /** Files that could not be read or decoded (empty in strict mode, which throws instead). */
  readonly skipped: SkippedImage[];
}

/** The formats, by extension, that can be decoded here (the ones Keras' `flow_from_directory` lists). */
export const SUPPORTED_FORMATS = "JPEG, PNG, BMP, PPM/PGM/PBM, GIF, TIFF or WebP";

/** An image file that cannot be read or decoded. The message names the file and what was expected. */
export class ImageDecodeError extends CarplaneError {
  /** The offending file. */
  readonly path: string;
  /** The cause in words, without the path. */
  readonly reason: string;

  /**
   * @param path the file that failed
   * @param reason what is wrong with it
   * @param options standard error options (`cause`)
   */
  constructor(path: string, reason: string, options?: ErrorOptions) {
    super(
      `Cannot decode image "${path}": ${reason}. Expected a ${SUPPORTED_FORMATS} image; ` +
        `replace or delete the file.`,
      options,
    );
    this.name = "ImageDecodeError";
    this.path = path;
    this.reason = reason;
  }
}

/**
 * Thrown by {@link loadImages} in strict mode: several files could not be decoded. The message
 * lists every one with its reason.
 */
export class UnreadableImagesError extends ImageDecodeError {
  /** Every file that failed, with its reason. */
  readonly skipped: readonly SkippedImage[];

  /**
   * @param skipped the files that failed (at least one)
   * @param total how many files were being loaded
   */
  constructor(skipped: readonly SkippedImage[], total: number) {
    super(skipped[0].path, `${skipped.length} of ${total} images are unreadable`);
    this.name = "UnreadableImagesError";
    this.skipped = skipped;
    this.message = `${skipped.length} of ${total} images cannot be decoded (strict mode):\n` +
      skipped.map((s) => `  ${s.path}: ${s.reason}`).join("\n") +
      `\nExpected ${SUPPORTED_FORMATS} images; replace or delete these files, ` +
      `or load without strict mode to skip them.`;
  }
}

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
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "the file does not exist"
      : `the file cannot be read (${(error as Error).message})`;
    throw new ImageDecodeError(path, reason, { cause: error });
  }
  return await decodeImageBytes(bytes, path);
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

async function decodeWithSharp(
  bytes: Uint8Array,
  path: string,
): Promise<RgbImage> {
  const open = () => sharp(bytes, { failOn: "truncated", ignoreIcc: true });
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

// ---------------------------------------------------------------- BMP (not readable by sharp)

function decodeBmp(bytes: Uint8Array, path: string): RgbImage {
  const fail = (reason: string): never => {
    throw new ImageDecodeError(path, reason);
  };
  if (bytes.length < 26) fail("the BMP header is truncated");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const pixelOffset = view.getUint32(10, true);
  const headerSize = view.getUint32(14, true);
  let width: number;
  let height: number;
  let bpp: number;
  let compression = 0;
  let colorsUsed = 0;
  let paletteEntrySize = 4;
  if (headerSize === 12) {
    width = view.getUint16(18, true);
    height = view.getInt16(20, true);
    bpp = view.getUint16(24, true);
    paletteEntrySize = 3;
  } else if (headerSize >= 40 && bytes.length >= 14 + 40) {
    width = view.getInt32(18, true);
    height = view.getInt32(22, true);
    bpp = view.getUint16(28, true);
    compression = view.getUint32(30, true);
    colorsUsed = view.getUint32(46, true);
  } else {
    return fail(`the BMP header size ${headerSize} is not supported`);
  }
  const topDown = height < 0;
  height = Math.abs(height);
  if (width <= 0 || height <= 0) fail("the BMP has no pixels");
  let masks: [number, number, number] | null = null;
  if (compression === 3 || compression === 6) {
    const maskAt = headerSize >= 52 ? 14 + 40 : 14 + headerSize;
    if (bytes.length < maskAt + 12) fail("the BMP bit masks are truncated");
    masks = [
      view.getUint32(maskAt, true),
      view.getUint32(maskAt + 4, true),
      view.getUint32(maskAt + 8, true),
    ];
  } else if (compression !== 0) {
    fail(
      `BMP compression type ${compression} (RLE) is not supported; convert the file to PNG`,
    );
  }
  if (![1, 4, 8, 16, 24, 32].includes(bpp)) {
    fail(`a BMP with ${bpp} bits per pixel is not supported`);
  }
  const palette: number[][] = [];
  if (bpp <= 8) {
    const count = colorsUsed || 1 << bpp;
    const start = 14 + headerSize;
    for (let i = 0; i < count; i++) {
      const at = start + i * paletteEntrySize;
      if (at + 3 > bytes.length) fail("the BMP palette is truncated");
      palette.push([bytes[at + 2], bytes[at + 1], bytes[at]]);
    }
  }
  const stride = Math.floor((width * bpp + 31) / 32) * 4;
  if (pixelOffset + stride * height > bytes.length) {
    fail("the BMP pixel data is truncated");
  }
  const out = new Uint8Array(width * height * 3);
  const channelFromMask = (value: number, mask: number): number => {
    if (mask === 0) return 0;
    let shift = 0;
    while (((mask >>> shift) & 1) === 0) shift++;
    const max = mask >>> shift;
    return Math.floor(((value & mask) >>> shift) * 255 / max);
  };
  for (let row = 0; row < height; row++) {
    const y = topDown ? row : height - 1 - row;
    const base = pixelOffset + row * stride;
    for (let x = 0; x < width; x++) {
      let r = 0, g = 0, b = 0;
      if (bpp <= 8) {
        const bitPos = x * bpp;
        const byte = bytes[base + (bitPos >> 3)];
        const index = (byte >> (8 - bpp - (bitPos & 7))) & ((1 << bpp) - 1);
        const entry = palette[index] ?? [0, 0, 0];
        [r, g, b] = entry;
      } else if (bpp === 24) {
        b = bytes[base + x * 3];
        g = bytes[base + x * 3 + 1];
        r = bytes[base + x * 3 + 2];
      } else if (bpp === 16) {
        const v = view.getUint16(base + x * 2, true);
        const [rm, gm, bm] = masks ?? [0x7c00, 0x03e0, 0x001f];
        r = channelFromMask(v, rm);
        g = channelFromMask(v, gm);
        b = channelFromMask(v, bm);
      } else {
        if (masks) {
          const v = view.getUint32(base + x * 4, true);
          r = channelFromMask(v, masks[0]);
          g = channelFromMask(v, masks[1]);
          b = channelFromMask(v, masks[2]);
        } else {
          b = bytes[base + x * 4];
          g = bytes[base + x * 4 + 1];
          r = bytes[base + x * 4 + 2];
        }
      }
      const o = (y * width + x) * 3;
      out[o] = r;
      out[o + 1] = g;
      out[o + 2] = b;
    }
  }
  return { width, height, data: out };
}

// ------------------------------------------------------- PPM/PGM/PBM (not readable by sharp)

function decodePnm(bytes: Uint8Array, path: string): RgbImage {
  const fail = (reason: string): never => {
    throw new ImageDecodeError(path, reason);
  };
  const kind = bytes[1] - 0x30; // 1..6
  let pos = 2;
  const isSpace = (c: number) => c === 32 || (c >= 9 && c <= 13);
  const token = (): number => {
    while (pos < bytes.length) {
      if (isSpace(bytes[pos])) pos++;
      else if (bytes[pos] === 0x23) {
        while (pos < bytes.length && bytes[pos] !== 10 && bytes[pos] !== 13) {
          pos++;
        }
      } else break;
    }
    const start = pos;
    while (pos < bytes.length && bytes[pos] >= 0x30 && bytes[pos] <= 0x39) {
      pos++;
    }
    if (start === pos) fail("the PNM header is malformed or truncated");
    return Number(new TextDecoder().decode(bytes.subarray(start, pos)));
  };
  const width = token();
  const height = token();
  const maxval = kind === 1 || kind === 4 ? 1 : token();
  if (width <= 0 || height <= 0 || maxval <= 0 || maxval > 65535) {
    fail("the PNM header has an invalid size or maximum value");
  }
  const n = width * height;
  const samplesPerPixel = kind === 3 || kind === 6 ? 3 : 1;
  const samples = new Uint16Array(n * samplesPerPixel);
  if (kind <= 3) {
    for (let i = 0; i < samples.length; i++) {
      if (kind === 1) {
        while (pos < bytes.length && isSpace(bytes[pos])) pos++;
        if (pos >= bytes.length) fail("the PBM pixel data is truncated");
        samples[i] = bytes[pos++] === 0x31 ? 1 : 0;
      } else {
        samples[i] = token();
      }
    }
  } else {
    pos++; // the single whitespace after the header
    if (kind === 4) {
      const rowBytes = Math.ceil(width / 8);
      if (pos + rowBytes * height > bytes.length) {
        fail("the PBM pixel data is truncated");
      }
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const byte = bytes[pos + y * rowBytes + (x >> 3)];
          samples[y * width + x] = (byte >> (7 - (x & 7))) & 1;
        }
      }
    } else {
      const wide = maxval > 255;
      const need = samples.length * (wide ? 2 : 1);
      if (pos + need > bytes.length) fail("the PNM pixel data is truncated");
      for (let i = 0; i < samples.length; i++) {
        samples[i] = wide ? (bytes[pos + 2 * i] << 8) | bytes[pos + 2 * i + 1] : bytes[pos + i];
      }
    }
  }
  const out = new Uint8Array(n * 3);
  const to8 = (v: number): number => {
    if (kind === 1 || kind === 4) return v ? 0 : 255; // PBM: 1 is black
    if (maxval > 255) {
      // 16-bit: gray clips like PIL's I;16, colour keeps the high byte.
      return samplesPerPixel === 1 ? Math.min(v, 255) : v >> 8;
    }
    return maxval === 255 ? v : Math.floor(Math.min(v, maxval) * 255 / maxval);
  };
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      out[i * 3 + c] = to8(samples[i * samplesPerPixel + (samplesPerPixel === 3 ? c : 0)]);
    }
  }
  return { width, height, data: out };
}

// ------------------------------------------------------------------------ PIL resampling

/**
 * Resizes like PIL's `Image.resize(size, Image.NEAREST)` (Keras' default interpolation).
 *
 * PIL samples source column `floor((x + 0.5) * srcW / dstW)` for output column `x`, stepping the
 * position by accumulation in double precision (`ImagingScaleAffine`); this reproduces that loop
 * exactly, rows likewise. Enlarging 32 -> 64 therefore duplicates every pixel.
 *
 * @param image the source image
 * @param height output height
 * @param width output width
 * @returns a new image of the requested size
 * @example
 * ```ts
 * const big = resizeNearest({ width: 1, height: 1, data: new Uint8Array([1, 2, 3]) }, 2, 2);
 * console.log(big.data); // Uint8Array [1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3]
 * ```
 */
export function resizeNearest(
  image: RgbImage,
  height: number,
  width: number,
): RgbImage {
  checkSize(height, width);
  const out = new Uint8Array(width * height * 3);
  const scaleX = image.width / width;
  const scaleY = image.height / height;
  const xin = new Int32Array(width).fill(-1);
  let xo = scaleX * 0.5;
  for (let x = 0; x < width; x++) {
    const xi = xo < 0 ? -1 : Math.trunc(xo);
    if (xi >= 0 && xi < image.width) xin[x] = xi;
    xo += scaleX;
  }
  let yo = scaleY * 0.5;
  for (let y = 0; y < height; y++) {
    const yi = yo < 0 ? -1 : Math.trunc(yo);
    if (yi >= 0 && yi < image.height) {
      for (let x = 0; x < width; x++) {
        if (xin[x] < 0) continue; // PIL leaves such pixels black
        const s = (yi * image.width + xin[x]) * 3;
        const d = (y * width + x) * 3;
        out[d] = image.data[s];
        out[d + 1] = image.data[s + 1];
        out[d + 2] = image.data[s + 2];
      }
    }
    yo += scaleY;
  }
  return { width, height, data: out };
}

const PRECISION_BITS = 32 - 8 - 2;

interface Coefficients {
  readonly ksize: number;
  readonly bounds: Int32Array;
  readonly weights: Int32Array;
}

/** PIL's `precompute_coeffs` + `normalize_coeffs_8bpc` for the bilinear (triangle) filter. */
function bilinearCoefficients(inSize: number, outSize: number): Coefficients {
  const scale = inSize / outSize;
  const filterScale = scale < 1 ? 1 : scale;
  const support = 1.0 * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1.0 / filterScale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    k.fill(0);
    for (let x = 0; x < xmax; x++) {
      let t = (x + xmin - center + 0.5) * ss;
      if (t < 0) t = -t;
      const w = t < 1 ? 1 - t : 0;
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) if (ww !== 0) k[x] /= ww;
    for (let x = 0; x < ksize; x++) {
      const v = k[x] * (1 << PRECISION_BITS);
      weights[xx * ksize + x] = k[x] < 0 ? Math.trunc(-0.5 + v) : Math.trunc(0.5 + v);
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, weights };
}

function clip8(ss: number): number {
  const v = Math.floor(ss / (1 << PRECISION_BITS));
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * Resizes like PIL's `Image.resize(size, Image.BILINEAR)`: PIL's two-pass convolution
 * (horizontal, then vertical) with a triangle filter widened by the scale when shrinking
 * (antialiasing), 22-bit fixed-point weights and rounding to 8 bits between the passes.
 *
 * @param image the source image
 * @param height output height
 * @param width output width
 * @returns a new image of the requested size
 * @example
 * ```ts
 * const small = resizeBilinear(photo, 16, 16);
 * ```
 */
export function resizeBilinear(
  image: RgbImage,
  height: number,
  width: number,
): RgbImage {
  checkSize(height, width);
  let current: RgbImage = image;
  if (width !== image.width) {
    const { ksize, bounds, weights } = bilinearCoefficients(image.width, width);
    const out = new Uint8Array(width * current.height * 3);
    for (let y = 0; y < current.height; y++) {
      for (let xx = 0; xx < width; xx++) {
        const xmin = bounds[xx * 2];
        const xmax = bounds[xx * 2 + 1];
        for (let c = 0; c < 3; c++) {
          let ss = 1 << (PRECISION_BITS - 1);
          for (let x = 0; x < xmax; x++) {
            ss += current.data[(y * current.width + x + xmin) * 3 + c] *
              weights[xx * ksize + x];
          }
          out[(y * width + xx) * 3 + c] = clip8(ss);
        }
      }
    }
    current = { width, height: current.height, data: out };
  }
  if (height !== image.height) {
    const { ksize, bounds, weights } = bilinearCoefficients(image.height, height);
    const out = new Uint8Array(width * height * 3);
    for (let yy = 0; yy < height; yy++) {
      const ymin = bounds[yy * 2];
      const ymax = bounds[yy * 2 + 1];
      for (let x = 0; x < width; x++) {
        for (let c = 0; c < 3; c++) {
          let ss = 1 << (PRECISION_BITS - 1);
          for (let y = 0; y < ymax; y++) {
            ss += current.data[((y + ymin) * width + x) * 3 + c] *
              weights[yy * ksize + y];
          }
          out[(yy * width + x) * 3 + c] = clip8(ss);
        }
      }
    }
    current = { width, height, data: out };
  }
  return current === image ? { width, height, data: new Uint8Array(image.data) } : current;
}

function checkSize(height: number, width: number): void {
  if (
    !Number.isInteger(height) || !Number.isInteger(width) || height <= 0 ||
    width <= 0
  ) {
    throw new RangeError(
      `Target size must be two positive integers [height, width], got [${height}, ${width}]`,
    );
  }
}

/**
 * Resizes with the named PIL-compatible interpolation; returns the image itself when it already
 * has the requested size (PIL/Keras skip the resize then too).
 *
 * @param image the source image
 * @param targetSize `[height, width]`
 * @param interpolation `"nearest"` (default) or `"bilinear"`
 * @returns the resized image
 * @example
 * ```ts
 * const img64 = resizeImage(img32, [64, 64]);
 * ```
 */
export function resizeImage(
  image: RgbImage,
  targetSize: readonly [number, number],
  interpolation: Interpolation = "nearest",
): RgbImage {
  const [height, width] = targetSize;
  if (height === image.height && width === image.width) return image;
  if (interpolation === "nearest") return resizeNearest(image, height, width);
  if (interpolation === "bilinear") return resizeBilinear(image, height, width);
  throw new RangeError(
    `Unknown interpolation "${interpolation}"; expected "nearest" or "bilinear"`,
  );
}

/**
 * Decodes an image file to 8-bit RGB and resizes it to `targetSize` (Keras' `load_img`).
 * The compact form, as cached by the batch iterator.
 *
 * @param path the image file
 * @param options target size and interpolation
 * @returns the decoded, resized image
 * @throws {ImageDecodeError} when the file cannot be read or decoded
 * @example
 * ```ts
 * const img = await loadImageRgb("data/test/cars/0100.jpg", { targetSize: [64, 64] });
 * ```
 */
export async function loadImageRgb(
  path: string,
  options: LoadImageOptions = {},
): Promise<RgbImage> {
  const image = await decodeImageFile(path);
  return options.targetSize
    ? resizeImage(image, options.targetSize, options.interpolation ?? "nearest")
    : image;
}

/**
 * Converts an 8-bit RGB image to float32 0..255 (Keras' `img_to_array`).
 *
 * @param image the 8-bit image
 * @returns the float image
 * @example
 * ```ts
 * const f = toFloatImage(img);
 * console.log(f.data[0]); // e.g. 137
 * ```
 */
export function toFloatImage(image: RgbImage): FloatImage {
  return {
    width: image.width,
    height: image.height,
    channels: 3,
    data: Float32Array.from(image.data),
  };
}

/**
 * Loads an image as Keras does with `img_to_array(load_img(path, target_size=...))`:
 * float32, HWC, RGB, values 0..255.
 *
 * @param path the image file
 * @param options target size (`[height, width]`) and interpolation (`"nearest"` by default)
 * @returns the float image
 * @throws {ImageDecodeError} when the file cannot be read or decoded
 * @example
 * ```ts
 * const img = await loadImage("data/test/planes/0108.jpg", { targetSize: [64, 64] });
 * console.log(img.height, img.width, img.channels, img.data.length); // 64 64 3 12288
 * ```
 */
export async function loadImage(
  path: string,
  options: LoadImageOptions = {},
): Promise<FloatImage> {
  return toFloatImage(await loadImageRgb(path, options));
}

/**
 * Loads many images (8-bit RGB at the target size), a few at a time. Unreadable files are
 * reported in `skipped` (non-strict, the default) or make the whole call throw one
 * {@link ImageDecodeError} that lists every one of them (strict).
 *
 * @param paths the files, in the order wanted
 * @param options target size, interpolation, strictness and concurrency
 * @returns decoded images in input order, plus the skipped files
 * @throws {ImageDecodeError} in strict mode when any file fails
 * @example
 * ```ts
 * const { images, skipped } = await loadImages(files, { targetSize: [64, 64] });
 * for (const s of skipped) console.log("skipped", s.path, s.reason);
 * ```
 */
export async function loadImages(
  paths: readonly string[],
  options: LoadImagesOptions = {},
): Promise<LoadImagesResult> {
  const results: (RgbImage | SkippedImage)[] = new Array(paths.length);
  const concurrency = Math.max(1, options.concurrency ?? 4);
  let next = 0;
  const worker = async () => {
    while (next < paths.length) {
      const i = next++;
      try {
        results[i] = await loadImageRgb(paths[i], options);
      } catch (error) {
        if (!(error instanceof ImageDecodeError)) throw error;
        results[i] = { path: paths[i], reason: error.reason };
      }
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(concurrency, paths.length) }, worker),
  );
  const ok: string[] = [];
  const images: RgbImage[] = [];
  const skipped: SkippedImage[] = [];
  results.forEach((r, i) => {
    if ("data" in r) {
      ok.push(paths[i]);
      images.push(r);
    } else skipped.push(r);
  });
  if (options.strict && skipped.length > 0) {
    throw new UnreadableImagesError(skipped, paths.length);
  }
  return { paths: ok, images, skipped };
}
