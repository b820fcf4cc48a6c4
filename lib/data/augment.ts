/**
 * Keras' `ImageDataGenerator` augmentation, mirrored from keras-preprocessing 1.1.2 (the version
 * behind `keras.preprocessing.image` in Keras 2.2-2.4 / TF <= 2.5, i.e. the article's era):
 * `get_random_transform` draws the parameters, `apply_transform` applies them with
 * `apply_affine_transform` (scipy's `ndimage.affine_transform`, order 1 by default), then the
 * flips, then `standardize` rescales.
 *
 * The affine transform, exactly as keras-preprocessing 1.1.2 builds it (angles in degrees,
 * converted to radians inside):
 *
 * ```
 * M = R(theta) @ T(tx, ty) @ S(shear) @ Z(zx, zy)    (only the factors whose parameter is set)
 * R = [[cos t, -sin t, 0], [sin t, cos t, 0], [0, 0, 1]]
 * T = [[1, 0, tx], [0, 1, ty], [0, 0, 1]]
 * S = [[1, -sin s, 0], [0, cos s, 0], [0, 0, 1]]
 * Z = [[zx, 0, 0], [0, zy, 0], [0, 0, 1]]
 * M' = [[1, 0, o_r], [0, 1, o_c], [0, 0, 1]] @ M @ [[1, 0, -o_r], [0, 1, -o_c], [0, 0, 1]]
 *      with o_r = h / 2 + 0.5, o_c = w / 2 + 0.5     (transform_matrix_offset_center)
 * out[r, c] = in[M' @ (r, c, 1)]                      (scipy: output coords -> input coords)
 * ```
 *
 * The first coordinate is the ROW, so `tx` (drawn from `height_shift_range`) moves content
 * vertically, `zx` scales rows, and the shear slants rows along columns. (keras-preprocessing
 * 1.1.3+ / TF 2.6+ later swapped x and y inside `apply_affine_transform`; this module keeps the
 * 1.1.2 convention throughout, and since `zx`/`zy` are drawn identically and shear/rotation
 * ranges are symmetric, the two conventions give the same distribution of augmentations.)
 * Note the centre `h / 2 + 0.5` is not the true pixel centre `(h - 1) / 2`: Keras' rotations
 * and zooms pivot one pixel off centre, and so do these.
 *
 * Sampling follows `scipy.ndimage` (>= 1.6) for orders 0 and 1: a coordinate outside the image is
 * first mapped by the fill mode ("nearest": edge values extend; "constant": `cval` outside
 * [0, n - 1]; "reflect": d c b a | a b c d | d c b a; "wrap": scipy's legacy wrap with period
 * n - 1), then interpolated. The random numbers come from a small seeded PRNG, not numpy's
 * Mersenne Twister, so draws are reproducible here but not equal to numpy's.
 *
 * @module
 */

/** How points outside the image are filled (Keras' `fill_mode`). */
export type FillMode = "nearest" | "constant" | "reflect" | "wrap";

/**
 * A shift range as Keras accepts it: a fraction of the size (< 1), a number of pixels (a
 * non-integer >= 1: uniform in [-r, r)), an integer n >= 1 (a whole number of pixels drawn from
 * 0..n-1 with a random sign, as `np.random.choice(n)` does), or a list of pixel values (one
 * drawn, with a random sign). JavaScript cannot tell `2` from `2.0`, so any integer-valued
 * number >= 1 takes the integer meaning.
 */
export type ShiftRange = number | readonly number[];

