/**
 * `flowFromDirectory`: Keras' `ImageDataGenerator(...).flow_from_directory(...)` as an endless
 * batch iterator.
 *
 * Construction scans the folder ({@link scanImageDirectory}), decodes every image once at the
 * target size (cached as 8-bit RGB), reports unreadable files (or throws in strict mode), and
 * prints Keras' `Found N images belonging to K classes.` line counting only the readable ones.
 *
 * Iteration follows keras-preprocessing's `Iterator._flow_index`: at the start of every pass
 * over the data the index order is drawn afresh (shuffled when `shuffle`), batches of
 * `batchSize` are cut from it with a smaller last batch, and the iterator never ends, so a
 * training loop may take more steps per epoch than one pass (the article: 30 steps x 32 = 960
 * images per epoch from 160 files). As in Keras with a seed, the random source of each batch is
 * seeded with `seed + totalBatchesSeen`, which makes every batch (order and augmentation)
 * reproducible. Augmentation is drawn per image per draw; decoding happens once.
 *
 * @module
 */
import {
  DatasetError,
  filterDataset,
  formatFoundLine,
  formatImbalanceWarning,
  type ImageDataset,
  scanImageDirectory,
} from "./dataset.ts";
import { type Interpolation, loadImages, UnreadableImagesError } from "./images.ts";
import {
  augmentImage,
  type AugmentOptions,
  createRng,
  hasRandomAugmentation,
  type Rng,
  standardize,
} from "./augment.ts";
import { join } from "node:path";
import { printableLine } from "../_escape.ts";

/** Label format of the batches (Keras' `class_mode`). */
export type ClassMode = "binary" | "categorical" | "sparse" | "none";

/** Options of {@link flowFromDirectory}, with Keras' defaults. */
export interface FlowOptions {
  /** `[height, width]` every image is resized to; Keras' default `[256, 256]`. */
  targetSize?: readonly [number, number];
  /** Only `"rgb"` is supported (3 channels). */
  colorMode?: "rgb";
  /** Class folder names in index order; default every subfolder, sorted. */
  classes?: readonly string[];
  /**
   * Keras' `ImageDataGenerator(validation_split=...)`: the first fraction of each class's
   * sorted files is the `validation` subset, the rest the `training` subset.
   */
  validationSplit?: number;
  /** Which subset of a split folder this flow yields (Keras' `subset`). */
  subset?: "training" | "validation";
  /** Label format; default `"categorical"` as in Keras. */
  classMode?: ClassMode;
  /** Images per batch; default 32. */
  batchSize?: number;
  /** Reshuffle at the start of every pass; default true. */
  shuffle?: boolean;
  /** Seed for shuffling and augmentation; default a random one (see `seed` on the iterator). */
  seed?: number;
  /** Resize interpolation; default `"nearest"` as in Keras. */
  interpolation?: Interpolation;
  /** The `ImageDataGenerator` settings (augmentation and `rescale`); default none. */
  augment?: AugmentOptions;
  /** Throw when any image cannot be decoded, instead of skipping it; default false. */
  strict?: boolean;
  /** Where the Found line and skip reports go; default `console.log`. */
  log?: (line: string) => void;
}

/** One batch of images and labels. */
export interface Batch {
  /** `size * height * width * 3` values, NHWC, augmented and standardized. */
  readonly xs: Float32Array;
  /**
   * Labels: binary and sparse give one class index per image (as floats), categorical a
   * one-hot row of `numClasses` per image; null for class mode `"none"`.
   */
  readonly ys: Float32Array | null;
  /** Number of images in this batch (the last batch of a pass may be smaller). */
  readonly size: number;
  /** `[size, height, width, 3]`. */
  readonly shape: [number, number, number, number];
  /** Absolute paths of the images, in batch order. */
  readonly files: string[];
  /** Indices of the images into `filenames` / `labels`. */
  readonly indices: number[];
}

