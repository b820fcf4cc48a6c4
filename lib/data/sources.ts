/**
 * Where the car-vs-plane images come from (`deno task data`).
 *
 * - the article's own dataset: the GitHub archive of the article's repository, whose `data/`
 *   folder holds `training_set`, `val_set` and `test` with `cars/` and `planes/` inside;
 * - CIFAR-10 (binary version) as a stand-in: `automobile` -> `cars`, `airplane` -> `planes`,
 *   written as PNGs in the article's layout with the article's split sizes;
 * - a local folder or archive the user already has;
 * - the sample embedded in the repository ({@linkcode EMBEDDED_DATASET_DIR}: 215 CIFAR-10 car
 *   and plane photos in the article's layout and split sizes), the last resort offline.
 *
 * {@linkcode ensureDataset} is the one place that picks among them for `deno task reproduce`
 * and the notebooks: the article's images, then CIFAR-10, then the embedded sample, each step
 * saying what it tried and what it uses.
 *
 * Every source is assembled in a temporary folder beside the destination and moved into place
 * only when complete, so `data/` is never left half-filled.
 *
 * @module
 */
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import {
  ArchiveError,
  detectArchiveFormat,
  extractArchive,
  readArchiveEntries,
} from "./archive.ts";
import { DatasetError } from "./dataset.ts";
import { LayoutError, validateArticleLayout } from "./layout.ts";
import { makeStagingDir, removeStagingDir } from "./staging.ts";
import { defaultCacheDir, download, DownloadError } from "./download.ts";
import { isDirectory, pathExists } from "../_fs.ts";
import { CarplaneError } from "../errors.ts";
import { firstLine, randomSuffix } from "../_text.ts";

/** A dataset source failed or produced something unusable; the message says what to do. */
export class DatasetSourceError extends CarplaneError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DatasetSourceError";
  }
}

/** The three folders of the article's layout. */
export const SPLITS = ["training_set", "val_set", "test"] as const;
/** One of {@link SPLITS}. */
export type Split = typeof SPLITS[number];
/** The two class folders, in the order Keras' `flow_from_directory` sorts them (cars = 0). */
export const CLASSES = ["cars", "planes"] as const;

/** The article's repository on GitHub. */
export const ARTICLE_REPO =
  "MGCodesandStats/image-recognition-with-keras-convolutional-neural-networks";

/** GitHub archive URLs of the article's repository, tried in order (branch master, then main). */
export const ARTICLE_ARCHIVE_URLS: readonly string[] = [
  `https://github.com/${ARTICLE_REPO}/archive/refs/heads/master.tar.gz`,
  `https://codeload.github.com/${ARTICLE_REPO}/tar.gz/refs/heads/master`,
  `https://github.com/${ARTICLE_REPO}/archive/refs/heads/main.tar.gz`,
  `https://codeload.github.com/${ARTICLE_REPO}/tar.gz/refs/heads/main`,
];

/**
 * The sample embedded in the repository (`assets/datasets/car-plane`): 215 CIFAR-10 photos,
 * 80+80 training, 20+20 validation and 8+7 test images, with their source in `SOURCE.md`.
 */
export const EMBEDDED_DATASET_DIR = fileURLToPath(
  new URL("../../assets/datasets/car-plane", import.meta.url),
);

/** The note {@linkcode ensureDataset} leaves in a folder it filled, saying from where. */
export const SOURCE_NOTE = ".carplane-source.json";

/** The CIFAR-10 binary archive (162 MB). */
export const CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";
/** MD5 of {@link CIFAR10_URL}, as published on the CIFAR page. */
export const CIFAR10_MD5 = "c32a1d4ab5d03f1284b67883e8d87530";
/** Size in bytes of {@link CIFAR10_URL}. */
export const CIFAR10_SIZE = 170_052_171;

const CIFAR_RECORD = 1 + 32 * 32 * 3;
const CIFAR_AIRPLANE = 0;
const CIFAR_AUTOMOBILE = 1;
const IMAGE_EXT = /\.(jpe?g|png|bmp|gif|webp|tiff?)$/i;

/** Image counts per split: `cars/`, `planes/`, and images lying directly in the split folder. */
export type DatasetCounts = Record<Split, { cars: number; planes: number; unlabelled: number }>;