/** The augmentation and standardization settings of an `ImageDataGenerator`. */
export interface AugmentOptions {
  /** Multiply every value by this after the other transformations (e.g. `1 / 255`). */
  rescale?: number | null;
  /** Degree range for random rotations: theta ~ U(-r, r). */
  rotationRange?: number;
  /** Horizontal shift range (see {@link ShiftRange}). */
  widthShiftRange?: ShiftRange;
  /** Vertical shift range (see {@link ShiftRange}). */
  heightShiftRange?: ShiftRange;
  /** Shear angle range in DEGREES (counter-clockwise), as Keras defines it: shear ~ U(-r, r). */
  shearRange?: number;
  /** A float z (zx, zy drawn independently from U(1 - z, 1 + z)) or a `[lo, hi]` pair. */
  zoomRange?: number | readonly [number, number];
  /** Random channel shift intensity range: one offset ~ U(-r, r) added to all channels. */
  channelShiftRange?: number;
  /** Randomly flip columns with probability 1/2. */
  horizontalFlip?: boolean;
  /** Randomly flip rows with probability 1/2. */
  verticalFlip?: boolean;
  /** Fill mode for points outside the input (default `"nearest"`). */
  fillMode?: FillMode;
  /** Fill value for `fillMode: "constant"` (default 0). */
  cval?: number;
  /** Spline order: 1 (bilinear, Keras' default) or 0 (nearest). */
  interpolationOrder?: 0 | 1;
  /** Subtract each image's mean (Keras' `samplewise_center`). */
  samplewiseCenter?: boolean;
  /** Divide each image by its standard deviation + 1e-6 (Keras' `samplewise_std_normalization`). */
  samplewiseStdNormalization?: boolean;
}

/** The parameter dictionary of Keras' `apply_transform` (angles in degrees, shifts in pixels). */
export interface TransformParams {
  /** Rotation angle in degrees. */
  theta: number;
  /** Shift along rows (Keras' `tx`, drawn from `height_shift_range`), pixels. */
  tx: number;
  /** Shift along columns (Keras' `ty`, drawn from `width_shift_range`), pixels. */
  ty: number;
  /** Shear angle in degrees. */
  shear: number;
  /** Zoom factor on the row coordinate. */
  zx: number;
  /** Zoom factor on the column coordinate. */
  zy: number;
  /** Flip columns after the affine transform. */
  flipHorizontal: boolean;
  /** Flip rows after the affine transform. */
  flipVertical: boolean;
  /** Offset added to all channels (clipped to the image's min/max), or null for none. */
  channelShiftIntensity: number | null;
}

/** How {@link applyTransform} samples (Keras' `fill_mode`, `cval`, `interpolation_order`). */
export interface SamplingOptions {
  /** Default `"nearest"`. */
  fillMode?: FillMode;
  /** Default 0. */
  cval?: number;
  /** Default 1. */
  order?: 0 | 1;
}

/** A float image, height x width x channels in HWC order. */
export interface ImageTensor {
  /** `height * width * channels` values. */
  readonly data: Float32Array;
  /** Rows. */
  readonly height: number;
  /** Columns. */
  readonly width: number;
  /** Channels per pixel (3 for RGB). */
  readonly channels: number;
}

/** A small seeded pseudo-random generator (mulberry32). */
export interface Rng {
  /** The seed it was created with. */
  readonly seed: number;
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** A random permutation of 0..n-1 (Fisher-Yates). */
  permutation(n: number): number[];
}

/**
 * Creates a seeded PRNG (mulberry32 over a scrambled seed). Same seed, same sequence.
 *
 * @param seed any number (its integer part is used)
 * @returns the generator
 * @example
 * ```ts
 * const rng = createRng(1);
 * const theta = rng.uniform(-20, 20);
 * ```
 */
export function createRng(seed: number): Rng {
  // Scramble the seed (splitmix-style) so nearby seeds give unrelated streams.
  let z = (Math.trunc(seed) ^ 0x9e3779b9) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  let state = (z ^ (z >>> 16)) >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    seed,
    next,
    uniform: (lo, hi) => lo + (hi - lo) * next(),
    int: (n) => Math.floor(next() * n),
    permutation: (n) => {
      const a = Array.from({ length: n }, (_, i) => i);
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [a[i], a[j]] = [a[j], a[i]];
      }
      return a;
    },
  };
}

/**
 * Keras' normalisation of `zoom_range`: a float z becomes `[1 - z, 1 + z]`, a pair stays.
 *
 * @param zoomRange the option as given (undefined means no zoom)
 * @returns `[lower, upper]`
 * @throws {RangeError} for a list that is not a pair
 * @example
 * ```ts
 * zoomBounds(0.2); // [0.8, 1.2]
 * zoomBounds([0.5, 1]); // [0.5, 1]
 * ```
 */