/** The iterator {@link flowFromDirectory} returns (Keras' `DirectoryIterator`). */
export interface DirectoryIterator extends AsyncIterable<Batch> {
  /** The scanned folder, absolute. */
  readonly directory: string;
  /** Number of usable (decoded) images (Keras' `samples` / `n`). */
  readonly samples: number;
  /** Class name -> index. */
  readonly classIndices: Record<string, number>;
  /** Class names in index order. */
  readonly classNames: string[];
  /** Number of classes. */
  readonly numClasses: number;
  /** Images per batch. */
  readonly batchSize: number;
  /** Image paths relative to `directory`, e.g. `cars/0001.jpg`. */
  readonly filenames: string[];
  /** Absolute image paths. */
  readonly files: string[];
  /** Class index per image (Keras' `classes`). */
  readonly labels: number[];
  /** Batches per pass over the data, `ceil(samples / batchSize)` (Keras' `len(iterator)`). */
  readonly stepsPerPass: number;
  /** `[height, width, 3]` of every image. */
  readonly imageShape: [number, number, number];
  /** The label format. */
  readonly classMode: ClassMode;
  /** The seed in use (the given one, or the random one chosen). */
  readonly seed: number;
  /** Files that could not be decoded and were left out (empty in strict mode). */
  readonly skipped: readonly { path: string; reason: string }[];
  /** Batches produced so far (Keras' `total_batches_seen`). */
  readonly totalBatchesSeen: number;
  /** The next batch; the iterator is endless. */
  next(): Promise<Batch>;
  /** Makes the next batch start a new pass (Keras' `reset()`: `batch_index = 0`). */
  reset(): void;
  /**
   * Starts over as if just created: the next batches are the first ones again, in the same
   * order with the same augmentations (`reset()` keeps counting batches, as Keras does, so the
   * batches after it differ). What a re-run notebook cell needs to repeat its figures.
   */
  restart(): void;
}

const CLASS_MODES: readonly ClassMode[] = ["binary", "categorical", "sparse", "none"];

/**
 * Scans `directory`, decodes its images once, and returns an endless batch iterator with
 * Keras' `flow_from_directory` semantics (see the module documentation).
 *
 * @param directory a folder with one subfolder of images per class
 * @param options Keras' arguments plus the generator settings under `augment`
 * @returns the iterator
 * @throws {DatasetError} for a missing or malformed folder, bad options, a class whose images
 *   are all unreadable, or (strict mode) any unreadable image
 * @example
 * ```ts
 * const train = await flowFromDirectory("data/training_set", {
 *   targetSize: [64, 64], batchSize: 32, classMode: "binary", seed: 1,
 *   augment: { rescale: 1 / 255, shearRange: 0.2, zoomRange: 0.2, horizontalFlip: true },
 * }); // prints "Found 160 images belonging to 2 classes."
 * const { xs, ys, shape } = await train.next(); // shape [32, 64, 64, 3]
 * ```
 */
