import assert from "node:assert/strict";
import { join } from "node:path";
import sharp from "sharp";
import { renderContactSheet } from "../lib/contact_sheet.ts";
import type { PredictionRow } from "../lib/predict.ts";

const rows: PredictionRow[] = [
  {
    file: "cars/a.jpg",
    probability: 0.1,
    predictedClass: 0,
    predictedLabel: "cars",
    trueClass: 0,
    trueLabel: "cars",
    correct: true,
  },
  {
    file: "cars/b.jpg",
    probability: 0.7,
    predictedClass: 1,
    predictedLabel: "planes",
    trueClass: 0,
    trueLabel: "cars",
    correct: false,
  },
  {
    file: "planes/c.jpg",
    probability: 0.9,
    predictedClass: 1,
    predictedLabel: "planes",
    trueClass: 1,
    trueLabel: "planes",
    correct: true,
  },
];

async function makeTestFolder(): Promise<string> {
  const root = await Deno.makeTempDir();
  for (const [cls, value] of [["cars", 20], ["planes", 230]] as const) {
    await Deno.mkdir(join(root, cls));
    for (let i = 0; i < 2; i++) {
      await sharp({
        create: {
          width: 16,
          height: 16,
          channels: 3,
          background: { r: value, g: value, b: value },
        },
      })
        .png().toFile(join(root, cls, `${i}.png`));
    }
  }
  return root;
}

Deno.test("the contact sheet is a PNG with one framed tile per image", async () => {
  const root = await makeTestFolder();
  const files = [
    join(root, "cars", "0.png"),
    join(root, "cars", "1.png"),
    join(root, "planes", "0.png"),
  ];
  const png = await renderContactSheet(rows, files, { tileSize: 32, columns: 2, title: "Test" });
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
  await assert.rejects(renderContactSheet(rows, files.slice(0, 2)), RangeError);
  await Deno.remove(root, { recursive: true });
});