/** What a source installed. */
export interface DatasetSummary {
  /** The dataset folder (absolute). */
  dir: string;
  /** Which source filled it (`existing`: it was there already). */
  source: "existing" | "article" | "cifar10" | "local" | "embedded";
  /** The URL, archive or folder the images came from. */
  origin: string;
  counts: DatasetCounts;
  /**
   * For an `existing` dataset that {@linkcode ensureDataset} installed earlier: the source it
   * came from then (read from {@linkcode SOURCE_NOTE}).
   */
  installedFrom?: { source: DatasetSummary["source"]; origin: string; installedAt: string };
  /** The sources tried before this one and why each was not used, one line each. */
  notUsed?: string[];
}

/** Options shared by the sources. */
export interface SourceOptions {
  /** Download cache (default {@link defaultCacheDir}). */
  cacheDir?: string;
  /** Progress messages (default: stderr). */
  log?: (message: string) => void;
  /** Replace `training_set`/`val_set`/`test` already in the destination (default: refuse). */
  overwrite?: boolean;
  /** Draw a download progress bar (default: when stderr is a terminal). */
  progressBar?: boolean;
}

/** Options of {@link fetchArticleDataset}. */
export interface ArticleDatasetOptions extends SourceOptions {
  /** Archive URLs to try in order (default {@link ARTICLE_ARCHIVE_URLS}). */
  urls?: readonly string[];
}

/** Options of {@link fetchCifar10Dataset}. */
export interface Cifar10DatasetOptions extends SourceOptions {
  /** Archive URL (default {@link CIFAR10_URL}). */
  url?: string;
  /** Expected MD5; defaults to {@link CIFAR10_MD5} for the default URL only. `null` skips it. */
  md5?: string | null;
  /** Train + validation images per class, split 80/20 (default 100: 80 train, 20 val). */
  perClass?: number;
  /** Test images in all, half cars (rounded up) and half planes (default 15: 8 + 7). */
  testCount?: number;
}

/** Options of {@link ensureDataset}. */
export interface EnsureDatasetOptions extends SourceOptions {
  articleUrls?: readonly string[];
  cifarUrl?: string;
  cifarMd5?: string | null;
  perClass?: number;
  testCount?: number;
  /**
   * The last resort when neither download works: a folder in the article's layout, copied in
   * (default {@linkcode EMBEDDED_DATASET_DIR}); `null` to fail instead.
   */
  embeddedDir?: string | null;
}

function defaultLog(message: string): void {
  console.error(message);
}

async function countImages(dir: string): Promise<number> {
  let n = 0;
  try {
    for await (const e of Deno.readDir(dir)) if (e.isFile && IMAGE_EXT.test(e.name)) n++;
  } catch {
    return 0;
  }
  return n;
}

/**
 * Counts the images of a dataset in the article's layout (zeros where folders are missing).
 *
 * @example
 * ```ts
 * import { countDataset } from "./sources.ts";
 * const counts = await countDataset("data");
 * console.log(counts.training_set.cars); // 80
 * ```
 */
export async function countDataset(dir: string): Promise<DatasetCounts> {
  const counts = {} as DatasetCounts;
  for (const split of SPLITS) {
    counts[split] = {
      cars: await countImages(path.join(dir, split, "cars")),
      planes: await countImages(path.join(dir, split, "planes")),
      unlabelled: await countImages(path.join(dir, split)),
    };
  }
  return counts;
}

/**
 * What is wrong with a dataset folder (null when it is usable). The one check is
 * `validateArticleLayout` (`layout.ts`): every split, the same class folders (any names) in each,
 * each with images; `reproduce` and the notebooks' flows check the same.
 */
async function layoutProblem(dir: string): Promise<string | null> {
  try {
    await validateArticleLayout(dir);
    return null;
  } catch (error) {
    if (error instanceof LayoutError) return error.message;
    throw error;
  }
}

/**
 * True when `dir` holds a usable dataset: `training_set/`, `val_set/` and `test/`, each with the
 * same class folders (any names), each with images.
 *
 * @example
 * ```ts
 * import { hasDatasetLayout } from "./sources.ts";
 * if (!(await hasDatasetLayout("data"))) console.log("run deno task data");
 * ```
 */
export async function hasDatasetLayout(dir: string): Promise<boolean> {
  return (await layoutProblem(dir)) === null;
}

/**
 * Finds the folder holding `training_set`, `val_set` and `test` at most `depth` levels below
 * `root` (GitHub archives put the repository in `<repo>-<branch>/`, the data in `data/`).
 */