export function zoomBounds(
  zoomRange: number | readonly [number, number] | undefined,
): [number, number] {
  if (zoomRange === undefined) return [1, 1];
  if (typeof zoomRange === "number") return [1 - zoomRange, 1 + zoomRange];
  if (zoomRange.length !== 2) {
    throw new RangeError(
      `zoomRange must be a number or a [lower, upper] pair, got ${JSON.stringify(zoomRange)}`,
    );
  }
  return [zoomRange[0], zoomRange[1]];
}

function drawShift(range: ShiftRange | undefined, size: number, rng: Rng): number {
  if (range === undefined) return 0;
  if (Array.isArray(range)) {
    if (range.length === 0) return 0;
    let v = range[rng.int(range.length)] * (rng.next() < 0.5 ? -1 : 1);
    if (Math.max(...range) < 1) v *= size;
    return v;
  }
  const r = range as number;
  if (r === 0) return 0;
  if (Number.isInteger(r) && r >= 1) {
    // np.random.choice(n) draws from 0..n-1, then a random sign.
    return rng.int(r) * (rng.next() < 0.5 ? -1 : 1);
  }
  let v = rng.uniform(-r, r);
  if (r < 1) v *= size;
  return v;
}

/**
 * Draws random transform parameters the way `ImageDataGenerator.get_random_transform` does, in
 * the same order: theta, tx (height shift), ty (width shift), shear, zx and zy (independently),
 * then one draw each for the horizontal and vertical flip (made even when flips are off, as
 * Keras does), then the channel shift.
 *
 * @param options the generator settings
 * @param rng the random source
 * @param imageShape `[height, width, channels]` of the image to transform
 * @returns the parameter dictionary for {@link applyTransform}
 * @example
 * ```ts
 * const rng = createRng(1);
 * const p = randomTransform({ shearRange: 0.2, zoomRange: 0.2, horizontalFlip: true }, rng, [64, 64, 3]);
 * // p.shear in [-0.2, 0.2), p.zx and p.zy in [0.8, 1.2)
 * ```
 */
export function randomTransform(
  options: AugmentOptions,
  rng: Rng,
  imageShape: readonly [number, number, number],
): TransformParams {
  const [height, width] = imageShape;
  const theta = options.rotationRange
    ? rng.uniform(-options.rotationRange, options.rotationRange)
    : 0;
  const tx = drawShift(options.heightShiftRange, height, rng);
  const ty = drawShift(options.widthShiftRange, width, rng);
  const shear = options.shearRange ? rng.uniform(-options.shearRange, options.shearRange) : 0;
  const [lo, hi] = zoomBounds(options.zoomRange);
  let zx = 1;
  let zy = 1;
  if (!(lo === 1 && hi === 1)) {
    zx = rng.uniform(lo, hi);
    zy = rng.uniform(lo, hi);
  }
  const flipHorizontal = rng.next() < 0.5 && !!options.horizontalFlip;
  const flipVertical = rng.next() < 0.5 && !!options.verticalFlip;
  const channelShiftIntensity = options.channelShiftRange
    ? rng.uniform(-options.channelShiftRange, options.channelShiftRange)
    : null;
  return { theta, tx, ty, shear, zx, zy, flipHorizontal, flipVertical, channelShiftIntensity };
}

type Matrix3 = [number, number, number, number, number, number, number, number, number];

function matmul(a: Matrix3, b: Matrix3): Matrix3 {
  const out = new Array(9).fill(0) as Matrix3;
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      let s = 0;
      for (let k = 0; k < 3; k++) s += a[i * 3 + k] * b[k * 3 + j];
      out[i * 3 + j] = s;
    }
  }
  return out;
}

const deg2rad = (d: number) => (d * Math.PI) / 180;

/**
 * The centred 3x3 matrix keras-preprocessing 1.1.2's `apply_affine_transform` hands to scipy
 * (row-major; maps output (row, col, 1) to input coordinates), or null when no affine part is
 * set (Keras then leaves the image untouched).
 *
 * @param params theta/shear in degrees, tx/ty in pixels, zx/zy factors
 * @param height image rows
 * @param width image columns
 * @returns the 9 matrix entries, or null for the identity
 * @example
 * ```ts
 * const m = affineMatrix({ theta: 90 }, 4, 4); // rotation about (2.5, 2.5)
 * ```
 */
