import assert from "node:assert/strict";
import { join } from "node:path";
import sharp from "sharp";
import { makeTestFolder, rows } from "./prediction_fixtures.ts";
import { predictionCaption, renderContactSheet } from "../lib/report/contact_sheet.ts";

Deno.test("the contact sheet is a PNG with one framed tile per row, showing the row's image", async () => {
  const root = await makeTestFolder();
  const files = [
    join(root, "cars", "0.png"),
    join(root, "cars", "1.png"),
    join(root, "planes", "0.png"),
  ];
  const withFiles = rows.map((r, i) => ({ ...r, path: files[i] }));
  const png = await renderContactSheet(withFiles, { tileSize: 32, columns: 2, title: "Test" });
  const meta = await sharp(png).metadata();
  assert.equal(meta.format, "png");
  assert.equal(meta.width, 2 * (32 + 16));
  assert.equal(meta.height, 34 + 2 * (32 + 36 + 16));
  // the wrong prediction (second tile) is framed red
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  const px = (x: number, y: number) =>
    Array.from(
      data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3),
    );
  assert.deepEqual(px(48 + 5, 34 + 5), [0xd6, 0x27, 0x28]);
  assert.deepEqual(px(5, 34 + 5), [0x2c, 0xa0, 0x2c]);
  await assert.rejects(renderContactSheet([]), RangeError);
  await Deno.remove(root, { recursive: true });
});

Deno.test("captions give the top class and its probability, and the true class when wrong", () => {
  assert.deepEqual(rows.map(predictionCaption), [
    "cars 90% ✓",
    "planes 70% ✗ (is cars)",
    "planes 90% ✓",
  ]);
  const three = {
    ...rows[1],
    probability: 0.5,
    probabilities: [0.2, 0.3, 0.5],
    topProbability: 0.5,
    predictedClass: 2,
    predictedLabel: "birds",
  };
  assert.equal(predictionCaption(three), "birds 50% ✗ (is cars)");
  assert.equal(predictionCaption({ ...three, correct: null, trueLabel: null }), "birds 50%");
  assert.equal(predictionCaption({ ...three, trueLabel: null }), "birds 50% ✗");
});