async function findDatasetRoot(root: string, depth = 3): Promise<string | undefined> {
  let level = [root];
  for (let d = 0; d <= depth && level.length > 0; d++) {
    const next: string[] = [];
    for (const dir of level.sort()) {
      let all = true;
      for (const split of SPLITS) all = all && await isDirectory(path.join(dir, split));
      if (all) return dir;
      try {
        for await (const e of Deno.readDir(dir)) {
          if (e.isDirectory && !e.name.startsWith(".")) next.push(path.join(dir, e.name));
        }
      } catch {
        // unreadable: skip
      }
    }
    level = next;
  }
  return undefined;
}

/** A few relative paths under `root`, for error messages about what an archive holds. */
async function sampleTree(root: string, limit = 12): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, rel: string, depth: number) => {
    const entries: Deno.DirEntry[] = [];
    for await (const e of Deno.readDir(dir)) entries.push(e);
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      if (out.length >= limit) return;
      const r = rel ? `${rel}/${e.name}` : e.name;
      out.push(e.isDirectory ? `${r}/` : r);
      if (e.isDirectory && depth < 2) await walk(path.join(dir, e.name), r, depth + 1);
    }
  };
  await walk(root, "", 0).catch(() => {});
  return out;
}

async function copyTree(src: string, dst: string): Promise<void> {
  await Deno.mkdir(dst, { recursive: true });
  for await (const e of Deno.readDir(src)) {
    const from = path.join(src, e.name);
    const to = path.join(dst, e.name);
    if (e.isDirectory) await copyTree(from, to);
    else if (e.isFile) await Deno.copyFile(from, to);
  }
}

/**
 * Moves `staged/{training_set,val_set,test}` into `dest`. When `dest` does not exist the whole
 * folder is renamed at once; otherwise each split is renamed in, after checking that none is in
 * the way (or moving old ones aside when `overwrite`), and rolled back if a rename fails.
 */
async function installSplits(staged: string, dest: string, overwrite: boolean): Promise<void> {
  if (!(await pathExists(dest, { followLinks: false }))) {
    await Deno.mkdir(path.dirname(dest), { recursive: true });
    await Deno.rename(staged, dest);
    return;
  }
  const inTheWay: Split[] = [];
  for (const split of SPLITS) {
    if (await pathExists(path.join(dest, split), { followLinks: false })) inTheWay.push(split);
  }
  if (inTheWay.length > 0 && !overwrite) {
    throw new DatasetSourceError(
      `${dest} already has ${inTheWay.map((s) => `${s}/`).join(", ")}. ` +
        `Remove ${inTheWay.length > 1 ? "them" : "it"} first, or ask to overwrite (--force).`,
    );
  }
  // Beside dest, not inside the staging folder: were the process killed during these renames,
  // the replaced splits stay there (recoverable) instead of being cleaned up with the staging.
  const aside = `${dest}.replaced-${randomSuffix()}`;
  await Deno.mkdir(aside);
  const moved: Split[] = [];
  try {
    for (const split of inTheWay) {
      await Deno.rename(path.join(dest, split), path.join(aside, split));
    }
    for (const split of SPLITS) {
      await Deno.rename(path.join(staged, split), path.join(dest, split));
      moved.push(split);
    }
  } catch (e) {
    for (const split of moved) {
      await Deno.rename(path.join(dest, split), path.join(staged, split)).catch(() => {});
    }
    for (const split of inTheWay) {
      await Deno.rename(path.join(aside, split), path.join(dest, split)).catch(() => {});
    }
    throw new DatasetSourceError(
      `Could not move the new dataset into ${dest} (${
        (e as Error).message
      }); it was left as it was.`,
      { cause: e },
    );
  }
  await Deno.remove(aside, { recursive: true }).catch(() => {});
}

/** Runs `fill(stagedDatasetDir)` in a temporary folder beside `dest`, then installs the result. */
async function stageAndInstall(
  dest: string,
  overwrite: boolean,
  fill: (staging: string, staged: string) => Promise<void>,
  origin = "the source",
): Promise<void> {
  const absDest = path.resolve(dest);
  const staging = await makeStagingDir(absDest, "incoming");
  try {
    const staged = path.join(staging, "dataset");
    await fill(staging, staged);
    // Validated before it is installed: an invalid dataset never replaces anything.
    try {
      await validateArticleLayout(staged);
    } catch (e) {
      if (!(e instanceof DatasetError)) throw e;
      throw new DatasetSourceError(
        `The dataset from ${origin} was not installed: ${
          e.message.replaceAll(`${staged}${path.sep}`, "").replaceAll(staged, "its root")
        }`,
        { cause: e },
      );
    }
    await installSplits(staged, absDest, overwrite);
  } finally {
    await removeStagingDir(staging);
  }
}