export function affineMatrix(
  params: Partial<Pick<TransformParams, "theta" | "tx" | "ty" | "shear" | "zx" | "zy">>,
  height: number,
  width: number,
): Matrix3 | null {
  const { theta = 0, tx = 0, ty = 0, shear = 0, zx = 1, zy = 1 } = params;
  let m: Matrix3 | null = null;
  const compose = (next: Matrix3) => (m = m === null ? next : matmul(m, next));
  if (theta !== 0) {
    const t = deg2rad(theta);
    compose([Math.cos(t), -Math.sin(t), 0, Math.sin(t), Math.cos(t), 0, 0, 0, 1]);
  }
  if (tx !== 0 || ty !== 0) compose([1, 0, tx, 0, 1, ty, 0, 0, 1]);
  if (shear !== 0) {
    const s = deg2rad(shear);
    compose([1, -Math.sin(s), 0, 0, Math.cos(s), 0, 0, 0, 1]);
  }
  if (zx !== 1 || zy !== 1) compose([zx, 0, 0, 0, zy, 0, 0, 0, 1]);
  if (m === null) return null;
  const oR = height / 2 + 0.5;
  const oC = width / 2 + 0.5;
  return matmul(matmul([1, 0, oR, 0, 1, oC, 0, 0, 1], m), [1, 0, -oR, 0, 1, -oC, 0, 0, 1]);
}

const FILL_MODES: readonly FillMode[] = ["nearest", "constant", "reflect", "wrap"];

/** scipy's `map_coordinate` for one axis; returns -1 for "outside" in constant mode. */
function mapCoordinate(x: number, len: number, mode: FillMode | "mirror"): number {
  if (x < 0) {
    switch (mode) {
      case "mirror": {
        if (len <= 1) return 0;
        const sz2 = 2 * len - 2;
        x = sz2 * Math.trunc(-x / sz2) + x;
        return x <= 1 - len ? x + sz2 : -x;
      }
      case "reflect": {
        if (len <= 1) return 0;
        const sz2 = 2 * len;
        if (x < -sz2) x = sz2 * Math.trunc(-x / sz2) + x;
        return x < -len ? x + sz2 : (x > -1e-15 ? 1e-15 : -x) - 1;
      }
      case "wrap": {
        if (len <= 1) return 0;
        const sz = len - 1;
        return x + sz * (Math.trunc(-x / sz) + 1);
      }
      case "nearest":
        return 0;
      case "constant":
        return -1;
    }
  } else if (x > len - 1) {
    switch (mode) {
      case "mirror": {
        if (len <= 1) return 0;
        const sz2 = 2 * len - 2;
        x -= sz2 * Math.trunc(x / sz2);
        return x >= len ? sz2 - x : x;
      }
      case "reflect": {
        if (len <= 1) return 0;
        const sz2 = 2 * len;
        x -= sz2 * Math.trunc(x / sz2);
        return x >= len ? sz2 - x - 1 : x;
      }
      case "wrap": {
        if (len <= 1) return 0;
        const sz = len - 1;
        return x - sz * Math.trunc(x / sz);
      }
      case "nearest":
        return len - 1;
      case "constant":
        return -1;
    }
  }
  return x;
}

/**
 * Resamples every channel of an HWC image through a 3x3 matrix mapping output (row, col) to
 * input coordinates, as `scipy.ndimage.affine_transform(x_channel, M[:2, :2], M[:2, 2],
 * order, mode, cval)` does for each channel.
 *
 * @param image the input image
 * @param matrix row-major 3x3 matrix (only the top two rows are used)
 * @param sampling fill mode, cval and spline order (0 or 1)
 * @returns a new image of the same shape
 * @example
 * ```ts
 * const shifted = affineResample(img, [1, 0, 2, 0, 1, 0, 0, 0, 1], { fillMode: "nearest" });
 * ```
 */
