/**
 * Test helpers that draw small image datasets with sharp (no network, no shared files):
 * class-per-subfolder image folders in any format Keras accepts, the article's
 * training_set/val_set/test layout, images in unusual modes (gray, RGBA, palette, 16-bit, CMYK)
 * and broken files (zero-byte, truncated JPEG, text named .jpg).
 *
 * Images are deterministic: class `k` is drawn with its own hue and stripe direction (even
 * classes horizontal stripes, odd classes vertical), varied per image, so a small model can tell
 * the classes apart.
 *
 * Not a test file itself (no `_test` suffix).
 *
 * @module
 */
import sharp from "sharp";
import { dirname, join } from "node:path";

/** Encodings the fixtures can write. */
export type FixtureFormat = "jpeg" | "png" | "webp" | "gif" | "tiff" | "bmp" | "ppm";

/** Pixel modes {@link writeImage} can store. */
export type FixtureMode =
  | "rgb"
  | "gray"
  | "gray-alpha"
  | "rgba"
  | "palette"
  | "rgb16"
  | "gray16"
  | "cmyk";

/** What {@link makeImageFolder} draws. */
export interface ImageFolderSpec {
  /** Class folder name -> number of images, e.g. `{ cars: 6, planes: 5 }`. */
  classes: Record<string, number>;
  /** Square side, or `[height, width]`; default 32. */
  size?: number | readonly [number, number];
  /** Encoding; default `"jpeg"`. */
  format?: FixtureFormat;
  /** File extension to use (without dot), e.g. `"JPG"`; default from the format. */
  extension?: string;
  /** Number added to the image index when drawing (to make different folders differ). */
  variant?: number;
}

const DEFAULT_EXTENSION: Record<FixtureFormat, string> = {
  jpeg: "jpg",
  png: "png",
  webp: "webp",
  gif: "gif",
  tiff: "tif",
  bmp: "bmp",
  ppm: "ppm",
};

const HUES: readonly [number, number, number][] = [
  [200, 40, 40],
  [40, 80, 210],
  [40, 170, 60],
  [200, 170, 30],
];

/**
 * Draws a deterministic RGB image (HWC, 8-bit) for class `classIndex`, image `imageIndex`.
 *
 * @param height rows
 * @param width columns
 * @param classIndex decides hue and stripe direction
 * @param imageIndex varies phase and brightness
 * @returns `height * width * 3` samples
 * @example
 * ```ts
 * const px = fixturePixels(32, 32, 0, 3);
 * ```
 */
export function fixturePixels(
  height: number,
  width: number,
  classIndex: number,
  imageIndex: number,
): Uint8Array {
  const [r, g, b] = HUES[classIndex % HUES.length];
  const out = new Uint8Array(height * width * 3);
  const period = 4 + (imageIndex % 5);
  const shade = 0.6 + 0.4 * ((imageIndex * 37) % 11) / 10;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const along = classIndex % 2 === 0 ? y : x;
      const stripe = Math.floor((along + imageIndex) / period) % 2 === 0 ? 1 : 0.35;
      const noise = ((x * 7 + y * 13 + imageIndex * 29) % 17) - 8;
      const o = (y * width + x) * 3;
      out[o] = clamp(r * stripe * shade + noise);
      out[o + 1] = clamp(g * stripe * shade + noise);
      out[o + 2] = clamp(b * stripe * shade + noise);
    }
  }
  return out;
}

function clamp(v: number): number {
  return Math.max(0, Math.min(255, Math.round(v)));
}

/**
 * Encodes 8-bit RGB pixels as a 24-bit bottom-up BMP (sharp cannot write BMP).
 *
 * @param pixels HWC RGB samples
 * @param width columns
 * @param height rows
 * @returns the file bytes
 * @example
 * ```ts
 * await Deno.writeFile("x.bmp", encodeBmp(fixturePixels(8, 8, 0, 0), 8, 8));
 * ```
 */
