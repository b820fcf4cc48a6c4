/**
 * The types and errors shared by the image modules (`image_decode.ts`, `image_bmp.ts`,
 * `image_pnm.ts`, `image_resize.ts`, `images.ts`), and the caps on what one image may cost.
 *
 * @module
 */
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
/** The formats, by extension, that can be decoded here (the ones Keras' `flow_from_directory` lists). */
export const SUPPORTED_FORMATS = "JPEG, PNG, BMP, PPM/PGM/PBM, GIF, TIFF or WebP";

/**
 * Bytes read from one image file at most (64 MiB): a 50-megapixel JPEG is about 25 MB, and a
 * link to `/dev/zero` named `.jpg` must not be read without end.
 */
export const MAX_IMAGE_FILE_BYTES = 64 * 1024 * 1024;

/**
 * Pixels one image may decode to (2^26, about 67 megapixels, 201 MB as RGB): so a small file
 * declaring a huge size cannot exhaust the memory. Also given to sharp as `limitInputPixels`.
 */
export const MAX_IMAGE_PIXELS = 2 ** 26;

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
