/**
 * The article's dataset layout and how to check and install it:
 *
 * ```
 * <root>/
 *   training_set/{cars,planes}/   training images (flow_from_directory)
 *   val_set/{cars,planes}/        validation images
 *   test/{cars,planes}/           unseen images for the final predictions
 * ```
 *
 * Every split must hold the same class folders, each with at least one image (counted by file
 * name, as {@link scanImageDirectory} does, without decoding).
 *
 * @module
 */
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { countPerClass, DatasetError, scanImageDirectory } from "./dataset.ts";
import { isDirectory } from "../_fs.ts";
import { printableLine } from "../_escape.ts";
import { makeStagingDir, removeStagingDir } from "./staging.ts";

/** The three split folders of the article's layout, in order. */
export const ARTICLE_SPLITS = ["training_set", "val_set", "test"] as const;

/** One of {@link ARTICLE_SPLITS}. */
export type ArticleSplit = (typeof ARTICLE_SPLITS)[number];

/** What {@link validateArticleLayout} found. */
export interface ArticleLayout {
  /** The layout root, absolute. */
  readonly root: string;
  /** Class names (sorted), the same in every split. */
  readonly classNames: string[];
  /** Images per split and class, e.g. `counts.training_set.cars === 80`. */
  readonly counts: Record<ArticleSplit, Record<string, number>>;
  /** Images per split. */
  readonly totals: Record<ArticleSplit, number>;
}

/** The layout is not the article's (missing split, differing classes, empty class, ...). */
export class LayoutError extends DatasetError {
  /**
   * @param path the offending path
   * @param message the explanation, naming the path and the fix
   * @param options standard error options (`cause`)
   */
  constructor(path: string, message: string, options?: ErrorOptions) {
    super(path, message, options);
    this.name = "LayoutError";
  }
}

/**
 * Checks that `dir` has the article's layout and counts its images.
 *
 * @param dir the layout root (holding training_set/, val_set/ and test/)
 * @returns class names and image counts per split and class
 * @throws {LayoutError} naming what is wrong: a missing root or split folder, class folders that
 *   differ between splits, or a class folder without images
 * @example
 * ```ts
 * const layout = await validateArticleLayout("data");
 * console.log(layout.counts.training_set); // { cars: 80, planes: 80 }
 * ```
 */
export async function validateArticleLayout(dir: string): Promise<ArticleLayout> {
  const root = resolve(dir);
  if (!(await isDirectory(root))) {
    throw new LayoutError(
      root,
      `Dataset folder "${root}" does not exist or is not a folder. Expected ` +
        `${ARTICLE_SPLITS.map((s) => s + "/").join(", ")} inside it, each with one subfolder ` +
        `of images per class.`,
    );
  }
  const counts = {} as Record<ArticleSplit, Record<string, number>>;
  const totals = {} as Record<ArticleSplit, number>;
  let reference: { split: ArticleSplit; classNames: string[] } | null = null;
  for (const split of ARTICLE_SPLITS) {
    const splitDir = join(root, split);
    if (!(await isDirectory(splitDir))) {
      throw new LayoutError(
        splitDir,
        `Split folder "${splitDir}" is missing. The article's layout needs ` +
          `${ARTICLE_SPLITS.map((s) => join(root, s) + "/").join(", ")}, each with one ` +
          `subfolder of images per class.`,
      );
    }
    let dataset;
    try {
      dataset = await scanImageDirectory(splitDir);
    } catch (error) {
      if (error instanceof DatasetError) {
        throw new LayoutError(error.path, error.message, { cause: error });
      }
      throw error;
    }
    if (reference === null) {
      reference = { split, classNames: dataset.classNames };
    } else if (dataset.classNames.join("\u0000") !== reference.classNames.join("\u0000")) {
      const onlyHere = dataset.classNames.filter((c) => !reference!.classNames.includes(c));
      const missing = reference.classNames.filter((c) => !dataset.classNames.includes(c));
      const details = [
        missing.length ? `missing in ${split}/: ${missing.join(", ")}` : "",
        onlyHere.length ? `only in ${split}/: ${onlyHere.join(", ")}` : "",
      ].filter(Boolean).join("; ");
      throw new LayoutError(
        splitDir,
        `Class folders differ between "${join(root, reference.split)}" ` +
          `(${reference.classNames.join(", ")}) and "${splitDir}" ` +
          `(${dataset.classNames.join(", ")}): ${details}. Every split needs the same class ` +
          `folders.`,
      );
    }
    counts[split] = countPerClass(dataset);
    totals[split] = dataset.files.length;
  }
  return { root, classNames: reference!.classNames, counts, totals };
}

/** Options of {@link copyArticleLayout}. */
export interface CopyLayoutOptions {
  /** Replace splits already present in `dest` (default false: refuse). */
  replace?: boolean;
  /** Where notes about files not copied go (default: stderr). */
  log?: (message: string) => void;
}

/**
 * Why `file` (listed as an image under the source) must not be copied, or null when it may:
 * links are followed only to regular files inside the source folder (`realRoot`), so a link to
 * `/etc/passwd` named `.jpg` never enters a dataset, and a dangling link or a link loop is
 * reported instead of stopping the copy.
 */