export function encodeBmp(pixels: Uint8Array, width: number, height: number): Uint8Array {
  const stride = Math.ceil((width * 3) / 4) * 4;
  const size = 54 + stride * height;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = 0x42;
  out[1] = 0x4d;
  view.setUint32(2, size, true);
  view.setUint32(10, 54, true);
  view.setUint32(14, 40, true);
  view.setInt32(18, width, true);
  view.setInt32(22, height, true);
  view.setUint16(26, 1, true);
  view.setUint16(28, 24, true);
  view.setUint32(34, stride * height, true);
  for (let y = 0; y < height; y++) {
    const row = 54 + (height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const s = (y * width + x) * 3;
      out[row + x * 3] = pixels[s + 2];
      out[row + x * 3 + 1] = pixels[s + 1];
      out[row + x * 3 + 2] = pixels[s];
    }
  }
  return out;
}

/**
 * Encodes 8-bit RGB pixels as a binary PPM (P6; sharp cannot write PPM).
 *
 * @param pixels HWC RGB samples
 * @param width columns
 * @param height rows
 * @returns the file bytes
 * @example
 * ```ts
 * await Deno.writeFile("x.ppm", encodePpm(fixturePixels(8, 8, 1, 0), 8, 8));
 * ```
 */
export function encodePpm(pixels: Uint8Array, width: number, height: number): Uint8Array {
  const header = new TextEncoder().encode(`P6\n# fixture\n${width} ${height}\n255\n`);
  const out = new Uint8Array(header.length + pixels.length);
  out.set(header);
  out.set(pixels, header.length);
  return out;
}

/**
 * Encodes RGB pixels in a format, losslessly where the format allows (JPEG at quality 95,
 * 4:4:4).
 *
 * @param pixels HWC RGB samples
 * @param width columns
 * @param height rows
 * @param format the encoding
 * @returns the file bytes
 * @example
 * ```ts
 * const png = await encodeRgb(fixturePixels(4, 4, 0, 0), 4, 4, "png");
 * ```
 */
export async function encodeRgb(
  pixels: Uint8Array,
  width: number,
  height: number,
  format: FixtureFormat,
): Promise<Uint8Array> {
  if (format === "bmp") return encodeBmp(pixels, width, height);
  if (format === "ppm") return encodePpm(pixels, width, height);
  const img = sharp(pixels, { raw: { width, height, channels: 3 } });
  switch (format) {
    case "jpeg":
      return await img.jpeg({ quality: 95, chromaSubsampling: "4:4:4" }).toBuffer();
    case "png":
      return await img.png().toBuffer();
    case "webp":
      return await img.webp({ lossless: true }).toBuffer();
    case "gif":
      return await img.gif().toBuffer();
    case "tiff":
      return await img.tiff({ compression: "lzw" }).toBuffer();
  }
}

/** What {@link writeImage} writes. */
export interface WriteImageOptions {
  /** RGB samples to store (HWC); default a fixture pattern. */
  pixels?: Uint8Array;
  /** Default 8. */
  width?: number;
  /** Default 8. */
  height?: number;
  /** Encoding; default from the extension of `path` (png when unknown). */
  format?: FixtureFormat;
  /**
   * Pixel mode stored: "gray" (1 channel, from the R samples), "gray-alpha", "rgba" (alpha from
   * `alpha`), "palette" (indexed PNG), "rgb16" / "gray16" (16-bit PNG; samples are scaled by
   * 257 unless `samples16` is given), "cmyk" (JPEG). Default "rgb".
   */
  mode?: FixtureMode;
  /** Alpha value(s) for "rgba" / "gray-alpha"; default 128. */
  alpha?: number;
  /** Exact 16-bit samples for "rgb16" (3 per pixel) or "gray16" (1 per pixel). */
  samples16?: Uint16Array;
}