/** Moves (or copies) the three splits of a found dataset root into `staged`, after checking them. */
async function takeSplits(
  root: string,
  staged: string,
  what: string,
  copy: boolean,
): Promise<void> {
  const problem = await layoutProblem(root);
  if (problem !== null) {
    throw new DatasetSourceError(
      `${what} has training_set/, val_set/ and test/, but not in the article's layout: ${problem}`,
    );
  }
  await Deno.mkdir(staged, { recursive: true });
  for (const split of SPLITS) {
    if (copy) await copyTree(path.join(root, split), path.join(staged, split));
    else await Deno.rename(path.join(root, split), path.join(staged, split));
  }
}

/** Extracts an archive in `staging` and takes its dataset splits into `staged`. */
async function takeFromArchive(
  archive: string,
  staging: string,
  staged: string,
  origin: string,
  log: (m: string) => void,
  notArchiveHint?: string,
): Promise<void> {
  const extracted = path.join(staging, "extracted");
  const format = await detectArchiveFormat(archive, notArchiveHint);
  await extractArchive(archive, extracted, { log, format });
  const root = await findDatasetRoot(extracted);
  if (!root) {
    const sample = await sampleTree(extracted);
    throw new DatasetSourceError(
      `The archive ${archive} (from ${origin}) has no folder with training_set/, val_set/ and ` +
        `test/ in it. It holds: ${sample.length ? sample.join(", ") : "nothing"}` +
        `${sample.length >= 12 ? ", ..." : ""}. Use another source (--source cifar10 or a folder).`,
    );
  }
  await takeSplits(root, staged, `The archive ${archive}`, false);
}

function archiveFileName(urls: readonly string[]): string {
  const zip = urls.length > 0 && /(\.zip|\/zip\/[^/]*\/?[^/]*)$/i.test(urls[0]);
  return `${ARTICLE_REPO.split("/")[1]}${zip ? ".zip" : ".tar.gz"}`;
}

/**
 * Downloads (or finds in the cache) the article's repository archive and installs its
 * `data/training_set`, `data/val_set` and `data/test` into `dest`.
 *
 * @example
 * ```ts
 * import { fetchArticleDataset } from "./sources.ts";
 * const summary = await fetchArticleDataset("data", { cacheDir: "/tmp/cache" });
 * console.log(summary.counts.training_set); // { cars: 80, planes: 80, unlabelled: 0 }
 * ```
 */
export async function fetchArticleDataset(
  dest: string,
  opts: ArticleDatasetOptions = {},
): Promise<DatasetSummary> {
  const log = opts.log ?? defaultLog;
  const urls = opts.urls ?? ARTICLE_ARCHIVE_URLS;
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  log(`Fetching the article's dataset (${ARTICLE_REPO} on GitHub)...`);
  const archive = await download(urls, {
    cacheDir,
    fileName: archiveFileName(urls),
    log,
    progressBar: opts.progressBar,
  });
  try {
    await stageAndInstall(dest, opts.overwrite ?? false, async (staging, staged) => {
      await takeFromArchive(archive, staging, staged, urls.join(" or "), log);
    }, archive);
  } catch (e) {
    if (e instanceof ArchiveError || e instanceof DatasetSourceError) {
      // A bad archive in the cache would fail the same way next time: drop it.
      if (!(e instanceof DatasetSourceError && /already has/.test(e.message))) {
        await Deno.remove(archive).catch(() => {});
        e.message += ` (The cached ${archive} was deleted.)`;
      }
    }
    throw e;
  }
  const dir = path.resolve(dest);
  const counts = await countDataset(dir);
  log(`Installed the article's dataset in ${dir}: ${describeCounts(counts)}.`);
  return { dir, source: "article", origin: archive, counts };
}

/**
 * Installs a dataset the user already has: a folder that contains (a few levels down)
 * `training_set/`, `val_set/` and `test/`, or a `.tar.gz`/`.tar`/`.zip` archive of one. The
 * source is copied, never moved.
 *
 * @example
 * ```ts
 * import { installLocalDataset } from "./sources.ts";
 * await installLocalDataset("/media/usb/carplane", "data");
 * ```
 */
