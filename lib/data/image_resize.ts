/**
 * PIL's `Image.resize` algorithms ("nearest", Keras' default, and "bilinear"), reimplemented on
 * 8-bit RGB pixels so the result matches Keras pixel for pixel rather than sharp's kernels.
 *
 * @module
 */
import type { Interpolation, RgbImage } from "./image_types.ts";

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