export function affineResample(
  image: ImageTensor,
  matrix: readonly number[],
  sampling: SamplingOptions = {},
): ImageTensor {
  const mode = sampling.fillMode ?? "nearest";
  if (!FILL_MODES.includes(mode)) {
    throw new RangeError(
      `Unknown fill mode "${mode}"; expected one of ${FILL_MODES.join(", ")}`,
    );
  }
  const order = sampling.order ?? 1;
  if (order !== 0 && order !== 1) {
    throw new RangeError(`Interpolation order must be 0 or 1, got ${order}`);
  }
  const cval = sampling.cval ?? 0;
  const { height: h, width: w, channels: ch, data } = image;
  const out = new Float32Array(data.length);
  // scipy maps the tap indices with these modes (constant and wrap use mirror).
  const tapMode: FillMode | "mirror" = mode === "constant" || mode === "wrap" ? "mirror" : mode;
  const [m00, m01, m02, m10, m11, m12] = matrix;
  const rows = [0, 0];
  const cols = [0, 0];
  const wr = [0, 0];
  const wc = [0, 0];
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      let cr = m02 + r * m00 + c * m01;
      let cc = m12 + r * m10 + c * m11;
      if (mode !== "nearest") {
        cr = mapCoordinate(cr, h, mode);
        cc = mapCoordinate(cc, w, mode);
      }
      const o = (r * w + c) * ch;
      if (mode !== "nearest" && !(cr > -1 && cc > -1)) {
        for (let k = 0; k < ch; k++) out[o + k] = cval;
        continue;
      }
      let taps: number;
      if (order === 1) {
        const r0 = Math.floor(cr);
        const c0 = Math.floor(cc);
        wr[1] = cr - r0;
        wr[0] = 1 - wr[1];
        wc[1] = cc - c0;
        wc[0] = 1 - wc[1];
        rows[0] = r0 < 0 || r0 >= h ? mapCoordinate(r0, h, tapMode) : r0;
        rows[1] = r0 + 1 < 0 || r0 + 1 >= h ? mapCoordinate(r0 + 1, h, tapMode) : r0 + 1;
        cols[0] = c0 < 0 || c0 >= w ? mapCoordinate(c0, w, tapMode) : c0;
        cols[1] = c0 + 1 < 0 || c0 + 1 >= w ? mapCoordinate(c0 + 1, w, tapMode) : c0 + 1;
        taps = 2;
      } else {
        const r0 = Math.floor(cr + 0.5);
        const c0 = Math.floor(cc + 0.5);
        rows[0] = r0 < 0 || r0 >= h ? mapCoordinate(r0, h, tapMode) : r0;
        cols[0] = c0 < 0 || c0 >= w ? mapCoordinate(c0, w, tapMode) : c0;
        wr[0] = 1;
        wc[0] = 1;
        taps = 1;
      }
      for (let k = 0; k < ch; k++) {
        let t = 0;
        for (let i = 0; i < taps; i++) {
          for (let j = 0; j < taps; j++) {
            t += data[(rows[i] * w + cols[j]) * ch + k] * wr[i] * wc[j];
          }
        }
        out[o + k] = t;
      }
    }
  }
  return { data: out, height: h, width: w, channels: ch };
}

/**
 * Flips an image along columns (`horizontal`) or rows.
 *
 * @param image the input
 * @param horizontal true to mirror left-right, false to mirror top-bottom
 * @returns a new image
 * @example
 * ```ts
 * const mirrored = flipImage(img, true);
 * ```
 */
export function flipImage(image: ImageTensor, horizontal: boolean): ImageTensor {
  const { height: h, width: w, channels: ch, data } = image;
  const out = new Float32Array(data.length);
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      const sr = horizontal ? r : h - 1 - r;
      const sc = horizontal ? w - 1 - c : c;
      const s = (sr * w + sc) * ch;
      const d = (r * w + c) * ch;
      for (let k = 0; k < ch; k++) out[d + k] = data[s + k];
    }
  }
  return { data: out, height: h, width: w, channels: ch };
}

/**
 * Applies transform parameters the way Keras' `ImageDataGenerator.apply_transform` does: the
 * affine part (skipped entirely when theta, shifts, shear and zoom are all neutral), then the
 * channel shift, then the horizontal and vertical flips.
 *
 * @param image the input image (not modified)
 * @param params Keras' parameter dictionary; missing entries are neutral
 * @param sampling fill mode (default "nearest"), cval (0) and order (1)
 * @returns the transformed image (a new one)
 * @example
 * ```ts
 * const out = applyTransform(img, { shear: 0.2, zx: 1.1, zy: 0.9, flipHorizontal: true });
 * ```
 */