async function whyNotCopied(file: string, realRoot: string): Promise<string | null> {
  const info = await Deno.lstat(file);
  if (info.isFile) return null;
  if (!info.isSymlink) return "not a regular file";
  let real: string;
  try {
    real = await Deno.realPath(file);
  } catch (error) {
    return error instanceof Deno.errors.NotFound
      ? `a link to nothing (${await Deno.readLink(file).catch(() => "?")} does not exist)`
      : `a link that cannot be followed (${(error as Error).message})`;
  }
  const rel = relative(realRoot, real);
  if (rel.startsWith("..") || isAbsolute(rel)) {
    return `a link to ${real}, outside the source folder (links are not followed out of it)`;
  }
  if (!(await Deno.stat(real)).isFile) return `a link to ${real}, which is not a regular file`;
  return null;
}

async function copyImages(
  sourceDir: string,
  destDir: string,
  realRoot: string,
  log: (message: string) => void,
): Promise<number> {
  const dataset = await scanImageDirectory(sourceDir);
  let copied = 0;
  for (const [i, file] of dataset.files.entries()) {
    const why = await whyNotCopied(file, realRoot);
    if (why) {
      log(`Not copied: ${printableLine(file)}: ${why}.`);
      continue;
    }
    const target = join(destDir, dataset.filenames[i]);
    await Deno.mkdir(dirname(target), { recursive: true });
    await Deno.copyFile(file, target);
    copied++;
  }
  return copied;
}

/**
 * Validates `source` as the article's layout, then installs a copy of its images at `dest`
 * atomically: everything is copied into a staging folder beside `dest` and swapped in with a
 * rename, so `dest` never holds a half-copied dataset (an interrupted copy leaves only a
 * `.<name>.staging-<pid>-<hex>` folder next to it, removed on Ctrl-C by `deno task data` and by
 * its next run). Non-image files are not copied, nor links that leave the source folder or lead
 * nowhere (each is logged). Files in `dest` other
 * than the three splits (e.g. a README) are kept.
 *
 * @param source a folder with the article's layout
 * @param dest where the layout should end up (e.g. `data`)
 * @param options `replace: true` to overwrite splits already in `dest`
 * @returns the layout as validated at `dest`
 * @throws {LayoutError} when `source` is not a valid layout, or `dest` already holds splits and
 *   `replace` is not set
 * @example
 * ```ts
 * const layout = await copyArticleLayout("/work/shared/datasets/car-plane", "data", { replace: true });
 * console.log(layout.totals); // { training_set: 160, val_set: 40, test: 15 }
 * ```
 */
export async function copyArticleLayout(
  source: string,
  dest: string,
  options: CopyLayoutOptions = {},
): Promise<ArticleLayout> {
  const expected = await validateArticleLayout(source);
  const target = resolve(dest);
  const targetExists = await isDirectory(target);
  if (targetExists && !options.replace) {
    const present: string[] = [];
    for (const split of ARTICLE_SPLITS) {
      if (await isDirectory(join(target, split))) present.push(split);
    }
    if (present.length > 0) {
      throw new LayoutError(
        target,
        `"${target}" already holds ${present.map((s) => s + "/").join(", ")}. Remove them, ` +
          `or replace them (\`deno task data --force\`, or { replace: true } in code) to install ` +
          `"${expected.root}" there.`,
      );
    }
  }
  const log = options.log ?? ((message: string) => console.error(message));
  const realRoot = await Deno.realPath(expected.root);
  const staging = await makeStagingDir(target, "staging");
  let old: string | null = null;
  try {
    const copiedPerSplit = {} as Record<ArticleSplit, number>;
    for (const split of ARTICLE_SPLITS) {
      copiedPerSplit[split] = await copyImages(
        join(expected.root, split),
        join(staging, split),
        realRoot,
        log,
      );
    }
    if (targetExists) {
      // Keep whatever else lives in dest (README, other folders).
      for await (const entry of Deno.readDir(target)) {
        if ((ARTICLE_SPLITS as readonly string[]).includes(entry.name)) continue;
        await copyTree(join(target, entry.name), join(staging, entry.name));
      }
    }
    const copied = await validateArticleLayout(staging);
    if (JSON.stringify(copied.totals) !== JSON.stringify(copiedPerSplit)) {
      throw new LayoutError(
        staging,
        `The copy of "${expected.root}" does not match its source (got ` +
          `${JSON.stringify(copied.totals)}, expected ${JSON.stringify(copiedPerSplit)}).`,
      );
    }
    if (targetExists) {
      old = `${staging}.old`;
      await Deno.rename(target, old);
    }
    await Deno.rename(staging, target);
    await removeStagingDir(staging); // forget it: it is the dataset now
  } catch (error) {
    if (old !== null && !(await isDirectory(target))) await Deno.rename(old, target);
    await removeStagingDir(staging);
    throw error;
  }
  if (old !== null) await Deno.remove(old, { recursive: true });
  return await validateArticleLayout(target);
}

async function copyTree(from: string, to: string): Promise<void> {
  const info = await Deno.lstat(from);
  if (info.isDirectory) {
    await Deno.mkdir(to, { recursive: true });
    for await (const entry of Deno.readDir(from)) {
      await copyTree(join(from, entry.name), join(to, entry.name));
    }
  } else if (info.isSymlink) {
    await Deno.symlink(await Deno.readLink(from), to);
  } else {
    await Deno.copyFile(from, to);
  }
}
