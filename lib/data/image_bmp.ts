/**
 * A BMP decoder (sharp/libvips cannot read BMP): 1, 4, 8, 16, 24 and 32 bits per pixel,
 * uncompressed or with bit fields, bottom-up or top-down, to 8-bit RGB as PIL reads it.
 *
 * @module
 */
import { ImageDecodeError, MAX_IMAGE_PIXELS, type RgbImage } from "./image_types.ts";

/**
 * Decodes a BMP file's bytes to 8-bit RGB.
 *
 * @param bytes the file content (starting with "BM")
 * @param path a name for messages
 * @returns the image
 * @throws {ImageDecodeError} for truncated, unsupported (RLE) or oversized files
 * @example
 * ```ts
 * import { decodeBmp } from "./image_bmp.ts";
 * const img = decodeBmp(await Deno.readFile("photo.bmp"), "photo.bmp");
 * ```
 */
export function decodeBmp(bytes: Uint8Array, path: string): RgbImage {
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
  if (width * height > MAX_IMAGE_PIXELS) fail(tooManyPixels(width, height));
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

function tooManyPixels(width: number, height: number): string {
  return `the image is ${width}x${height} pixels, more than the ${MAX_IMAGE_PIXELS} decoded per image`;
}