export async function installLocalDataset(
  source: string,
  dest: string,
  opts: SourceOptions = {},
): Promise<DatasetSummary> {
  const log = opts.log ?? defaultLog;
  const src = path.resolve(source);
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(src);
  } catch {
    throw new DatasetSourceError(
      `${src} does not exist. Pass a folder holding training_set/, val_set/ and test/ ` +
        `(each with cars/ and planes/), or an archive of one.`,
    );
  }
  if (path.resolve(dest) === src) {
    throw new DatasetSourceError(`The source ${src} is the destination itself.`);
  }
  await stageAndInstall(dest, opts.overwrite ?? false, async (staging, staged) => {
    if (stat.isFile) {
      await takeFromArchive(
        src,
        staging,
        staged,
        src,
        log,
        "Pass a folder in the article's layout, or a .tar.gz, .tar or .zip archive of one.",
      );
      return;
    }
    const root = await findDatasetRoot(src);
    if (!root) {
      const sample = await sampleTree(src);
      throw new DatasetSourceError(
        `${src} has no folder with training_set/, val_set/ and test/ in it (looked 3 levels ` +
          `deep). It holds: ${sample.join(", ") || "nothing"}.`,
      );
    }
    await takeSplits(root, staged, src, true);
  }, src);
  const dir = path.resolve(dest);
  const counts = await countDataset(dir);
  log(`Installed the dataset from ${src} in ${dir}: ${describeCounts(counts)}.`);
  return { dir, source: "local", origin: src, counts };
}

/**
 * A short text such as "training_set 80+80, val_set 20+20, test 8+7 (cars+planes)".
 *
 * @example
 * ```ts
 * import { countDataset, describeCounts } from "./sources.ts";
 * console.log(describeCounts(await countDataset("data")));
 * ```
 */
export function describeCounts(counts: DatasetCounts): string {
  return SPLITS.map((s) => {
    const c = counts[s];
    return `${s} ${c.cars}+${c.planes}${c.unlabelled ? ` (+${c.unlabelled} unlabelled)` : ""}`;
  }).join(", ") + " (cars+planes)";
}

interface CifarImage {
  pixels: Uint8Array; // 3072 bytes: R plane, G plane, B plane
  name: string;
}

async function writeCifarPng(image: CifarImage, file: string): Promise<void> {
  const rgb = new Uint8Array(32 * 32 * 3);
  for (let p = 0; p < 1024; p++) {
    rgb[p * 3] = image.pixels[p];
    rgb[p * 3 + 1] = image.pixels[1024 + p];
    rgb[p * 3 + 2] = image.pixels[2048 + p];
  }
  await sharp(rgb, { raw: { width: 32, height: 32, channels: 3 } }).png().toFile(file);
}

/**
 * Builds the dataset from CIFAR-10's binary version: `automobile` images become `cars`,
 * `airplane` images `planes`. The first `perClass` of each class found in `data_batch_1.bin`,
 * `data_batch_2.bin`, ... (in that order) are split 80/20 into `training_set` and `val_set`;
 * `testCount` images from `test_batch.bin` (half cars, rounded up) go to `test`. The archive
 * is streamed: only the batches needed are decompressed, nothing else is extracted.
 *
 * @example
 * ```ts
 * import { fetchCifar10Dataset } from "./sources.ts";
 * await fetchCifar10Dataset("data", { perClass: 100, testCount: 15 }); // 80+80, 20+20, 8+7
 * ```
 */