function formatFromPath(path: string): FixtureFormat {
  const ext = path.slice(path.lastIndexOf(".") + 1).toLowerCase();
  const found = (Object.keys(DEFAULT_EXTENSION) as FixtureFormat[]).find(
    (f) => DEFAULT_EXTENSION[f] === ext || f === ext,
  );
  return found ?? (ext === "jpeg" ? "jpeg" : ext === "tiff" ? "tiff" : "png");
}

/**
 * Writes one image file (creating its folder), in any {@link FixtureMode}.
 *
 * @param path the file to write
 * @param options pixels, size, format and mode
 * @returns the RGB samples the file was made from
 * @example
 * ```ts
 * await writeImage(join(dir, "gray.png"), { mode: "gray", width: 4, height: 4 });
 * ```
 */
export async function writeImage(
  path: string,
  options: WriteImageOptions = {},
): Promise<Uint8Array> {
  const width = options.width ?? 8;
  const height = options.height ?? 8;
  const pixels = options.pixels ?? fixturePixels(height, width, 0, 0);
  const format = options.format ?? formatFromPath(path);
  const mode = options.mode ?? "rgb";
  const n = width * height;
  const alpha = options.alpha ?? 128;
  let bytes: Uint8Array;
  const raw = (data: Uint8Array | Uint16Array, channels: 1 | 2 | 3 | 4) =>
    sharp(data, { raw: { width, height, channels } });
  switch (mode) {
    case "rgb":
      bytes = await encodeRgb(pixels, width, height, format);
      break;
    case "gray": {
      const g = Uint8Array.from({ length: n }, (_, i) => pixels[i * 3]);
      const img = raw(g, 1).toColourspace("b-w");
      bytes = format === "jpeg"
        ? await img.jpeg({ quality: 100 }).toBuffer()
        : await img.png().toBuffer();
      break;
    }
    case "gray-alpha": {
      const ga = new Uint8Array(n * 2);
      for (let i = 0; i < n; i++) {
        ga[i * 2] = pixels[i * 3];
        ga[i * 2 + 1] = alpha;
      }
      bytes = await raw(ga, 2).toColourspace("b-w").png().toBuffer();
      break;
    }
    case "rgba": {
      const rgba = new Uint8Array(n * 4);
      for (let i = 0; i < n; i++) {
        rgba.set(pixels.subarray(i * 3, i * 3 + 3), i * 4);
        rgba[i * 4 + 3] = alpha;
      }
      bytes = await raw(rgba, 4).png().toBuffer();
      break;
    }
    case "palette":
      bytes = await raw(pixels, 3).png({ palette: true, colours: 256, dither: 0 }).toBuffer();
      break;
    case "rgb16": {
      const s = options.samples16 ?? Uint16Array.from(pixels, (v) => v * 257);
      bytes = await raw(s, 3).toColourspace("rgb16").png().toBuffer();
      break;
    }
    case "gray16": {
      const s = options.samples16 ?? Uint16Array.from({ length: n }, (_, i) => pixels[i * 3]);
      bytes = await raw(s, 1).toColourspace("grey16").png().toBuffer();
      break;
    }
    case "cmyk":
      bytes = await raw(pixels, 3).toColourspace("cmyk").jpeg({ quality: 100 }).toBuffer();
      break;
  }
  await Deno.mkdir(dirname(path), { recursive: true });
  await Deno.writeFile(path, bytes);
  return pixels;
}

/**
 * Draws a class-per-subfolder image folder: `root/<class>/<class>_NNN.<ext>`.
 *
 * @param root the folder to fill (created if needed)
 * @param spec classes with counts, size, format, extension
 * @returns the absolute paths written, class by class in sorted file order
 * @example
 * ```ts
 * const dir = await Deno.makeTempDir();
 * await makeImageFolder(dir, { classes: { cars: 6, planes: 5 }, size: 32, format: "jpeg" });
 * ```
 */