export function applyTransform(
  image: ImageTensor,
  params: Partial<TransformParams>,
  sampling: SamplingOptions = {},
): ImageTensor {
  const matrix = affineMatrix(params, image.height, image.width);
  let out: ImageTensor = matrix
    ? affineResample(image, matrix, sampling)
    : { ...image, data: new Float32Array(image.data) };
  if (params.channelShiftIntensity !== undefined && params.channelShiftIntensity !== null) {
    out = channelShift(out, params.channelShiftIntensity);
  }
  if (params.flipHorizontal) out = flipImage(out, true);
  if (params.flipVertical) out = flipImage(out, false);
  return out;
}

/** Keras' `apply_channel_shift`: add `intensity`, clip to the image's own min and max. */
function channelShift(image: ImageTensor, intensity: number): ImageTensor {
  let min = Infinity;
  let max = -Infinity;
  for (const v of image.data) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const data = image.data.map((v) => Math.min(max, Math.max(min, v + intensity)));
  return { ...image, data };
}

/**
 * Keras' `standardize` for one image, IN PLACE: rescale, then samplewise centring and std
 * normalisation when enabled (featurewise statistics and ZCA are not supported).
 *
 * @param data the image values (modified)
 * @param options the generator settings
 * @returns the same array
 * @example
 * ```ts
 * standardize(img.data, { rescale: 1 / 255 }); // values now in [0, 1]
 * ```
 */
export function standardize(data: Float32Array, options: AugmentOptions): Float32Array {
  if (options.rescale) {
    const s = options.rescale;
    for (let i = 0; i < data.length; i++) data[i] *= s;
  }
  if (options.samplewiseCenter || options.samplewiseStdNormalization) {
    let mean = 0;
    for (const v of data) mean += v;
    mean /= data.length;
    if (options.samplewiseCenter) {
      for (let i = 0; i < data.length; i++) data[i] -= mean;
      mean = 0;
    }
    if (options.samplewiseStdNormalization) {
      let variance = 0;
      for (const v of data) variance += (v - mean) ** 2;
      const std = Math.sqrt(variance / data.length);
      for (let i = 0; i < data.length; i++) data[i] /= std + 1e-6;
    }
  }
  return data;
}

/**
 * Whether the options ask for any random geometric or colour augmentation (if not, images pass
 * through untouched apart from {@link standardize}).
 *
 * @param options the generator settings
 * @returns true when `randomTransform` can change an image
 * @example
 * ```ts
 * hasRandomAugmentation({ rescale: 1 / 255 }); // false
 * ```
 */
export function hasRandomAugmentation(options: AugmentOptions): boolean {
  const [lo, hi] = zoomBounds(options.zoomRange);
  const shift = (r: ShiftRange | undefined) =>
    r !== undefined && (Array.isArray(r) ? r.length > 0 : r !== 0);
  return !!(options.rotationRange || shift(options.widthShiftRange) ||
    shift(options.heightShiftRange) || options.shearRange || !(lo === 1 && hi === 1) ||
    options.channelShiftRange || options.horizontalFlip || options.verticalFlip);
}

/**
 * Draws, applies and standardizes one augmentation of an image (Keras' per-sample path in
 * `_get_batches_of_transformed_samples`: `get_random_transform`, `apply_transform`,
 * `standardize`).
 *
 * @param image the input (not modified)
 * @param options the generator settings
 * @param rng the random source
 * @returns the augmented, standardized values
 * @example
 * ```ts
 * const x = augmentImage(img, { rescale: 1 / 255, horizontalFlip: true }, createRng(3));
 * ```
 */
export function augmentImage(
  image: ImageTensor,
  options: AugmentOptions,
  rng: Rng,
): Float32Array {
  const params = randomTransform(options, rng, [image.height, image.width, image.channels]);
  const out = applyTransform(image, params, {
    fillMode: options.fillMode,
    cval: options.cval,
    order: options.interpolationOrder,
  });
  return standardize(out.data, options);
}
