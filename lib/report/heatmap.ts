/**
 * Grad-CAM pictures: a heatmap blended over its image in a blue-to-red colour scale (the "jet"
 * map of Chollet's Grad-CAM example), and a captioned sheet of them rendered with sharp.
 *
 * @module
 */
import type { RgbImage } from "../data/images.ts";
import type { ExplainedImage } from "../models/gradcam.ts";
import { renderTileSheet, shortenStart, type Tile } from "./gallery.ts";

/**
 * The jet colour of `v` in 0..1 (0 dark blue, 0.5 green-yellow, 1 dark red), as 0..255 RGB.
 *
 * @example
 * ```ts
 * jet(1); // [128, 0, 0]
 * ```
 */
export function jet(v: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, v));
  const channel = (offset: number) =>
    Math.round(255 * Math.min(1, Math.max(0, 1.5 - Math.abs(4 * x - offset))));
  return [channel(3), channel(2), channel(1)];
}

/**
 * `image` with `heatmap` (one value in 0..1 per pixel, row-major, same size) blended over it:
 * `(1 - alpha) * image + alpha * jet(heat)`.
 *
 * @example
 * ```ts
 * const overlay = heatmapOverlay(explained.image, explained.cam.heatmap);
 * ```
 */
export function heatmapOverlay(image: RgbImage, heatmap: Float32Array, alpha = 0.45): RgbImage {
  if (heatmap.length !== image.width * image.height) {
    throw new RangeError(
      `heatmap has ${heatmap.length} values; the image is ${image.width}x${image.height} ` +
        `(${image.width * image.height} pixels).`,
    );
  }
  const data = new Uint8Array(image.data.length);
  for (let i = 0; i < heatmap.length; i++) {
    const colour = jet(heatmap[i]);
    for (let c = 0; c < 3; c++) {
      data[i * 3 + c] = Math.round((1 - alpha) * image.data[i * 3 + c] + alpha * colour[c]);
    }
  }
  return { width: image.width, height: image.height, data };
}

/** Options for {@linkcode renderGradCamSheet}. */
export interface GradCamSheetOptions {
  /** Class names in index order, for the captions. */
  classNames: string[];
  /** Tile edge in pixels (default 128). */
  tileSize?: number;
  /** Image pairs (original, heatmap) per row (default 3). */
  pairsPerRow?: number;
  /** A title over the sheet. */
  title?: string;
}

/**
 * One PNG with, for each explained image, the image and its Grad-CAM overlay side by side,
 * captioned with the class explained, its probability and the file name.
 *
 * @example
 * ```ts
 * const png = await renderGradCamSheet(explained, { classNames: ["cars", "planes"] });
 * await Deno.writeFile("outputs/gradcam.png", png);
 * ```
 */
export async function renderGradCamSheet(
  items: ExplainedImage[],
  options: GradCamSheetOptions,
): Promise<Uint8Array> {
  const tiles: Tile[] = items.flatMap((item) => {
    const label = options.classNames[item.cam.classIndex] ?? String(item.cam.classIndex);
    const percent = `${Math.round(item.cam.probability * 100)}%`;
    return [
      { image: item.image, captions: [{ text: shortenStart(item.name, 22) }] },
      {
        image: heatmapOverlay(item.image, item.cam.heatmap),
        captions: [{ text: `${label} ${percent}` }, { text: `Grad-CAM: ${item.cam.layerName}` }],
      },
    ];
  });
  return await renderTileSheet(tiles, {
    tileSize: options.tileSize ?? 128,
    columns: 2 * (options.pairsPerRow ?? 3),
    title: options.title,
    captionLines: 2,
  });
}