export async function makeImageFolder(root: string, spec: ImageFolderSpec): Promise<string[]> {
  const [height, width] = typeof spec.size === "number"
    ? [spec.size, spec.size]
    : spec.size ?? [32, 32];
  const format = spec.format ?? "jpeg";
  const ext = spec.extension ?? DEFAULT_EXTENSION[format];
  const written: string[] = [];
  const names = Object.keys(spec.classes).sort();
  for (const name of Object.keys(spec.classes)) {
    const classIndex = names.indexOf(name);
    const dir = join(root, name);
    await Deno.mkdir(dir, { recursive: true });
    for (let i = 0; i < spec.classes[name]; i++) {
      const pixels = fixturePixels(height, width, classIndex, i + (spec.variant ?? 0));
      const path = join(dir, `${name}_${String(i).padStart(3, "0")}.${ext}`);
      await Deno.writeFile(path, await encodeRgb(pixels, width, height, format));
      written.push(path);
    }
  }
  return written;
}

/** Per-split class counts for {@link makeArticleLayout}. */
export interface ArticleLayoutSpec {
  /** training_set/ classes and counts. */
  train: Record<string, number>;
  /** val_set/ classes and counts. */
  val: Record<string, number>;
  /** test/ classes and counts. */
  test: Record<string, number>;
  /** Image side or `[height, width]`; default 32. */
  size?: number | readonly [number, number];
  /** Encoding; default `"jpeg"`. */
  format?: FixtureFormat;
}

/**
 * Draws the article's layout: `root/training_set`, `root/val_set` and `root/test`, each a
 * class-per-subfolder image folder (the splits use different image variants).
 *
 * @param root the layout root (created if needed)
 * @param spec per-split class counts, size and format
 * @returns the root
 * @example
 * ```ts
 * await makeArticleLayout(dir, {
 *   train: { cars: 8, planes: 8 }, val: { cars: 2, planes: 2 }, test: { cars: 2, planes: 1 },
 * });
 * ```
 */
export async function makeArticleLayout(root: string, spec: ArticleLayoutSpec): Promise<string> {
  const splits: [string, Record<string, number>, number][] = [
    ["training_set", spec.train, 0],
    ["val_set", spec.val, 1000],
    ["test", spec.test, 2000],
  ];
  for (const [split, classes, variant] of splits) {
    await makeImageFolder(join(root, split), {
      classes,
      size: spec.size,
      format: spec.format,
      variant,
    });
  }
  return root;
}

/** Paths written by {@link writeBadImages}. */
export interface BadImages {
  /** An empty `.jpg`. */
  zeroByte: string;
  /** A JPEG cut in half. */
  truncated: string;
  /** A text file named `.jpg`. */
  textAsJpeg: string;
}

/**
 * Writes the three classic broken files into `dir`: `empty.jpg` (0 bytes), `truncated.jpg`
 * (the first half of a real JPEG) and `notes_really.jpg` (text).
 *
 * @param dir the folder (created if needed)
 * @returns their paths
 * @example
 * ```ts
 * const bad = await writeBadImages(join(dir, "cars"));
 * ```
 */
export async function writeBadImages(dir: string): Promise<BadImages> {
  await Deno.mkdir(dir, { recursive: true });
  const zeroByte = join(dir, "empty.jpg");
  const truncated = join(dir, "truncated.jpg");
  const textAsJpeg = join(dir, "notes_really.jpg");
  await Deno.writeFile(zeroByte, new Uint8Array(0));
  const full = await encodeRgb(fixturePixels(32, 32, 0, 1), 32, 32, "jpeg");
  await Deno.writeFile(truncated, full.subarray(0, Math.floor(full.length / 2)));
  await Deno.writeTextFile(textAsJpeg, "This is a text file, not a JPEG.\n");
  return { zeroByte, truncated, textAsJpeg };
}

/**
 * Runs `fn` with a fresh temporary folder and removes the folder afterwards.
 *
 * @param fn receives the folder path
 * @returns what `fn` returns
 * @example
 * ```ts
 * await withTempDir(async (dir) => { await makeImageFolder(dir, { classes: { a: 1 } }); });
 * ```
 */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "car-plane-fixture-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
