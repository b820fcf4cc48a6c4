/**
 * A small K-class dataset the project draws itself, so the "your own images" path (any number of
 * classes, `deno task train`, notebook 06) can be shown and tested without downloading anything:
 * circles, squares and triangles (or fewer/more of a fixed list of shapes) in random sizes,
 * places and colours on a random background, drawn with sharp from SVG and seeded, so the same
 * seed writes the same PNG files.
 *
 * @module
 */
import { join } from "node:path";
import sharp from "sharp";
import { createRng, type Rng } from "./augment.ts";
import { CarplaneError } from "../errors.ts";

/** The shapes {@linkcode drawShapesDataset} can draw, in class index order. */
export const SHAPE_CLASSES = ["circles", "squares", "triangles", "crosses"] as const;

/** One of {@linkcode SHAPE_CLASSES}. */
export type ShapeClass = (typeof SHAPE_CLASSES)[number];

/** Raised for options the shapes dataset cannot be drawn with. */
export class ShapesError extends CarplaneError {}

/** Options for {@linkcode drawShapesDataset}. */
export interface ShapesOptions {
  /** Which shapes, one class folder each (default circles, squares, triangles). */
  classes?: readonly ShapeClass[];
  /**
   * Images per class in each split. Default `{ training_set: 40, val_set: 10, test: 5 }` (the
   * article's layout); `{ all: n }` writes one folder of class folders instead, for
   * `validationSplit`.
   */
  counts?: Partial<Record<"training_set" | "val_set" | "test" | "all", number>>;
  /** Edge of the square images in pixels (default 64). */
  size?: number;
  /** Seed of the drawing (default 0). */
  seed?: number;
}

/** What {@linkcode drawShapesDataset} wrote. */
export interface ShapesDataset {
  /** The dataset root. */
  dir: string;
  /** Class folder names in index order. */
  classNames: string[];
  /** Images written per split folder (`all` for the one-folder layout). */
  counts: Record<string, number>;
}

function colour(rng: Rng, light: boolean): string {
  const channel = () => Math.floor(light ? rng.uniform(150, 256) : rng.uniform(0, 110));
  return `rgb(${channel()},${channel()},${channel()})`;
}

/** The SVG of one image of `shape`: a dark or light shape on the other kind of background. */
function shapeSvg(shape: ShapeClass, size: number, rng: Rng): string {
  const lightShape = rng.next() < 0.5;
  // Roughly centred, as the objects in the article's photos: spread over the whole frame, the
  // baseline CNN's Flatten -> Dense head memorised 120 training images (train accuracy 1.00, val
  // 0.50 after 30 epochs, seed 6), since each position is a new pattern to it.
  const r = rng.uniform(0.24, 0.38) * size;
  const cx = size / 2 + rng.uniform(-0.1, 0.1) * size;
  const cy = size / 2 + rng.uniform(-0.1, 0.1) * size;
  const fill = colour(rng, lightShape);
  const angle = rng.uniform(-20, 20);
  let body: string;
  if (shape === "circles") {
    body = `<circle cx="${cx}" cy="${cy}" r="${r}"/>`;
  } else if (shape === "squares") {
    body = `<rect x="${cx - r * 0.85}" y="${cy - r * 0.85}" width="${r * 1.7}" height="${
      r * 1.7
    }"/>`;
  } else if (shape === "triangles") {
    const pts = [0, 1, 2].map((k) => {
      const a = -Math.PI / 2 + (k * 2 * Math.PI) / 3;
      return `${cx + r * Math.cos(a)},${cy + r * Math.sin(a)}`;
    });
    body = `<polygon points="${pts.join(" ")}"/>`;
  } else {
    const t = r * 0.35;
    body = `<rect x="${cx - r}" y="${cy - t}" width="${2 * r}" height="${2 * t}"/>` +
      `<rect x="${cx - t}" y="${cy - r}" width="${2 * t}" height="${2 * r}"/>`;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}">` +
    `<rect width="${size}" height="${size}" fill="${colour(rng, !lightShape)}"/>` +
    `<g fill="${fill}" transform="rotate(${angle} ${cx} ${cy})">${body}</g></svg>`;
}

/**
 * Draws a K-class dataset of simple shapes into `dir` (which must not hold a dataset yet):
 * `dir/training_set/<class>/`, `dir/val_set/<class>/`, `dir/test/<class>/` (the article's
 * layout), or with `counts: { all: n }` just `dir/<class>/`. Seeded: the same options write the
 * same images.
 *
 * @example
 * ```ts
 * const shapes = await drawShapesDataset("data/shapes", { seed: 1 });
 * console.log(shapes.classNames); // ["circles", "squares", "triangles"]
 * ```
 */
export async function drawShapesDataset(
  dir: string,
  options: ShapesOptions = {},
): Promise<ShapesDataset> {
  const classes = options.classes ?? ["circles", "squares", "triangles"];
  const size = options.size ?? 64;
  const counts = options.counts ?? { training_set: 40, val_set: 10, test: 5 };
  if (classes.length < 2 || new Set(classes).size !== classes.length) {
    throw new ShapesError(
      `classes must be at least 2 distinct shapes of ${SHAPE_CLASSES.join(", ")}, got [${
        classes.join(", ")
      }].`,
    );
  }
  const unknown = classes.find((c) => !SHAPE_CLASSES.includes(c));
  if (unknown !== undefined) {
    throw new ShapesError(`Unknown shape "${unknown}"; choose from ${SHAPE_CLASSES.join(", ")}.`);
  }
  if (!Number.isInteger(size) || size < 8 || size > 1024) {
    throw new ShapesError(`size must be a whole number of pixels from 8 to 1024, got ${size}.`);
  }
  const splits = Object.entries(counts).filter(([, n]) => n !== undefined) as [string, number][];
  if (splits.length === 0 || splits.some(([, n]) => !Number.isInteger(n) || n < 1 || n > 10_000)) {
    throw new ShapesError(
      `counts must give 1 to 10000 images per class for each split, got ${JSON.stringify(counts)}.`,
    );
  }
  if ("all" in counts && splits.length > 1) {
    throw new ShapesError(
      `counts: "all" (one folder of class folders) cannot be mixed with split folders, got ${
        JSON.stringify(counts)
      }.`,
    );
  }
  const rng = createRng(options.seed ?? 0);
  const written: Record<string, number> = {};
  for (const [split, n] of splits) {
    for (const shape of classes) {
      const folder = split === "all" ? join(dir, shape) : join(dir, split, shape);
      await Deno.mkdir(folder, { recursive: true });
      for (let i = 0; i < n; i++) {
        const svg = shapeSvg(shape, size, rng);
        const file = join(folder, `${shape.slice(0, -1)}_${String(i).padStart(4, "0")}.png`);
        await sharp(new TextEncoder().encode(svg)).png().toFile(file);
      }
    }
    written[split] = n * classes.length;
  }
  return { dir, classNames: [...classes], counts: written };
}
