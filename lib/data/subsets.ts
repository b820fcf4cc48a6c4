/**
 * Smaller training sets for the accuracy-vs-data-size experiment: `perClass` images of every
 * class of `training_set/`, chosen at random with a seed, beside the same `val_set/`.
 *
 * The choice is a seeded shuffle of each class's files (in Keras' file order), cut to its first
 * `perClass`: for one seed the subsets are nested (the 20 images per class of a 20-image subset
 * are among the 40 of a 40-image one), so a curve over sizes adds images rather than redrawing
 * them. The subset is written as a dataset folder in the article's layout (files copied, the
 * validation set too), so every reader of a dataset folder (`createArticleFlows`, feature
 * extraction) works on it unchanged.
 *
 * @module
 */
import { dirname, join, relative } from "node:path";
import { DatasetError, scanImageDirectory } from "./dataset.ts";

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Chooses `perClass` of each class's files with a seeded shuffle (Fisher-Yates); returns the
 * chosen files per class, in the shuffled order.
 *
 * @example
 * ```ts
 * choosePerClass({ cars: ["a", "b", "c"], planes: ["d", "e", "f"] }, 2, 7);
 * // { cars: [two of a, b, c], planes: [two of d, e, f] }
 * ```
 */
export function choosePerClass(
  filesByClass: Record<string, readonly string[]>,
  perClass: number,
  seed: number,
): Record<string, string[]> {
  if (!Number.isInteger(perClass) || perClass < 1) {
    throw new DatasetError(
      "--train-per-class",
      `--train-per-class: expected whole numbers of images per class >= 1, got ${perClass}; ` +
        "e.g. --train-per-class 20,40,80.",
    );
  }
  const out: Record<string, string[]> = {};
  for (const [name, files] of Object.entries(filesByClass)) {
    if (files.length < perClass) {
      throw new DatasetError(
        name,
        `--train-per-class ${perClass}: class "${name}" has only ${files.length} training ` +
          `images; ask for at most ${files.length} per class.`,
      );
    }
    const order = [...files];
    const random = rng(seed);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    out[name] = order.slice(0, perClass);
  }
  return out;
}

/**
 * Writes a dataset folder `outDir` with `perClass` seeded-random images of each class of
 * `dataDir/training_set` and a copy of `dataDir/val_set`; returns `outDir`.
 *
 * @example
 * ```ts
 * const dir = await writeTrainingSubset("data", 20, 1, "/tmp/per-class-20-seed-1");
 * const flows = await createArticleFlows(dir, config); // Found 40 images belonging to 2 classes.
 * ```
 */
export async function writeTrainingSubset(
  dataDir: string,
  perClass: number,
  seed: number,
  outDir: string,
): Promise<string> {
  const train = await scanImageDirectory(join(dataDir, "training_set"));
  const byClass: Record<string, string[]> = {};
  train.classNames.forEach((n) => byClass[n] = []);
  train.files.forEach((f, i) => byClass[train.classNames[train.labels[i]]].push(f));
  const chosen = choosePerClass(byClass, perClass, seed);
  await Deno.remove(outDir, { recursive: true }).catch(() => {});
  for (const [name, files] of Object.entries(chosen)) {
    // Keep the names (and their order): the subset reads like the full set, minus images.
    for (const f of files) {
      const target = join(outDir, "training_set", name, relative(join(train.directory, name), f));
      await Deno.mkdir(dirname(target), { recursive: true });
      await Deno.copyFile(f, target);
    }
  }
  const val = await scanImageDirectory(join(dataDir, "val_set"));
  for (const f of val.files) {
    const target = join(outDir, "val_set", relative(val.directory, f));
    await Deno.mkdir(dirname(target), { recursive: true });
    await Deno.copyFile(f, target);
  }
  return outDir;
}
