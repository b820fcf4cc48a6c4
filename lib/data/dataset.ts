/**
 * Scanning an image folder with the rules of Keras' `flow_from_directory`: one subfolder per
 * class, class indices from the sorted folder names (or from an explicit `classes` list), image
 * files found recursively inside each class folder (symlinked subfolders are not followed, like
 * `follow_links=False`), in Keras' order (`sorted(os.walk(...))` by folder path, then sorted
 * file names, compared by code point as Python does).
 *
 * Deliberate differences from Keras, each of which only rejects what Keras would mis-handle:
 * hidden files and folders (names starting with ".", e.g. `.DS_Store`, `._photo.jpg`,
 * `.ipynb_checkpoints`) are skipped where Keras would count them; an extension needs its dot
 * (Keras' `endswith("jpg")` also accepts `notajpg`); a class folder without images is an error
 * here where Keras only warns; GIF and WebP are accepted as well.
 *
 * @module
 */
import { join, relative, resolve } from "node:path";
import { statOrNull } from "../_fs.ts";
import { CarplaneError } from "../errors.ts";

/** File extensions (lower case, without the dot) taken as images, in any letter case. */
export const IMAGE_EXTENSIONS: readonly string[] = [
  "png",
  "jpg",
  "jpeg",
  "bmp",
  "ppm",
  "gif",
  "tif",
  "tiff",
  "webp",
];

/** A folder of images in the class-per-subfolder layout, as `flow_from_directory` sees it. */
export interface ImageDataset {
  /** The scanned folder, absolute. */
  readonly directory: string;
  /** Class names in index order. */
  readonly classNames: string[];
  /** Class name -> index (Keras' `class_indices`). */
  readonly classIndices: Record<string, number>;
  /** Image files, absolute paths, grouped by class in index order, each group in Keras' order. */
  readonly files: string[];
  /** The same files relative to `directory`, e.g. `cars/0001.jpg` (Keras' `filenames`). */
  readonly filenames: string[];
  /** Class index of each file (Keras' `classes`). */
  readonly labels: number[];
}

/** Options for {@link scanImageDirectory}. */
export interface ScanOptions {
  /** Class folder names in index order (Keras' `classes`); default: every subfolder, sorted. */
  classes?: readonly string[];
  /**
   * Keras' `ImageDataGenerator(validation_split=...)`: the fraction of each class's files (in
   * sorted order, the first ones) set aside for validation. Needs `subset`.
   */
  validationSplit?: number;
  /** Which part of a split folder to use (Keras' `subset`): `training` or `validation`. */
  subset?: "training" | "validation";
}

/** A data folder that does not have the expected shape. The message names the path and the fix. */
export class DatasetError extends CarplaneError {
  /** The path the problem is about. */
  readonly path: string;

  /**
   * @param path the offending path
   * @param message the full explanation, naming `path`
   * @param options standard error options (`cause`)
   */
  constructor(path: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DatasetError";
    this.path = path;
  }
}

/**
 * Compares two strings by Unicode code point, as Python's `sorted` does (JavaScript's default
 * sort compares UTF-16 units, which differs for characters outside the BMP).
 *
 * @param a first string
 * @param b second string
 * @returns negative, zero or positive
 * @example
 * ```ts
 * ["b", "a", "B"].sort(compareCodePoints); // ["B", "a", "b"]
 * ```
 */
export function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  while (true) {
    const ca = ia.next();
    const cb = ib.next();
    if (ca.done || cb.done) return ca.done ? (cb.done ? 0 : -1) : 1;
    const d = ca.value.codePointAt(0)! - cb.value.codePointAt(0)!;
    if (d !== 0) return d;
  }
}

/**
 * Whether a file name counts as an image: not hidden, and its extension (after the last dot) is
 * one of {@link IMAGE_EXTENSIONS} in any letter case.
 *
 * @param name a bare file name
 * @returns true for image files
 * @example
 * ```ts
 * isImageFileName("0001.JPG"); // true
 * isImageFileName("Thumbs.db"); // false
 * isImageFileName(".DS_Store"); // false
 * ```
 */
export function isImageFileName(name: string): boolean {
  if (name.startsWith(".")) return false;
  const dot = name.lastIndexOf(".");
  if (dot <= 0) return false;
  return IMAGE_EXTENSIONS.includes(name.slice(dot + 1).toLowerCase());
}

/** Whether a folder or file name is hidden (starts with a dot). */
function isHidden(name: string): boolean {
  return name.startsWith(".");
}

/**
 * Lists the image files under one class folder in Keras' order: every folder reached by
 * `os.walk` (without following symlinked folders), sorted by path, and within each the sorted
 * image file names.
 *
 * @param classDir the class folder
 * @returns absolute paths of the image files
 * @example
 * ```ts
 * const files = await listImageFiles("data/training_set/cars");
 * ```
 */