export async function fetchCifar10Dataset(
  dest: string,
  opts: Cifar10DatasetOptions = {},
): Promise<DatasetSummary> {
  const log = opts.log ?? defaultLog;
  const url = opts.url ?? CIFAR10_URL;
  const isDefault = url === CIFAR10_URL;
  const perClass = opts.perClass ?? 100;
  const testCount = opts.testCount ?? 15;
  if (!Number.isInteger(perClass) || perClass < 2) {
    throw new DatasetSourceError(`perClass must be an integer of at least 2, got ${perClass}.`);
  }
  if (!Number.isInteger(testCount) || testCount < 0) {
    throw new DatasetSourceError(`testCount must be a non-negative integer, got ${testCount}.`);
  }
  const trainPerClass = Math.round(perClass * 0.8);
  const testCars = Math.ceil(testCount / 2);
  const testPlanes = testCount - testCars;
  const md5 = opts.md5 === null ? undefined : opts.md5 ?? (isDefault ? CIFAR10_MD5 : undefined);

  log(
    `Building the dataset from CIFAR-10 (automobile -> cars, airplane -> planes): ` +
      `${trainPerClass}+${perClass - trainPerClass} per class for training/validation, ` +
      `${testCars}+${testPlanes} test images.`,
  );
  const archive = await download(url, {
    cacheDir: opts.cacheDir ?? defaultCacheDir(),
    fileName: "cifar-10-binary.tar.gz",
    md5,
    expectedSize: isDefault && md5 ? CIFAR10_SIZE : undefined,
    log,
    progressBar: opts.progressBar,
  });

  const train: Record<"cars" | "planes", CifarImage[]> = { cars: [], planes: [] };
  const test: Record<"cars" | "planes", CifarImage[]> = { cars: [], planes: [] };
  const want = { cars: perClass, planes: perClass };
  const wantTest = { cars: testCars, planes: testPlanes };
  const pending = new Map<number, Uint8Array>();
  let nextBatch = 1;
  let sawTest = false;
  const trainDone = () => train.cars.length >= want.cars && train.planes.length >= want.planes;
  const take = (
    bytes: Uint8Array,
    batchName: string,
    into: Record<"cars" | "planes", CifarImage[]>,
    limits: { cars: number; planes: number },
  ) => {
    if (bytes.length % CIFAR_RECORD !== 0) {
      throw new DatasetSourceError(
        `${batchName}.bin in ${archive} is ${bytes.length} bytes, not a whole number of ` +
          `${CIFAR_RECORD}-byte CIFAR-10 records: the archive is not CIFAR-10's binary version. ` +
          `Delete it and download ${CIFAR10_URL} again.`,
      );
    }
    for (let r = 0; r < bytes.length / CIFAR_RECORD; r++) {
      const label = bytes[r * CIFAR_RECORD];
      const cls = label === CIFAR_AUTOMOBILE ? "cars" : label === CIFAR_AIRPLANE ? "planes" : null;
      if (!cls || into[cls].length >= limits[cls]) continue;
      const start = r * CIFAR_RECORD + 1;
      into[cls].push({
        pixels: bytes.slice(start, start + CIFAR_RECORD - 1),
        name: `cifar10_${batchName}_${String(r).padStart(5, "0")}.png`,
      });
    }
  };
  const batchOf = (name: string): number | "test" | undefined => {
    const base = name.split("/").pop() ?? "";
    const m = /^data_batch_([1-5])\.bin$/.exec(base);
    if (m) return Number(m[1]);
    return base === "test_batch.bin" ? "test" : undefined;
  };
  try {
    const entries = readArchiveEntries(archive, {
      wantData: (e) => {
        const b = batchOf(e.name);
        if (b === undefined) return false;
        if (b === "test") return testCount > 0;
        return !trainDone() && b >= nextBatch;
      },
    });
    for await (const entry of entries) {
      const b = batchOf(entry.name);
      if (b === undefined || !entry.data) continue;
      if (b === "test") {
        sawTest = true;
        take(entry.data, "test_batch", test, wantTest);
      } else {
        pending.set(b, entry.data);
        while (pending.has(nextBatch) && !trainDone()) {
          take(pending.get(nextBatch)!, `data_batch_${nextBatch}`, train, want);
          pending.delete(nextBatch);
          nextBatch++;
        }
      }
      if (trainDone() && (sawTest || testCount === 0)) break;
    }
  } catch (e) {
    if (e instanceof ArchiveError) {
      await Deno.remove(archive).catch(() => {});
      e.message += ` (The cached ${archive} was deleted.)`;
    }
    throw e;
  }
  const short: string[] = [];
  for (const cls of CLASSES) {
    if (train[cls].length < want[cls]) {
      short.push(`${train[cls].length} of ${want[cls]} ${cls} in the training batches`);
    }
    if (test[cls].length < wantTest[cls]) {
      short.push(`${test[cls].length} of ${wantTest[cls]} ${cls} in test_batch.bin`);
    }
  }
  if (short.length > 0) {
    throw new DatasetSourceError(
      `${archive} does not hold enough images: found only ${short.join(", ")}. ` +
        `Ask for fewer (--per-class) or check the archive.`,
    );
  }

  await stageAndInstall(dest, opts.overwrite ?? false, async (_staging, staged) => {
    const write = async (split: Split, cls: "cars" | "planes", images: CifarImage[]) => {
      const dir = path.join(staged, split, cls);
      await Deno.mkdir(dir, { recursive: true });
      for (const image of images) await writeCifarPng(image, path.join(dir, image.name));
    };
    for (const cls of CLASSES) {
      await write("training_set", cls, train[cls].slice(0, trainPerClass));
      await write("val_set", cls, train[cls].slice(trainPerClass));
      await write("test", cls, test[cls]);
    }
  });
  const dir = path.resolve(dest);
  const counts = await countDataset(dir);
  log(`Installed the CIFAR-10 stand-in dataset in ${dir}: ${describeCounts(counts)}.`);
  return { dir, source: "cifar10", origin: archive, counts };
}

