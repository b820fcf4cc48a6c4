/**
 * The scaling run of `deno task bench --scale`: one epoch of the article's training on growing
 * datasets (decode speed, epoch time, peak memory), each point in a fresh process.
 *
 * @module
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { type BackendName, initBackend } from "../../lib/training/runtime.ts";
import { createBaselineModel } from "../../lib/models/baseline.ts";
import { createDataParallelTrainStep } from "../../lib/training/parallel.ts";
import { createTrainStep } from "../../lib/training/fit.ts";
import { flowFromDirectory } from "../../lib/data/batches.ts";
import { scanImageDirectory } from "../../lib/data/dataset.ts";
import { BenchError, randomBatch } from "./measure.ts";

/** One point of the scaling run: one epoch over `images` training images. */
export interface ScalePoint {
  /** Training images (decoded and usable). */
  images: number;
  /** The folder they came from. */
  source: string;
  /** Seconds to scan and decode them (flowFromDirectory's construction). */
  decodeSeconds: number;
  /** Images decoded per second. */
  decodeImgPerS: number;
  /** Seconds for one epoch: one pass in batches of 32 (augmentation + training). */
  epochSeconds: number;
  /** Seconds of the untimed warm-up step before the epoch. */
  warmupSeconds: number;
  /** Steps in the epoch. */
  steps: number;
  /** Images trained per second in the epoch. */
  trainImgPerS: number;
  /** Peak resident memory of the process (Workers included) during decode and epoch, MB. */
  peakRssMb: number;
  /** Backend and threads it ran on. */
  backend: BackendName;
  threads: number;
}

/** Options for {@linkcode measureScalePoint}. */
export interface ScalePointOptions {
  /** A folder of class subfolders (`training_set`), or a dataset root holding `training_set/`. */
  data: string;
  /** Training images to use (taken evenly from the classes, in file order). */
  images: number;
  backend: BackendName;
  /** Workers beside the main thread; 0 trains on the main thread only. */
  workers: number;
  /** Batch size (32). */
  batchSize?: number;
  /** Square image side (64). */
  imageSize?: number;
  /** Sampling period of the memory sampler in ms (100). */
  sampleMs?: number;
}

/**
 * Finds the folder of class subfolders inside `data` (`data` itself, or `data/training_set`).
 *
 * @example
 * ```ts
 * trainingFolder("../shared/datasets/car-plane"); // ".../car-plane/training_set"
 * ```
 */
export function trainingFolder(data: string): string {
  const nested = join(data, "training_set");
  if (existsSync(nested)) return nested;
  if (existsSync(data)) return data;
  throw new BenchError(
    `The data folder ${data} does not exist: pass --data with a folder of class subfolders ` +
      "or a dataset root holding training_set/.",
  );
}

/**
 * Decodes `images` training images and trains the article's CNN (with the article's
 * augmentation) for one pass over them, measuring time and peak RSS. Run each point in a fresh
 * process (as `deno task bench --scale` does) so that its peak memory is its own.
 *
 * @example
 * ```ts
 * const point = await measureScalePoint({ data: "../shared/datasets/car-plane-large",
 *   images: 1000, backend: "wasm", workers: 1 });
 * console.log(point.epochSeconds, point.peakRssMb);
 * ```
 */