export async function listImageFiles(classDir: string): Promise<string[]> {
  const groups: { root: string; files: string[] }[] = [];
  const walk = async (dir: string) => {
    const files: string[] = [];
    const subdirs: string[] = [];
    for await (const entry of Deno.readDir(dir)) {
      if (isHidden(entry.name)) continue;
      const full = join(dir, entry.name);
      if (entry.isDirectory) subdirs.push(full);
      else if (entry.isFile) files.push(entry.name);
      else if (entry.isSymlink) {
        // os.walk lists a symlink to a folder as a folder it does not enter, and any other
        // symlink (to a file, or dangling) as a file.
        // A link that cannot be followed at all (a loop) is listed too, so the decoder reports
        // it and the run skips it, instead of the whole scan stopping here.
        const target = await statOrNull(full).catch(() => null);
        if (!target?.isDirectory) files.push(entry.name);
      }
    }
    groups.push({
      root: dir,
      files: files.filter(isImageFileName).sort(compareCodePoints),
    });
    for (const sub of subdirs) await walk(sub);
  };
  await walk(classDir);
  groups.sort((a, b) => compareCodePoints(a.root, b.root));
  return groups.flatMap((g) => g.files.map((f) => join(g.root, f)));
}

/**
 * Scans a class-per-subfolder image folder the way `flow_from_directory` does.
 *
 * @param dir the folder holding one subfolder per class
 * @param options an explicit `classes` list (order = index), if wanted
 * @returns the files, their labels and the class mapping
 * @throws {DatasetError} when the folder is missing, is not a folder, has no class folders, a
 *   listed class folder is missing, or a class folder holds no images
 * @example
 * ```ts
 * const ds = await scanImageDirectory("data/training_set");
 * console.log(formatFoundLine(ds)); // Found 160 images belonging to 2 classes.
 * console.log(ds.classIndices); // { cars: 0, planes: 1 }
 * ```
 */
export async function scanImageDirectory(
  dir: string,
  options: ScanOptions = {},
): Promise<ImageDataset> {
  const directory = resolve(dir);
  const info = await statOrNull(directory);
  if (!info) {
    throw new DatasetError(
      directory,
      `Image folder "${directory}" does not exist. Expected a folder with one subfolder of ` +
        `images per class (e.g. ${join(directory, "cars")}/, ${
          join(directory, "planes")
        }/); check the path or create the dataset first.`,
    );
  }
  if (!info.isDirectory) {
    throw new DatasetError(
      directory,
      `"${directory}" is a file, not a folder. Pass the folder that holds one subfolder of ` +
        `images per class.`,
    );
  }
  let classNames: string[];
  if (options.classes) {
    classNames = [...options.classes];
    if (classNames.length === 0) {
      throw new DatasetError(
        directory,
        `The classes list for "${directory}" is empty; name at least one class folder or ` +
          `omit the list to use every subfolder.`,
      );
    }
    const duplicate = classNames.find((c, i) => classNames.indexOf(c) !== i);
    if (duplicate !== undefined) {
      throw new DatasetError(
        directory,
        `The classes list for "${directory}" names "${duplicate}" twice; list each class once.`,
      );
    }
    for (const name of classNames) {
      const classInfo = await statOrNull(join(directory, name));
      if (!classInfo?.isDirectory) {
        throw new DatasetError(
          join(directory, name),
          `Class folder "${join(directory, name)}" does not exist, but class "${name}" was ` +
            `requested. Create it with that class's images or remove it from the classes list.`,
        );
      }
    }
  } else {
    classNames = [];
    for await (const entry of Deno.readDir(directory)) {
      if (isHidden(entry.name)) continue;
      const isDir = entry.isDirectory ||
        (entry.isSymlink &&
          (await statOrNull(join(directory, entry.name)))?.isDirectory);
      if (isDir) classNames.push(entry.name);
    }
    classNames.sort(compareCodePoints);
    if (classNames.length === 0) {
      throw new DatasetError(
        directory,
        `Image folder "${directory}" has no class subfolders. Expected one subfolder of images ` +
          `per class (e.g. ${join(directory, "cars")}/, ${
            join(directory, "planes")
          }/); images lying directly in the folder are not used.`,
      );
    }
  }
  const split = splitFraction(directory, options);
  const classIndices: Record<string, number> = {};
  classNames.forEach((name, i) => (classIndices[name] = i));
  const files: string[] = [];
  const labels: number[] = [];
  for (const [index, name] of classNames.entries()) {
    const classDir = join(directory, name);
    const classFiles = await listImageFiles(classDir);
    if (classFiles.length === 0) {
      throw new DatasetError(
        classDir,
        `Class folder "${classDir}" holds no images (expected files ending in ` +
          `${IMAGE_EXTENSIONS.map((e) => "." + e).join(", ")}, any case). Add images to it or ` +
          `remove the folder.`,
      );
    }
    const kept = split === null ? classFiles : subsetOf(classFiles, split, classDir, options);
    files.push(...kept);
    for (let i = 0; i < kept.length; i++) labels.push(index);
  }
  return {
    directory,
    classNames,
    classIndices,
    files,
    filenames: files.map((f) => relative(directory, f)),
    labels,
  };
}

