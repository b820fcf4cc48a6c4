/**
 * Loading images as Keras' `load_img` + `img_to_array` do: decoding (`image_decode.ts`, with
 * `image_bmp.ts` and `image_pnm.ts`), PIL's resizing (`image_resize.ts`), and loading many files
 * at once with every unreadable one reported and skipped. The front door of those modules.
 *
 * @module
 */
import { decodeImageFile } from "./image_decode.ts";
import { resizeImage } from "./image_resize.ts";
import {
  type FloatImage,
  ImageDecodeError,
  type LoadImageOptions,
  type LoadImagesOptions,
  type LoadImagesResult,
  type RgbImage,
  type SkippedImage,
  UnreadableImagesError,
} from "./image_types.ts";

export * from "./image_types.ts";
export { decodeImageBytes, decodeImageFile } from "./image_decode.ts";
export { decodeBmp } from "./image_bmp.ts";
export { decodePnm } from "./image_pnm.ts";
export { resizeBilinear, resizeImage, resizeNearest } from "./image_resize.ts";

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