/**
 * Makes sure `dataDir` holds a dataset and says which: keeps one that is there, else tries the
 * article's own images, then CIFAR-10, then copies in the sample embedded in the repository
 * ({@linkcode EMBEDDED_DATASET_DIR}), logging what it tried and what it uses. The folder is
 * filled once: later runs find the dataset there (and the note saying where it came from).
 * Only with `embeddedDir: null` and both downloads failing does it throw a
 * {@link DatasetSourceError} listing the URLs tried and how to supply a local dataset.
 *
 * @example
 * ```ts
 * import { describeDatasetSource, ensureDataset } from "./sources.ts";
 * const dataset = await ensureDataset("data");
 * console.log(describeDatasetSource(dataset)); // e.g. "the article's own images (...)"
 * ```
 */
export async function ensureDataset(
  dataDir: string,
  opts: EnsureDatasetOptions = {},
): Promise<DatasetSummary> {
  const log = opts.log ?? defaultLog;
  const dir = path.resolve(dataDir);
  if (await hasDatasetLayout(dir)) {
    const installedFrom = await readSourceNote(dir);
    const summary: DatasetSummary = {
      dir,
      source: "existing",
      origin: dir,
      counts: await countDataset(dir),
      ...(installedFrom ? { installedFrom } : {}),
    };
    const replace = installedFrom?.source === "embedded"
      ? " (`deno task data --source article --force` replaces it with the article's images)"
      : "";
    log(`Using the dataset in ${dir}: ${describeDatasetSource(summary)}${replace}.`);
    return summary;
  }
  const partial: Split[] = [];
  for (const split of SPLITS) {
    if (await pathExists(path.join(dir, split), { followLinks: false })) partial.push(split);
  }
  if (partial.length > 0 && !opts.overwrite) {
    const problem = await layoutProblem(dir);
    throw new DatasetSourceError(
      `${dir} holds an incomplete dataset (${problem}). Complete it, or ` +
        `remove ${partial.map((s) => `${s}/`).join(", ")} and run \`deno task data\` again.`,
    );
  }
  const articleUrls = opts.articleUrls ?? ARTICLE_ARCHIVE_URLS;
  const cifarUrl = opts.cifarUrl ?? CIFAR10_URL;
  const embeddedDir = opts.embeddedDir === undefined ? EMBEDDED_DATASET_DIR : opts.embeddedDir;
  const failures: string[] = [];
  const notUsed: string[] = [];
  const installed = async (summary: DatasetSummary): Promise<DatasetSummary> => {
    const done = notUsed.length > 0 ? { ...summary, notUsed } : summary;
    await writeSourceNote(dir, done);
    return done;
  };
  const usable = (e: unknown) =>
    e instanceof DownloadError || e instanceof ArchiveError || e instanceof DatasetSourceError;
  log(`No dataset in ${dir}; trying the article's own images first.`);
  try {
    return await installed(await fetchArticleDataset(dir, { ...opts, urls: articleUrls, log }));
  } catch (e) {
    if (!usable(e)) throw e;
    failures.push(`article's dataset: ${(e as Error).message}`);
    notUsed.push(`the article's own images: ${firstLine(e)}`);
    log(`The article's dataset is not available (${firstLine(e)}); falling back to CIFAR-10.`);
  }
  try {
    return await installed(
      await fetchCifar10Dataset(dir, { ...opts, url: cifarUrl, md5: opts.cifarMd5, log }),
    );
  } catch (e) {
    if (!usable(e)) throw e;
    failures.push(`CIFAR-10: ${(e as Error).message}`);
    notUsed.push(`CIFAR-10: ${firstLine(e)}`);
    if (embeddedDir !== null) {
      log(
        `CIFAR-10 is not available either (${firstLine(e)}); using the sample embedded in the ` +
          `repository: ${embeddedDir} (215 CIFAR-10 car and plane photos in the article's ` +
          "layout; see its SOURCE.md).",
      );
    }
  }
  if (embeddedDir !== null) {
    const local = await installLocalDataset(embeddedDir, dir, { ...opts, log });
    log(
      "To use the article's images or the full CIFAR-10 stand-in once you are online: " +
        "`deno task data --source article --force` (or `--source cifar10 --force`).",
    );
    return await installed({ ...local, source: "embedded" });
  }
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  throw new DatasetSourceError(
    `No dataset in ${dir}, and neither source could be fetched.\n` +
      `Tried:\n${[...articleUrls, cifarUrl].map((u) => `  - ${u}`).join("\n")}\n` +
      `What happened:\n${failures.map((f) => `  - ${f.replaceAll("\n", "\n    ")}`).join("\n")}\n` +
      `Offline? Run \`deno task data --source DIR\` with a folder (or archive) holding ` +
      `training_set/, val_set/ and test/, each with cars/ and planes/; or download one of the ` +
      `URLs above by hand into ${cacheDir} (as ${archiveFileName(articleUrls)} or ` +
      `cifar-10-binary.tar.gz) and run \`deno task data\` again.`,
  );
}

