/**
 * A PPM/PGM/PBM decoder (sharp/libvips cannot read them from memory): ASCII and binary, 8 and
 * 16 bits, to 8-bit RGB as PIL reads them.
 *
 * @module
 */
import { ImageDecodeError, MAX_IMAGE_PIXELS, type RgbImage } from "./image_types.ts";

/**
 * Decodes a PNM (P1-P6) file's bytes to 8-bit RGB.
 *
 * @param bytes the file content (starting with "P1".."P6")
 * @param path a name for messages
 * @returns the image
 * @throws {ImageDecodeError} for malformed, truncated or oversized files
 * @example
 * ```ts
 * import { decodePnm } from "./image_pnm.ts";
 * const img = decodePnm(new TextEncoder().encode("P3 1 1 255 1 2 3"), "dot.ppm");
 * ```
 */
export function decodePnm(bytes: Uint8Array, path: string): RgbImage {
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
  if (width * height > MAX_IMAGE_PIXELS) {
    fail(
      `the image is ${width}x${height} pixels, more than the ${MAX_IMAGE_PIXELS} decoded per image`,
    );
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