function splitFraction(directory: string, options: ScanOptions): number | null {
  const { validationSplit, subset } = options;
  if (validationSplit === undefined && subset === undefined) return null;
  if (subset !== "training" && subset !== "validation") {
    throw new DatasetError(
      directory,
      `subset must be "training" or "validation" when validationSplit is given, got ` +
        `${JSON.stringify(subset)}.`,
    );
  }
  if (validationSplit === undefined || !(validationSplit > 0 && validationSplit < 1)) {
    throw new DatasetError(
      directory,
      `validationSplit must be a number strictly between 0 and 1 to use subset "${subset}", ` +
        `got ${validationSplit}.`,
    );
  }
  return validationSplit;
}

/** Keras' split of one class's sorted files: validation `[0, split*n)`, training the rest. */
function subsetOf(
  classFiles: string[],
  split: number,
  classDir: string,
  options: ScanOptions,
): string[] {
  const cut = Math.floor(split * classFiles.length);
  const kept = options.subset === "validation" ? classFiles.slice(0, cut) : classFiles.slice(cut);
  if (kept.length === 0) {
    throw new DatasetError(
      classDir,
      `Class folder "${classDir}" has ${classFiles.length} images; validationSplit ` +
        `${split} leaves none for the ${options.subset} subset. Add images or change the split.`,
    );
  }
  return kept;
}

/**
 * Keeps only some files of a dataset (e.g. the ones that decoded), preserving order and labels.
 *
 * @param dataset the scanned dataset
 * @param keep predicate on the absolute path
 * @returns a new dataset with the same classes
 * @example
 * ```ts
 * const readable = filterDataset(ds, (f) => !bad.has(f));
 * ```
 */
export function filterDataset(
  dataset: ImageDataset,
  keep: (file: string, index: number) => boolean,
): ImageDataset {
  const idx = dataset.files.map((f, i) => (keep(f, i) ? i : -1)).filter((i) => i >= 0);
  return {
    ...dataset,
    classNames: [...dataset.classNames],
    classIndices: { ...dataset.classIndices },
    files: idx.map((i) => dataset.files[i]),
    filenames: idx.map((i) => dataset.filenames[i]),
    labels: idx.map((i) => dataset.labels[i]),
  };
}

/**
 * The line Keras prints after scanning, e.g. `Found 160 images belonging to 2 classes.`
 * (Keras always uses the plural).
 *
 * @param dataset a dataset, or anything with `files` and `classNames`
 * @returns the line, without a newline
 * @example
 * ```ts
 * formatFoundLine({ files: ["a.jpg"], classNames: ["cars", "planes"] });
 * // "Found 1 images belonging to 2 classes."
 * ```
 */
export function formatFoundLine(
  dataset: Pick<ImageDataset, "files" | "classNames">,
): string {
  return `Found ${dataset.files.length} images belonging to ${dataset.classNames.length} classes.`;
}

/**
 * Counts images per class (by file, without decoding).
 *
 * @param dataset the scanned dataset
 * @returns class name -> number of image files
 * @example
 * ```ts
 * countPerClass(ds); // { cars: 80, planes: 80 }
 * ```
 */
export function countPerClass(dataset: ImageDataset): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of dataset.classNames) counts[name] = 0;
  for (const label of dataset.labels) counts[dataset.classNames[label]]++;
  return counts;
}

/**
 * How many times more images the largest class has than the smallest before
 * {@linkcode formatImbalanceWarning} warns. At 3x a model that always answers the large class is
 * already right 75% of the time on a two-class set, which reads like learning.
 */
export const IMBALANCE_RATIO = 3;

/**
 * A warning when one class has more than {@linkcode IMBALANCE_RATIO} times the images of
 * another, naming both and what to do; `null` when the classes are balanced enough.
 *
 * @example
 * ```ts
 * formatImbalanceWarning({ classNames: ["cars", "planes"], labels: [...cars0, ...planes1] });
 * // "Warning: class imbalance: planes has 10080 images, cars 80 (126x). ..."
 * ```
 */
export function formatImbalanceWarning(
  dataset: Pick<ImageDataset, "classNames" | "labels">,
): string | null {
  const counts = dataset.classNames.map(() => 0);
  for (const label of dataset.labels) counts[label]++;
  if (counts.length < 2) return null;
  const most = counts.indexOf(Math.max(...counts));
  const least = counts.indexOf(Math.min(...counts));
  if (counts[most] <= IMBALANCE_RATIO * counts[least]) return null;
  const ratio = counts[least] === 0
    ? "no images of the second"
    : `${Math.round(counts[most] / counts[least])}x`;
  return `Warning: class imbalance: ${dataset.classNames[most]} has ${counts[most]} images, ` +
    `${dataset.classNames[least]} ${counts[least]} (${ratio}). Accuracy will flatter the model; ` +
    `balance the folders or weigh the classes (Keras' class_weight).`;
}