/**
 * One phrase saying where a dataset comes from, for logs, `report.md` and `metrics.json`.
 *
 * @example
 * ```ts
 * import { describeDatasetSource, ensureDataset } from "./sources.ts";
 * describeDatasetSource(await ensureDataset("data"));
 * // "the sample embedded in the repository (...) — the article's own images: ...; CIFAR-10: ..."
 * ```
 */
export function describeDatasetSource(summary: DatasetSummary): string {
  const what = (source: DatasetSummary["source"], origin: string): string => {
    switch (source) {
      case "article":
        return `the article's own images (${origin})`;
      case "cifar10":
        return `CIFAR-10 cars and planes in the article's split sizes (${origin})`;
      case "embedded":
        return `the sample embedded in the repository, 215 CIFAR-10 photos (${origin})`;
      case "local":
        return `a copy of ${origin}`;
      case "existing":
        return `the dataset already in ${origin}`;
    }
  };
  if (summary.source === "existing" && summary.installedFrom) {
    const from = summary.installedFrom;
    return `${what(from.source, from.origin)}, installed on ${from.installedAt.slice(0, 10)}`;
  }
  const text = what(summary.source, summary.origin);
  return summary.notUsed?.length ? `${text}; not available: ${summary.notUsed.join("; ")}` : text;
}

/**
 * SHA-256 of every file's path and size under the three splits: a note written for one dataset
 * does not describe another put there later by other means (`deno task data --force`, by hand).
 */
async function datasetFingerprint(dir: string): Promise<string> {
  const lines: string[] = [];
  const walk = async (folder: string, rel: string): Promise<void> => {
    for await (const e of Deno.readDir(folder)) {
      const r = `${rel}/${e.name}`;
      if (e.isDirectory) await walk(path.join(folder, e.name), r);
      else lines.push(`${r}\t${(await Deno.stat(path.join(folder, e.name))).size}`);
    }
  };
  for (const split of SPLITS) await walk(path.join(dir, split), split).catch(() => {});
  const bytes = new TextEncoder().encode(lines.sort().join("\n"));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function writeSourceNote(dir: string, summary: DatasetSummary): Promise<void> {
  const note = {
    source: summary.source,
    origin: summary.origin,
    installedAt: new Date().toISOString(),
    fingerprint: await datasetFingerprint(dir),
    ...(summary.notUsed ? { notUsed: summary.notUsed } : {}),
  };
  // A note that cannot be written only costs the next run its "installed from" line.
  await Deno.writeTextFile(path.join(dir, SOURCE_NOTE), JSON.stringify(note, null, 2) + "\n")
    .catch(() => {});
}

async function readSourceNote(dir: string): Promise<DatasetSummary["installedFrom"]> {
  try {
    const note = JSON.parse(await Deno.readTextFile(path.join(dir, SOURCE_NOTE)));
    const sources = ["article", "cifar10", "local", "embedded"];
    if (
      typeof note?.origin === "string" && typeof note?.installedAt === "string" &&
      sources.includes(note?.source) && note?.fingerprint === await datasetFingerprint(dir)
    ) {
      return { source: note.source, origin: note.origin, installedAt: note.installedAt };
    }
  } catch {
    // no note (a dataset put there by hand), or one about other files: nothing more to say
  }
  return undefined;
}
