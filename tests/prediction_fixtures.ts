/** Shared fixtures of the prediction tests: scored rows and a folder of dark and bright images. */
import { join } from "node:path";
import sharp from "sharp";
import type { PredictionRow } from "../lib/models/predict.ts";

/** Writes dark "cars" and bright "planes" 16x16 PNGs. */
export async function makeTestFolder(): Promise<string> {
  const root = await Deno.makeTempDir();
  for (const [cls, value, n] of [["cars", 20, 3], ["planes", 230, 2]] as const) {
    await Deno.mkdir(join(root, cls));
    for (let i = 0; i < n; i++) {
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

/** Three scored predictions: two right, one car taken for a plane. */
export const rows: PredictionRow[] = [
  {
    file: "cars/a.jpg",
    path: "/test/cars/a.jpg",
    probability: 0.1,
    probabilities: [0.9, 0.1],
    topProbability: 0.9,
    predictedClass: 0,
    predictedLabel: "cars",
    trueClass: 0,
    trueLabel: "cars",
    correct: true,
  },
  {
    file: "cars/b.jpg",
    path: "/test/cars/b.jpg",
    probability: 0.7,
    probabilities: [0.3, 0.7],
    topProbability: 0.7,
    predictedClass: 1,
    predictedLabel: "planes",
    trueClass: 0,
    trueLabel: "cars",
    correct: false,
  },
  {
    file: "planes/c.jpg",
    path: "/test/planes/c.jpg",
    probability: 0.9,
    probabilities: [0.1, 0.9],
    topProbability: 0.9,
    predictedClass: 1,
    predictedLabel: "planes",
    trueClass: 1,
    trueLabel: "planes",
    correct: true,
  },
];
