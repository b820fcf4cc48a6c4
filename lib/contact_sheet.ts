/**
 * A contact sheet of predicted images: each image enlarged, framed green when the prediction is
 * right and red when it is wrong, and captioned with the predicted class and its probability.
 * Rendered with sharp to PNG.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import sharp from "sharp";
import type { PredictionRow } from "./predict.ts";

/** Options for {@linkcode renderContactSheet}. */
export interface ContactSheetOptions {
  /** Tile edge in pixels (default 128; small images are enlarged with nearest neighbour). */
  tileSize?: number;
  /** Tiles per row (default 5). */
  columns?: number;
  /** A title over the sheet (default none). */
  title?: string;
}

function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Renders `rows` (with their image files at `files[i]`) as one PNG.
 *
 * @example
 * ```ts
 * const png = await renderContactSheet(rows, list.files, { title: "Test images" });
 * await Deno.writeFile("outputs/test_predictions.png", png);
 * ```
 */
export async function renderContactSheet(
  rows: PredictionRow[],
  files: string[],
  options: ContactSheetOptions = {},
): Promise<Uint8Array> {
  if (rows.length !== files.length || rows.length === 0) {
    throw new RangeError(
      `renderContactSheet needs one file per row and at least one row (got ${rows.length} rows, ${files.length} files).`,
    );
  }
  const tile = options.tileSize ?? 128;
  const columns = Math.min(options.columns ?? 5, rows.length);
  const pad = 8;
  const captionHeight = 36;
  const titleHeight = options.title ? 34 : 0;
  const cellW = tile + 2 * pad;
  const cellH = tile + captionHeight + 2 * pad;
  const sheetRows = Math.ceil(rows.length / columns);
  const width = columns * cellW;
  const height = titleHeight + sheetRows * cellH;
  const composites: sharp.OverlayOptions[] = [];
  const svgParts: string[] = [];
  if (options.title) {
    svgParts.push(
      `<text x="${
        width / 2
      }" y="24" font-family="DejaVu Sans, sans-serif" font-size="18" font-weight="bold" text-anchor="middle" fill="#222">${
        escapeXml(options.title)
      }</text>`,
    );
  }
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    const x = (i % columns) * cellW;
    const y = titleHeight + Math.floor(i / columns) * cellH;
    const colour = r.correct === null ? "#666666" : r.correct ? "#2ca02c" : "#d62728";
    svgParts.push(
      `<rect x="${x + pad - 4}" y="${y + pad - 4}" width="${tile + 8}" height="${
        tile + 8
      }" fill="${colour}"/>`,
    );
    const image = await sharp(files[i]).removeAlpha().resize(tile, tile, {
      kernel: "nearest",
      fit: "fill",
    })
      .png().toBuffer();
    composites.push({ input: image, left: x + pad, top: y + pad });
    const verdict = r.correct === null ? "" : r.correct ? " ✓" : ` ✗ (is ${r.trueLabel})`;
    svgParts.push(
      `<text x="${x + cellW / 2}" y="${
        y + pad + tile + 16
      }" font-family="DejaVu Sans, sans-serif" font-size="12" text-anchor="middle" fill="${colour}">${
        escapeXml(`${r.predictedLabel} ${r.probability.toFixed(2)}${verdict}`)
      }</text>`,
      `<text x="${x + cellW / 2}" y="${
        y + pad + tile + 30
      }" font-family="DejaVu Sans, sans-serif" font-size="10" text-anchor="middle" fill="#555">${
        escapeXml(r.file.length > 22 ? "…" + r.file.slice(-21) : r.file)
      }</text>`,
    );
  }
  const frame = Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${
      svgParts.join("")
    }</svg>`,
  );
  const png = await sharp({
    create: { width, height, channels: 3, background: { r: 255, g: 255, b: 255 } },
  }).composite([{ input: frame, left: 0, top: 0 }, ...composites]).png().toBuffer();
  return new Uint8Array(png);
}