export async function flowFromDirectory(
  directory: string,
  options: FlowOptions = {},
): Promise<DirectoryIterator> {
  const targetSize = options.targetSize ?? [256, 256];
  const batchSize = options.batchSize ?? 32;
  const classMode = options.classMode ?? "categorical";
  const shuffle = options.shuffle ?? true;
  const augment = options.augment ?? {};
  const log = options.log ?? console.log;
  const colorMode = options.colorMode ?? "rgb";
  if (colorMode !== "rgb") {
    throw new DatasetError(
      directory,
      `colorMode "${colorMode}" is not supported for "${directory}"; only "rgb" is.`,
    );
  }
  if (!CLASS_MODES.includes(classMode)) {
    throw new DatasetError(
      directory,
      `Unknown classMode "${classMode}" for "${directory}"; expected one of ${
        CLASS_MODES.join(", ")
      }.`,
    );
  }
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new DatasetError(
      directory,
      `batchSize must be a positive integer, got ${batchSize} (for "${directory}").`,
    );
  }
  const [height, width] = targetSize;
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
    throw new DatasetError(
      directory,
      `targetSize must be [height, width] in positive integers, got [${targetSize}] ` +
        `(for "${directory}").`,
    );
  }

  const scanned = await scanImageDirectory(directory, {
    classes: options.classes,
    validationSplit: options.validationSplit,
    subset: options.subset,
  });
  if (classMode === "binary" && scanned.classNames.length !== 2) {
    throw new DatasetError(
      scanned.directory,
      `classMode "binary" needs exactly 2 class folders, but "${scanned.directory}" has ` +
        `${scanned.classNames.length} (${scanned.classNames.join(", ")}). Use "categorical" ` +
        `or "sparse", or pass the two classes wanted in \`classes\`.`,
    );
  }
  let loaded;
  try {
    loaded = await loadImages(scanned.files, {
      targetSize,
      interpolation: options.interpolation ?? "nearest",
      strict: options.strict,
    });
  } catch (error) {
    if (error instanceof UnreadableImagesError) {
      throw new DatasetError(
        scanned.directory,
        `Strict mode: ${error.skipped.length} of ${scanned.files.length} images under ` +
          `"${scanned.directory}" cannot be decoded:\n` +
          error.skipped.map((s) => `  ${s.path}: ${s.reason}`).join("\n") +
          `\nReplace or delete them, or turn strict mode off to skip them.`,
        { cause: error },
      );
    }
    throw error;
  }
  const { skipped } = loaded;
  if (skipped.length > 0) {
    log(
      `Skipped ${skipped.length} unreadable image${skipped.length === 1 ? "" : "s"} in ` +
        `${printableLine(scanned.directory)}:\n` +
        skipped.map((s) => `  ${printableLine(s.path)}: ${s.reason}`).join("\n"),
    );
  }
  const bad = new Set(skipped.map((s) => s.path));
  const dataset: ImageDataset = filterDataset(scanned, (f) => !bad.has(f));
  const emptyClass = dataset.classNames.find((_, i) => !dataset.labels.includes(i));
  if (emptyClass !== undefined) {
    throw new DatasetError(
      join(dataset.directory, emptyClass),
      `Class folder "${join(dataset.directory, emptyClass)}" has no readable images (every one ` +
        `failed to decode, see above). Replace them with valid images.`,
    );
  }
  log(formatFoundLine(dataset));
  const imbalance = formatImbalanceWarning(dataset);
  if (imbalance !== null) log(imbalance);

  // Cache: one 8-bit RGB image per usable file, all at the target size.
  const cache = loaded.images;
  const n = dataset.files.length;
  const pixels = height * width * 3;
  const numClasses = dataset.classNames.length;
  const randomAugment = hasRandomAugmentation(augment);
  const seed = options.seed ?? crypto.getRandomValues(new Uint32Array(1))[0];

  let batchIndex = 0;
  let totalBatchesSeen = 0;
  let indexArray: number[] = [];

  const nextIndices = (): { indices: number[]; rng: Rng } => {
    // Keras: np.random.seed(seed + total_batches_seen) before every batch; the same stream then
    // draws the pass order (at a pass start) and the batch's augmentations.
    const rng = createRng(seed + totalBatchesSeen);
    if (batchIndex === 0) {
      indexArray = shuffle ? rng.permutation(n) : Array.from({ length: n }, (_, i) => i);
    }
    const current = (batchIndex * batchSize) % n;
    if (n > current + batchSize) batchIndex++;
    else batchIndex = 0;
    totalBatchesSeen++;
    return { indices: indexArray.slice(current, current + batchSize), rng };
  };

  const makeBatch = (indices: number[], rng: Rng): Batch => {
    const size = indices.length;
    const xs = new Float32Array(size * pixels);
    indices.forEach((index, i) => {
      const source = cache[index];
      let values: Float32Array;
      if (randomAugment) {
        values = augmentImage(
          { data: Float32Array.from(source.data), height, width, channels: 3 },
          augment,
          rng,
        );
      } else {
        values = standardize(Float32Array.from(source.data), augment);
      }
      xs.set(values, i * pixels);
    });
    let ys: Float32Array | null = null;
    if (classMode === "binary" || classMode === "sparse") {
      ys = Float32Array.from(indices, (index) => dataset.labels[index]);
    } else if (classMode === "categorical") {
      ys = new Float32Array(size * numClasses);
      indices.forEach((index, i) => (ys![i * numClasses + dataset.labels[index]] = 1));
    }
    return {
      xs,
      ys,
      size,
      shape: [size, height, width, 3],
      files: indices.map((index) => dataset.files[index]),
      indices,
    };
  };

  const iterator: DirectoryIterator = {
    directory: dataset.directory,
    samples: n,
    classIndices: dataset.classIndices,
    classNames: dataset.classNames,
    numClasses,
    batchSize,
    filenames: dataset.filenames,
    files: dataset.files,
    labels: dataset.labels,
    stepsPerPass: Math.ceil(n / batchSize),
    imageShape: [height, width, 3],
    classMode,
    seed,
    skipped,
    get totalBatchesSeen() {
      return totalBatchesSeen;
    },
    next() {
      const { indices, rng } = nextIndices();
      return Promise.resolve(makeBatch(indices, rng));
    },
    reset() {
      batchIndex = 0;
    },
    restart() {
      batchIndex = 0;
      totalBatchesSeen = 0;
    },
    async *[Symbol.asyncIterator]() {
      while (true) yield await iterator.next();
    },
  };
  return iterator;
}
