/**
 * Pictures of images for people: grids of sample images, the article's augmentation shown on
 * one image, and the tile drawing they share with the prediction contact sheet
 * (`lib/contact_sheet.ts`). Everything renders with sharp to PNG bytes; small images (the
 * dataset's 32x32 photos, the 64x64 network inputs) are enlarged with nearest-neighbour
 * sampling so their pixels stay visible.
 *
 * - {@linkcode renderTileSheet}: the shared layout: a title, then tiles in rows, each tile
 *   optionally framed in a colour and captioned with up to two lines.
 * - {@linkcode sampleGrid}: image files as a captioned grid (e.g. the first cars and planes).
 * - {@linkcode augmentationGrid}: one image at the network's input size, then `count` random
 *   augmentations of it drawn with `lib/augment.ts` exactly as training draws them, each
 *   captioned with its transform (flip, shear degrees, zoom factors, ...).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import sharp from "sharp";
import {
  applyTransform,
  type AugmentOptions,
  createRng,
  randomTransform,
  type TransformParams,
} from "../data/augment.ts";
import { type Interpolation, loadImage, type RgbImage } from "../data/images.ts";
import { CarplaneError } from "../errors.ts";
import { escapeXml as escapeXmlText } from "../_escape.ts";

/** Raised for a grid that cannot be drawn; the message says what to pass instead. */
export class GalleryError extends CarplaneError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "GalleryError";
  }
}

/** One caption line under a tile. */
export interface TileCaption {
  /** The text (drawn as given: shorten long text first). */
  text: string;
  /** CSS colour; default `#222` for the first line and `#555` for the second. */
  colour?: string;
}

/** One tile of a {@linkcode renderTileSheet}: an image, an optional frame and captions. */
export interface Tile {
  /** An image file (any format sharp reads), or 8-bit RGB pixels. */
  image: string | RgbImage;
  /** Colour of a 4-pixel frame around the image; default none. */
  frame?: string;
  /** Up to two caption lines (the first in 12 px, the second in 10 px). */
  captions?: TileCaption[];
}

/** Options for {@linkcode renderTileSheet}. */
export interface TileSheetOptions {
  /** Tile edge in pixels (images are stretched to it, nearest neighbour). Default 128. */
  tileSize?: number;
  /** Tiles per row (at most the number of tiles). Default 5. */
  columns?: number;
  /** A title over the sheet; default none. */
  title?: string;
  /**
   * Caption lines reserved under every tile (0, 1 or 2). Default: the most any tile has.
   */
  captionLines?: 0 | 1 | 2;
}

const PAD = 8;
const TITLE_HEIGHT = 34;
const CAPTION_HEIGHT = [0, 22, 36] as const;
const CAPTION_FONT = [12, 10] as const;
const CAPTION_COLOUR = ["#222", "#555"] as const;
const FONT = "DejaVu Sans, sans-serif";

/**
 * Escapes text for an SVG text node or attribute, including characters XML cannot hold (a file
 * name with an escape code would otherwise make the whole SVG unreadable).
 *
 * @example
 * ```ts
 * escapeXml("cars & planes"); // "cars &#38; planes"
 * ```
 */
export function escapeXml(s: string): string {
  return escapeXmlText(s);
}

/**
 * Shortens `text` to at most `max` characters, keeping its end (file names differ there):
 * `"…" + last max-1 characters`.
 *
 * @example
 * ```ts
 * shortenStart("training_set/planes/0042.jpg", 12); // "…s/0042.jpg" (12 characters)
 * ```
 */
export function shortenStart(text: string, max: number): string {
  return text.length > max ? "…" + text.slice(-(max - 1)) : text;
}

async function tilePng(image: string | RgbImage, size: number): Promise<Buffer> {
  const input = typeof image === "string"
    ? sharp(image)
    : sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength), {
      raw: { width: image.width, height: image.height, channels: 3 },
    });
  try {
    return await input.removeAlpha().resize(size, size, { kernel: "nearest", fit: "fill" }).png()
      .toBuffer();
  } catch (error) {
    const what = typeof image === "string" ? image : `a ${image.width}x${image.height} image`;
    throw new GalleryError(
      `Cannot draw ${what}: ${
        error instanceof Error ? error.message : String(error)
      }. Pass readable image files (JPEG, PNG, ...) or 8-bit RGB pixels.`,
      { cause: error },
    );
  }
}

/**
 * Draws tiles in rows on a white sheet: each image enlarged to `tileSize` (nearest neighbour),
 * optionally framed, with up to two caption lines centred under it, and an optional title.
 * Cells are `tileSize + 16` wide and `tileSize + 16 + caption` high (caption 0, 22 or 36 px for
 * 0, 1 or 2 lines); the title takes 34 px.
 *
 * @example
 * ```ts
 * const png = await renderTileSheet(
 *   [{ image: "data/test/cars/0100.jpg", frame: "#2ca02c", captions: [{ text: "cars 0.03" }] }],
 *   { tileSize: 96, title: "One car" },
 * );
 * await Deno.writeFile("one.png", png);
 * ```
 */