export async function measureScalePoint(options: ScalePointOptions): Promise<ScalePoint> {
  const batchSize = options.batchSize ?? 32;
  const size = options.imageSize ?? 64;
  let peak = Deno.memoryUsage().rss;
  const sample = () => {
    peak = Math.max(peak, Deno.memoryUsage().rss);
  };
  const timer = setInterval(sample, options.sampleMs ?? 100);
  const folder = trainingFolder(options.data);
  const subset = await subsetFolder(folder, options.images);
  try {
    await initBackend(options.backend, { log: null });
    const decodeStart = performance.now();
    const iterator = await flowFromDirectory(subset.folder, {
      targetSize: [size, size],
      batchSize,
      classMode: "binary",
      seed: 1,
      augment: { rescale: 1 / 255, shearRange: 0.2, zoomRange: 0.2, horizontalFlip: true },
      log: () => {},
    });
    const decodeSeconds = (performance.now() - decodeStart) / 1000;
    sample();
    const model = createBaselineModel({ seed: 1, inputShape: [size, size, 3] });
    const parallel = options.workers > 0
      ? await createDataParallelTrainStep(model, {
        workers: options.workers,
        backend: options.backend,
      })
      : null;
    const step = parallel?.step ?? createTrainStep(model);
    try {
      // One untimed step on random images: the first step's one-off costs (kernel setup in
      // the main thread and the Workers) would otherwise weigh on small datasets only.
      const warmupStart = performance.now();
      await step(randomBatch(batchSize, size));
      const warmupSeconds = (performance.now() - warmupStart) / 1000;
      sample();
      const steps = iterator.stepsPerPass;
      const epochStart = performance.now();
      for (let s = 0; s < steps; s++) {
        await step(await iterator.next());
        sample();
      }
      const epochSeconds = (performance.now() - epochStart) / 1000;
      return {
        images: iterator.samples,
        source: folder,
        decodeSeconds,
        decodeImgPerS: iterator.samples / decodeSeconds,
        epochSeconds,
        warmupSeconds,
        steps,
        trainImgPerS: iterator.samples / epochSeconds,
        peakRssMb: peak / 2 ** 20,
        backend: options.backend,
        threads: options.workers + 1,
      };
    } finally {
      await parallel?.close();
      model.dispose();
    }
  } finally {
    clearInterval(timer);
    subset.cleanup();
  }
}

/**
 * A folder with the first `images` files of `folder` (split evenly over its classes), as
 * symbolic links in a temporary folder; `folder` itself when it has no more than that.
 */
async function subsetFolder(
  folder: string,
  images: number,
): Promise<{ folder: string; cleanup: () => void }> {
  const dataset = await scanImageDirectory(folder);
  if (dataset.files.length <= images) return { folder, cleanup: () => {} };
  const classes = dataset.classNames.length;
  const temp = mkdtempSync(join(tmpdir(), "carplane-scale-"));
  dataset.classNames.forEach((name, c) => {
    const want = Math.floor(images / classes) + (c < images % classes ? 1 : 0);
    const dir = join(temp, name);
    mkdirSync(dir);
    dataset.files.filter((_, i) => dataset.labels[i] === c).slice(0, want).forEach((file) => {
      symlinkSync(file, join(dir, basename(file)));
    });
  });
  return { folder: temp, cleanup: () => rmSync(temp, { recursive: true, force: true }) };
}

/** How {@linkcode runBench} runs the scaling points, each in a fresh Deno process. */
export interface ScaleRunOptions {
  /** Training images per point, e.g. `[160, 1000, 4000]`. */
  sizes: number[];
  /** The data folder for a point. */
  data: (images: number) => string;
  /** Command that measures one point and prints its {@linkcode ScalePoint} JSON last. */
  command: (point: { images: number; data: string; backend: BackendName; workers: number }) => {
    command: string;
    args: string[];
    cwd?: string;
  };
}

/**
 * Runs a {@linkcode ScaleRunOptions.command} and reads the {@linkcode ScalePoint} it prints.
 *
 * @example
 * ```ts
 * const point = await runScalePoint({ command: Deno.execPath(), args: ["run", "-A",
 *   "cli/bench.ts", "--scale-point", "160", "--json"] });
 * ```
 */
export async function runScalePoint(
  spec: { command: string; args: string[]; cwd?: string },
): Promise<ScalePoint> {
  const output = await new Deno.Command(spec.command, {
    args: spec.args,
    cwd: spec.cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout).trim();
  if (!output.success) {
    const stderr = new TextDecoder().decode(output.stderr).trim().split("\n").slice(-5);
    throw new BenchError(
      `A scaling point failed (${spec.command} ${spec.args.join(" ")}):\n${stderr.join("\n")}`,
    );
  }
  return JSON.parse(stdout.split("\n").at(-1) ?? "") as ScalePoint;
}
