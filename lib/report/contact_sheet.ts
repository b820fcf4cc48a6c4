/**
 * A contact sheet of predicted images: each image enlarged, framed green when the prediction is
 * right and red when it is wrong, and captioned with the top class and its probability
 * (`planes 97%`), and the true class when the prediction is wrong.
 * Rendered with sharp to PNG (the tile layout is `lib/gallery.ts`' {@linkcode renderTileSheet}).
 *
 * @module
 */
import { renderTileSheet, shortenStart, type Tile } from "./gallery.ts";
import type { PredictionRow } from "../models/predict.ts";

/** Options for {@linkcode renderContactSheet}. */
export interface ContactSheetOptions {
  /** Tile edge in pixels (default 128; small images are enlarged with nearest neighbour). */
  tileSize?: number;
  /** Tiles per row (default 5). */
  columns?: number;
  /** A title over the sheet (default none). */
  title?: string;
}

/**
 * Renders `rows` (each with its image file, `row.path`) as one PNG.
 *
 * @example
 * ```ts
 * const png = await renderContactSheet(rows, { title: "Test images" });
 * await Deno.writeFile("outputs/test_predictions.png", png);
 * ```
 */
export async function renderContactSheet(
  rows: PredictionRow[],
  options: ContactSheetOptions = {},
): Promise<Uint8Array> {
  if (rows.length === 0) {
    throw new RangeError("renderContactSheet needs at least one row (got none).");
  }
  const tiles: Tile[] = rows.map((r) => {
    const colour = r.correct === null ? "#666666" : r.correct ? "#2ca02c" : "#d62728";
    return {
      image: r.path,
      frame: colour,
      // The top class on the first line, the true one (when wrong) on the second: both in one
      // line overflow a 128-pixel tile for class names past 8 letters.
      captions: [
        { text: predictionCaption({ ...r, trueLabel: null }), colour },
        r.correct === false
          ? { text: `true: ${r.trueLabel}`, colour }
          : { text: shortenStart(r.file, 22), colour: "#555" },
      ],
    };
  });
  return await renderTileSheet(tiles, {
    tileSize: options.tileSize ?? 128,
    columns: options.columns ?? 5,
    title: options.title,
    captionLines: 2,
  });
}

/**
 * A tile's caption: the top class and its probability, then ✓, or ✗ and the true class.
 *
 * @example
 * ```ts
 * predictionCaption(row); // "planes 70% ✗ (is cars)"
 * ```
 */
export function predictionCaption(r: PredictionRow): string {
  const verdict = r.correct === null
    ? ""
    : r.correct
    ? " ✓"
    : r.trueLabel === null
    ? " ✗"
    : ` ✗ (is ${r.trueLabel})`;
  return `${r.predictedLabel} ${Math.round(topProbability(r) * 100)}%${verdict}`;
}

/** The top class's probability (rows written before `topProbability` existed: from `probability`). */
function topProbability(r: PredictionRow): number {
  if (typeof r.topProbability === "number") return r.topProbability;
  return r.predictedClass === 1 ? r.probability : 1 - r.probability;
}