export async function renderTileSheet(
  tiles: Tile[],
  options: TileSheetOptions = {},
): Promise<Uint8Array> {
  if (tiles.length === 0) {
    throw new GalleryError("renderTileSheet needs at least one tile (an image file or pixels).");
  }
  const tile = options.tileSize ?? 128;
  if (!Number.isInteger(tile) || tile < 8) {
    throw new GalleryError(`tileSize must be an integer of at least 8 pixels, got ${tile}.`);
  }
  const columns = Math.max(1, Math.min(options.columns ?? 5, tiles.length));
  const lines = options.captionLines ??
    Math.min(2, Math.max(...tiles.map((t) => t.captions?.length ?? 0))) as 0 | 1 | 2;
  const titleHeight = options.title ? TITLE_HEIGHT : 0;
  const cellW = tile + 2 * PAD;
  const cellH = tile + CAPTION_HEIGHT[lines] + 2 * PAD;
  const width = columns * cellW;
  const height = titleHeight + Math.ceil(tiles.length / columns) * cellH;
  const svg: string[] = [];
  if (options.title) {
    svg.push(
      `<text x="${
        width / 2
      }" y="24" font-family="${FONT}" font-size="18" font-weight="bold" text-anchor="middle" fill="#222">${
        escapeXml(options.title)
      }</text>`,
    );
  }
  const composites: sharp.OverlayOptions[] = [];
  for (let i = 0; i < tiles.length; i++) {
    const t = tiles[i];
    const x = (i % columns) * cellW;
    const y = titleHeight + Math.floor(i / columns) * cellH;
    if (t.frame) {
      svg.push(
        `<rect x="${x + PAD - 4}" y="${y + PAD - 4}" width="${tile + 8}" height="${
          tile + 8
        }" fill="${escapeXml(t.frame)}"/>`,
      );
    }
    composites.push({ input: await tilePng(t.image, tile), left: x + PAD, top: y + PAD });
    (t.captions ?? []).slice(0, lines).forEach((caption, line) => {
      svg.push(
        `<text x="${x + cellW / 2}" y="${
          y + PAD + tile + (line === 0 ? 16 : 30)
        }" font-family="${FONT}" font-size="${CAPTION_FONT[line]}" text-anchor="middle" fill="${
          escapeXml(caption.colour ?? CAPTION_COLOUR[line])
        }">${escapeXml(caption.text)}</text>`,
      );
    });
  }
  const frame = Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${
      svg.join("")
    }</svg>`,
  );
  const png = await sharp({
    create: { width, height, channels: 3, background: { r: 255, g: 255, b: 255 } },
  }).composite([{ input: frame, left: 0, top: 0 }, ...composites]).png().toBuffer();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}

/** Options for {@linkcode sampleGrid}. */
export interface SampleGridOptions {
  /** Tile edge in pixels. Default 96. */
  tileSize?: number;
  /** Tiles per row. Default 8. */
  columns?: number;
  /** One caption per file (e.g. its class); long ones are shortened from the start. */
  captions?: string[];
  /** A title over the grid. */
  title?: string;
}

/**
 * The given image files as one PNG grid, enlarged with nearest-neighbour sampling, each
 * optionally captioned.
 *
 * @example
 * ```ts
 * const ds = await scanImageDirectory("data/training_set");
 * const png = await sampleGrid(ds.files.slice(0, 8), { captions: ds.files.slice(0, 8).map(() => "cars") });
 * await Deno.writeFile("samples.png", png);
 * ```
 */
export async function sampleGrid(
  files: string[],
  options: SampleGridOptions = {},
): Promise<Uint8Array> {
  if (files.length === 0) {
    throw new GalleryError("sampleGrid needs at least one image file; pass a non-empty list.");
  }
  if (options.captions && options.captions.length !== files.length) {
    throw new GalleryError(
      `sampleGrid got ${options.captions.length} captions for ${files.length} files; pass one ` +
        "caption per file, or none.",
    );
  }
  const tileSize = options.tileSize ?? 96;
  const maxChars = Math.max(4, Math.floor((tileSize + 2 * PAD) / 7.5));
  return await renderTileSheet(
    files.map((image, i) => ({
      image,
      captions: options.captions ? [{ text: shortenStart(options.captions[i], maxChars) }] : [],
    })),
    { tileSize, columns: options.columns ?? 8, title: options.title },
  );
}

/** Options for {@linkcode augmentationGrid}. */
export interface AugmentationGridOptions {
  /** Augmented variants to draw. Default 9 (with the original: two rows of 5). */
  count?: number;
  /** Seed of the random transforms (same seed, same grid). Default 42. */
  seed?: number;
  /** Tile edge in pixels. Default 160 (room for the captions). */
  tileSize?: number;
  /** Tiles per row. Default 5. */
  columns?: number;
  /** Size the image is loaded at, `[height, width]`, as training does. Default `[64, 64]`. */
  targetSize?: [number, number];
  /** Resize interpolation when loading. Default `nearest` (Keras' default). */
  interpolation?: Interpolation;
  /** A title over the grid. */
  title?: string;
}

function round(x: number, digits: number): string {
  return Number(x.toFixed(digits)).toString();
}

/**
 * A short description of one random transform for a caption, e.g.
 * `"flip · shear -0.10° · zoom 0.93×1.12"` (shear in degrees, two decimals); `"no change"` for the identity.
 *
 * @example
 * ```ts
 * describeTransform({ flipHorizontal: true, shear: 0.0213, zx: 0.9, zy: 1.1 });
 * // "flip · shear 0.02° · zoom 0.9×1.1"
 * ```
 */
export function describeTransform(params: Partial<TransformParams>): string {
  const parts: string[] = [];
  if (params.flipHorizontal) parts.push("flip");
  if (params.flipVertical) parts.push("vflip");
  if (params.theta) parts.push(`rot ${round(params.theta, 1)}°`);
  if (params.tx || params.ty) {
    parts.push(`shift ${round(params.tx ?? 0, 1)},${round(params.ty ?? 0, 1)}`);
  }
  if (params.shear) {
    parts.push(`shear ${(Math.abs(params.shear) < 0.005 ? 0 : params.shear).toFixed(2)}°`);
  }
  const zx = params.zx ?? 1;
  const zy = params.zy ?? 1;
  if (zx !== 1 || zy !== 1) parts.push(`zoom ${round(zx, 2)}×${round(zy, 2)}`);
  if (params.channelShiftIntensity) parts.push(`colour ${round(params.channelShiftIntensity, 1)}`);
  return parts.length > 0 ? parts.join(" · ") : "no change";
}

function toRgb(data: Float32Array, width: number, height: number): RgbImage {
  const bytes = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) bytes[i] = Math.max(0, Math.min(255, Math.round(data[i])));
  return { width, height, data: bytes };
}

/**
 * One image as the network sees it (loaded at `targetSize`), then `count` random augmentations
 * of it, drawn with `lib/augment.ts` (`randomTransform` + `applyTransform`, Keras'
 * `ImageDataGenerator` semantics) from a generator seeded with `seed`, enlarged so the pixels
 * show. Each variant's caption says what was drawn (flip, shear in degrees, zoom factors, ...).
 * `rescale` and other standardisation are not applied: they change values, not the picture.
 *
 * @example
 * ```ts
 * const png = await augmentationGrid("data/training_set/planes/0042.jpg", ARTICLE_TRAIN_AUGMENTATION, {
 *   count: 9,
 *   seed: 1,
 * });
 * await Deno.writeFile("augmented.png", png);
 * ```
 */
export async function augmentationGrid(
  file: string,
  augmentOptions: AugmentOptions,
  options: AugmentationGridOptions = {},
): Promise<Uint8Array> {
  const count = options.count ?? 9;
  if (!Number.isInteger(count) || count < 1) {
    throw new GalleryError(`augmentationGrid needs count >= 1 variants, got ${count}.`);
  }
  const targetSize = options.targetSize ?? [64, 64];
  const image = await loadImage(file, {
    targetSize,
    interpolation: options.interpolation ?? "nearest",
  });
  const rng = createRng(options.seed ?? 42);
  const tileSize = options.tileSize ?? 160;
  const maxChars = Math.floor((tileSize + 2 * PAD) / 5.6);
  const fit = (text: string) => text.length > maxChars ? text.slice(0, maxChars - 1) + "…" : text;
  const tiles: Tile[] = [{
    image: toRgb(image.data, image.width, image.height),
    captions: [{ text: "original" }, { text: `${image.width}x${image.height} input` }],
  }];
  for (let i = 1; i <= count; i++) {
    const params = randomTransform(augmentOptions, rng, [image.height, image.width, 3]);
    const out = applyTransform(image, params, {
      fillMode: augmentOptions.fillMode,
      cval: augmentOptions.cval,
      order: augmentOptions.interpolationOrder,
    });
    tiles.push({
      image: toRgb(out.data, out.width, out.height),
      captions: [
        { text: params.flipHorizontal ? `#${i} · flipped` : `#${i}` },
        { text: fit(describeTransform({ ...params, flipHorizontal: false })) },
      ],
    });
  }
  return await renderTileSheet(tiles, {
    tileSize,
    columns: options.columns ?? 5,
    title: options.title,
  });
}
