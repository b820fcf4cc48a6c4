/**
 * The benchmark behind `deno task bench`: throughput of the article's models on each backend,
 * on one thread and data-parallel on every core ({@link createDataParallelTrainStep},
 * {@link createParallelPredictor}), beside the PyTorch peer (`../shared/bench/pytorch_anchor.py`)
 * measured on the same machine, plus a scaling run (one epoch on growing datasets).
 *
 * Figures (images per second, higher is better), named as the PyTorch anchor names them:
 * - `baseline_train_img_per_s`: the article's CNN at 64x64x3, one Adam step per batch of 32,
 *   warm-up excluded;
 * - `vgg16_forward_img_per_s`: VGG16's convolutional base (`include_top=False`) at 64x64,
 *   batches of 16, inference, built by `lib/models/vgg16.ts` with random weights (Keras'
 *   `weights=None`): speed does not depend on their values.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { type BackendName, type BackendRequest, initBackend } from "../../lib/training/runtime.ts";
import { createBaselineModel } from "../../lib/models/baseline.ts";
import { buildVgg16Architecture } from "../../lib/models/vgg16.ts";
import {
  createDataParallelTrainStep,
  createParallelPredictor,
} from "../../lib/training/parallel.ts";
import { createTrainStep, type LabeledBatch } from "../../lib/training/fit.ts";
import { measureBaselineTraining } from "./measure.ts";
import { flowFromDirectory } from "../../lib/data/batches.ts";
import { scanImageDirectory } from "../../lib/data/dataset.ts";
import { CarplaneError } from "../../lib/errors.ts";

/** The figures the benchmark and the PyTorch anchor both report. */
export const BENCH_METRICS = ["baseline_train_img_per_s", "vgg16_forward_img_per_s"] as const;
/** One of {@linkcode BENCH_METRICS}. */
export type BenchMetric = typeof BENCH_METRICS[number];

/** Raised when the benchmark cannot run as asked (bad data folder, failed subprocess...). */
export class BenchError extends CarplaneError {
  constructor(message: string) {
    super(message);
    this.name = "BenchError";
  }
}

/** How long to measure one figure. */
export interface MeasureOptions {
  /** Calls run first and not timed (compilation, allocation, Workers' first step). */
  warmupCalls: number;
  /** Timed calls at least. */
  minCalls: number;
  /** Keep calling until this many seconds have passed (after `minCalls`). */
  minSeconds: number;
}

/** A measured throughput. */
export interface Throughput {
  /** Images per second over the timed calls. */
  imgPerS: number;
  /** Images processed in the timed calls. */
  images: number;
  /** Timed calls. */
  calls: number;
  /** Seconds the timed calls took. */
  seconds: number;
}

/**
 * Times `call` (which returns how many images it processed) after `warmupCalls` untimed calls,
 * for at least `minCalls` calls and `minSeconds` seconds.
 *
 * @example
 * ```ts
 * const t = await measureThroughput(async () => { await step(batch); return 32; },
 *   { warmupCalls: 1, minCalls: 3, minSeconds: 5 });
 * console.log(t.imgPerS);
 * ```
 */
export async function measureThroughput(
  call: () => Promise<number>,
  options: MeasureOptions,
): Promise<Throughput> {
  for (let i = 0; i < options.warmupCalls; i++) await call();
  let images = 0;
  let calls = 0;
  const start = performance.now();
  let seconds = 0;
  while (calls < options.minCalls || seconds < options.minSeconds) {
    images += await call();
    calls++;
    seconds = (performance.now() - start) / 1000;
  }
  return { imgPerS: images / seconds, images, calls, seconds };
}

/** What one backend is measured with. */
export interface BenchSettings {
  /** Square image side for VGG16 (64 as in the article; the baseline is always 64x64x3). */
  vgg16ImageSize: number;
  /** Training batch (32). */
  trainBatch: number;
  /** Inference batch for VGG16 (16). */
  forwardBatch: number;
  /** Workers beside the main thread for the data-parallel figures (1 on 2 cores). */
  workers: number;
  /** How long to measure training (a fixed number of steps: `minSeconds` is not used). */
  train: MeasureOptions;
  /** How long to measure VGG16 inference. */
  forward: MeasureOptions;
}

/**
 * The settings for a backend: the anchor's sizes; about 5 s per figure after warm-up on
 * wasm/node; on the (very slow) cpu backend 2 timed training steps and 1 timed VGG16 batch, with
 * no warm-up (pure JavaScript compiles nothing; one training step of 32 images takes about a
 * minute and a VGG16 batch about 20 s there); one timed call of each after one warm-up in quick
 * mode.
 *
 * @example
 * ```ts
 * benchSettings("cpu", false).train.minCalls; // 2
 * ```
 */
export function benchSettings(
  backend: BackendName,
  quick: boolean,
  workers = Math.max(1, (navigator.hardwareConcurrency ?? 2) - 1),
): BenchSettings {
  const base = { vgg16ImageSize: 64, trainBatch: 32, forwardBatch: 16, workers };
  if (quick) {
    const once = { warmupCalls: 1, minCalls: 1, minSeconds: 0 };
    return { ...base, train: once, forward: once };
  }
  if (backend === "cpu") {
    return {
      ...base,
      train: { warmupCalls: 0, minCalls: 2, minSeconds: 0 },
      forward: { warmupCalls: 0, minCalls: 1, minSeconds: 0 },
    };
  }
  return {
    ...base,
    train: { warmupCalls: 2, minCalls: 20, minSeconds: 0 },
    forward: { warmupCalls: 1, minCalls: 3, minSeconds: 5 },
  };
}

/** One figure on one thread and data-parallel on `threads` threads. */
export interface MetricResult {
  single: Throughput;
  parallel: Throughput;
  /** Threads of the data-parallel figure (main thread + Workers). */
  threads: number;
}

/** Everything measured on one backend, or why it could not run. */
export interface BackendResult {
  backend: BackendName;
  available: boolean;
  /** Why the backend runs (or does not). */
  reason: string;
  settings: BenchSettings;
  metrics: Partial<Record<BenchMetric, MetricResult>>;
}

/** Where the benchmark's progress lines go. */
export type BenchLog = (line: string) => void;

function randomBatch(n: number, size: number): LabeledBatch {
  const xs = new Float32Array(n * size * size * 3);
  for (let i = 0; i < xs.length; i++) xs[i] = Math.random();
  const ys = Float32Array.from({ length: n }, (_, i) => i % 2);
  return { xs, ys, size: n, shape: [n, size, size, 3] };
}

/**
 * Initialises `backend` and measures both figures on it, single-threaded and data-parallel.
 * Returns `available: false` with the reason when the backend cannot start.
 *
 * @example
 * ```ts
 * const result = await benchBackend("wasm", benchSettings("wasm", false), console.log);
 * result.metrics.baseline_train_img_per_s?.parallel.imgPerS;
 * ```
 */
export async function benchBackend(
  backend: BackendName,
  settings: BenchSettings,
  log: BenchLog = () => {},
): Promise<BackendResult> {
  const result: BackendResult = {
    backend,
    available: false,
    reason: "",
    settings,
    metrics: {},
  };
  let tfName: string;
  try {
    const choice = await initBackend(backend, { log: null });
    result.available = true;
    result.reason = choice.reason;
    tfName = choice.tfName;
  } catch (error) {
    result.reason = error instanceof Error ? error.message : String(error);
    log(`${backend}: not available (${result.reason})`);
    return result;
  }
  const threads = settings.workers + 1;

  // One thread: the wasm-kernel module's own measurement (trainOnBatch on the article's CNN).
  log(`${backend}: baseline training, 1 thread ...`);
  const steps = settings.train.minCalls;
  const singleRate = await measureBaselineTraining({
    backend: tfName,
    batchSize: settings.trainBatch,
    steps,
    warmupSteps: settings.train.warmupCalls,
  });
  const images = settings.trainBatch * steps;
  const single = { imgPerS: singleRate, images, calls: steps, seconds: images / singleRate };
  log(`${backend}: baseline training, ${threads} threads ...`);
  const trainBatch = randomBatch(settings.trainBatch, 64);
  const parallelModel = createBaselineModel({ seed: 1, inputShape: [64, 64, 3] });
  const parallelStep = await createDataParallelTrainStep(parallelModel, {
    workers: settings.workers,
    backend,
  });
  try {
    result.metrics.baseline_train_img_per_s = {
      single,
      parallel: await measureThroughput(
        async () => (await parallelStep.step(trainBatch)).size,
        { ...settings.train, minSeconds: 0 },
      ),
      threads,
    };
  } finally {
    await parallelStep.close();
    parallelModel.dispose();
  }

  const size = settings.vgg16ImageSize;
  const batch = randomBatch(settings.forwardBatch, size);
  const base = buildVgg16Architecture([size, size, 3]);
  try {
    log(`${backend}: VGG16 conv base inference, 1 thread ...`);
    const forwardSingle = await measureThroughput(() => {
      tf.tidy(() => {
        const x = tf.tensor(batch.xs, batch.shape as number[]);
        (base.predict(x) as tf.Tensor).dataSync();
      });
      return Promise.resolve(batch.size);
    }, settings.forward);
    log(`${backend}: VGG16 conv base inference, ${threads} threads ...`);
    const predictor = await createParallelPredictor(base, { workers: settings.workers, backend });
    try {
      const forwardParallel = await measureThroughput(async () => {
        await predictor.predict(batch.xs, batch.shape);
        return batch.size;
      }, settings.forward);
      result.metrics.vgg16_forward_img_per_s = {
        single: forwardSingle,
        parallel: forwardParallel,
        threads,
      };
    } finally {
      await predictor.close();
    }
  } finally {
    base.dispose();
  }
  return result;
}

/** The PyTorch peer's figures, or why there are none. */
export type AnchorResult =
  | {
    found: true;
    path: string;
    peer: string;
    threads: number;
    metrics: Record<BenchMetric, number>;
  }
  | { found: false; path: string; reason: string };

/** Options for {@linkcode runPytorchAnchor}. */
export interface AnchorOptions {
  /** The anchor script (`../shared/bench/pytorch_anchor.py` beside the project). */
  path: string;
  /** Python with torch; Debian's `/usr/bin/python3` (python3-torch). */
  python?: string;
  /** Seconds the anchor measures each figure (its default is 5). */
  seconds?: number;
  /** Threads for torch; default every core. */
  threads?: number;
}

/**
 * The anchor script's default place: `../shared/bench/pytorch_anchor.py` beside the project.
 *
 * @example
 * ```ts
 * defaultAnchorPath("/work/main"); // "/work/shared/bench/pytorch_anchor.py"
 * ```
 */
export function defaultAnchorPath(projectRoot: string): string {
  return join(projectRoot, "..", "shared", "bench", "pytorch_anchor.py");
}

/**
 * Runs the PyTorch anchor and reads the JSON object it prints. A missing script, python or
 * torch gives `found: false` with the reason and the fix instead of an error.
 *
 * @example
 * ```ts
 * const anchor = await runPytorchAnchor({ path: defaultAnchorPath(root) });
 * if (anchor.found) console.log(anchor.metrics.vgg16_forward_img_per_s);
 * ```
 */
export async function runPytorchAnchor(options: AnchorOptions): Promise<AnchorResult> {
  const path = options.path;
  const python = options.python ?? "/usr/bin/python3";
  if (!existsSync(path)) {
    return {
      found: false,
      path,
      reason: `the anchor script ${path} does not exist (pass --anchor PATH)`,
    };
  }
  const args = [path];
  if (options.seconds !== undefined) args.push("--seconds", String(options.seconds));
  if (options.threads !== undefined) args.push("--threads", String(options.threads));
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(python, { args, stdout: "piped", stderr: "piped" }).output();
  } catch (error) {
    return {
      found: false,
      path,
      reason: `${python} could not be started (${
        error instanceof Error ? error.message : error
      }); install Debian's python3`,
    };
  }
  const stderr = new TextDecoder().decode(output.stderr);
  if (!output.success) {
    const missingTorch = /No module named '?torch'?/.test(stderr);
    return {
      found: false,
      path,
      reason: missingTorch
        ? `torch is not installed for ${python} (apt-get install -y python3-torch)`
        : `the anchor failed: ${stderr.trim().split("\n").at(-1) ?? `exit ${output.code}`}`,
    };
  }
  const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
  try {
    const parsed = JSON.parse(lines.at(-1) ?? "") as Record<string, unknown>;
    const metrics = {} as Record<BenchMetric, number>;
    for (const name of BENCH_METRICS) {
      const value = parsed[name];
      if (typeof value !== "number") throw new Error(`no number "${name}"`);
      metrics[name] = value;
    }
    return {
      found: true,
      path,
      peer: String(parsed.peer ?? "pytorch"),
      threads: Number(parsed.threads ?? Number.NaN),
      metrics,
    };
  } catch (error) {
    return {
      found: false,
      path,
      reason: `the anchor's output is not the expected JSON (${
        error instanceof Error ? error.message : error
      }): ${lines.at(-1)}`,
    };
  }
}

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

/** Everything `deno task bench` measured. */
export interface BenchReport {
  /** Cores, load average before and after, versions. */
  machine: {
    cores: number;
    loadAverageBefore: number[];
    loadAverageAfter: number[];
    deno: string;
    tfjs: string;
  };
  backends: BackendResult[];
  pytorch: AnchorResult | null;
  /** Where VGG16's weights came from (random: speed only). */
  vgg16Weights: string;
  scale: ScalePoint[] | null;
}

/** The best tfjs figure for a metric across backends and thread counts. */
export function bestFigure(
  report: BenchReport,
  metric: BenchMetric,
): { value: number; label: string } | null {
  let best: { value: number; label: string } | null = null;
  for (const b of report.backends) {
    const m = b.metrics[metric];
    if (m === undefined) continue;
    for (const [value, threads] of [[m.single.imgPerS, 1], [m.parallel.imgPerS, m.threads]]) {
      if (best === null || value > best.value) {
        best = { value, label: `${b.backend} ${threads} thread${threads === 1 ? "" : "s"}` };
      }
    }
  }
  return best;
}

const round1 = (x: number) => Math.round(x * 10) / 10;
const round3 = (x: number) => Math.round(x * 1000) / 1000;

/**
 * The report as a plain JSON object (what `deno task bench --json` prints): per backend and
 * metric the single-thread and data-parallel images per second, the PyTorch figures and
 * best-tfjs-to-PyTorch ratios, and the scaling points.
 *
 * @example
 * ```ts
 * console.log(JSON.stringify(benchReportJson(report), null, 2));
 * ```
 */
export function benchReportJson(report: BenchReport): Record<string, unknown> {
  const backends: Record<string, unknown> = {};
  for (const b of report.backends) {
    const entry: Record<string, unknown> = { available: b.available, reason: b.reason };
    for (const metric of BENCH_METRICS) {
      const m = b.metrics[metric];
      if (m === undefined) continue;
      entry[metric] = {
        single: round1(m.single.imgPerS),
        parallel: round1(m.parallel.imgPerS),
        parallel_threads: m.threads,
        speedup: round3(m.parallel.imgPerS / m.single.imgPerS),
        timed_calls: { single: m.single.calls, parallel: m.parallel.calls },
      };
    }
    if (b.available) {
      entry.settings = {
        vgg16_image_size: b.settings.vgg16ImageSize,
        train_batch: b.settings.trainBatch,
        forward_batch: b.settings.forwardBatch,
        workers: b.settings.workers,
      };
    }
    backends[b.backend] = entry;
  }
  const anchor = report.pytorch;
  const ratio: Record<string, unknown> = {};
  if (anchor?.found) {
    for (const metric of BENCH_METRICS) {
      const best = bestFigure(report, metric);
      if (best !== null) {
        ratio[metric] = { best: best.label, ratio: round3(best.value / anchor.metrics[metric]) };
      }
    }
  }
  return {
    machine: {
      cores: report.machine.cores,
      load_average_before: report.machine.loadAverageBefore.map(round3),
      load_average_after: report.machine.loadAverageAfter.map(round3),
      deno: report.machine.deno,
      tfjs: report.machine.tfjs,
    },
    vgg16_weights: report.vgg16Weights,
    backends,
    pytorch: anchor?.found
      ? { peer: anchor.peer, threads: anchor.threads, ...anchor.metrics, path: anchor.path }
      : null,
    pytorch_missing: anchor === null ? "not run" : anchor.found ? null : anchor.reason,
    ratio_to_pytorch: anchor?.found ? ratio : null,
    scale: report.scale?.map((p) => ({
      images: p.images,
      source: p.source,
      backend: p.backend,
      threads: p.threads,
      decode_seconds: round3(p.decodeSeconds),
      decode_img_per_s: round1(p.decodeImgPerS),
      epoch_seconds: round3(p.epochSeconds),
      warmup_seconds: round3(p.warmupSeconds),
      steps: p.steps,
      train_img_per_s: round1(p.trainImgPerS),
      peak_rss_mb: round1(p.peakRssMb),
    })) ?? null,
  };
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) =>
    r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  ")
      .trimEnd()
  ).join("\n");
}

/**
 * The side-by-side table: one row per metric, one column per backend and thread count, the
 * PyTorch figure and the ratio of the best tfjs figure to it, then notes (unavailable
 * backends, few steps on cpu, random VGG16 weights, a busy machine) and the scaling table.
 *
 * @example
 * ```ts
 * console.log(formatBenchTable(report));
 * // metric                    wasm 1 thread  wasm 2 threads  ...  PyTorch (2 threads)  best/PyTorch
 * ```
 */
export function formatBenchTable(report: BenchReport): string {
  const ran = report.backends.filter((b) => b.available);
  const anchor = report.pytorch;
  const header = ["metric (img/s)"];
  for (const b of ran) {
    const threads = b.settings.workers + 1;
    header.push(`${b.backend} 1 thread`, `${b.backend} ${threads} threads`);
  }
  if (anchor?.found) header.push(`PyTorch (${anchor.threads} threads)`, "best tfjs / PyTorch");
  const rows = [header];
  for (const metric of BENCH_METRICS) {
    const row: string[] = [metric];
    for (const b of ran) {
      const m = b.metrics[metric];
      row.push(m ? m.single.imgPerS.toFixed(1) : "-", m ? m.parallel.imgPerS.toFixed(1) : "-");
    }
    if (anchor?.found) {
      const best = bestFigure(report, metric);
      row.push(
        anchor.metrics[metric].toFixed(1),
        best ? `${(best.value / anchor.metrics[metric]).toFixed(2)} (${best.label})` : "-",
      );
    }
    rows.push(row);
  }
  const notes: string[] = [];
  for (const b of report.backends) {
    if (!b.available) notes.push(`${b.backend}: not run: ${b.reason}`);
    else {
      const m = b.metrics.baseline_train_img_per_s;
      const f = b.metrics.vgg16_forward_img_per_s;
      notes.push(
        `${b.backend}: timed ${m?.single.calls ?? 0}+${m?.parallel.calls ?? 0} training steps ` +
          `after ${b.settings.train.warmupCalls}+${b.settings.train.warmupCalls} warm-up, and ` +
          `${f?.single.calls ?? 0}+${f?.parallel.calls ?? 0} VGG16 batches after ` +
          `${b.settings.forward.warmupCalls}+${b.settings.forward.warmupCalls} warm-up ` +
          `(1 thread + ${b.settings.workers + 1} threads)` +
          (b.backend === "cpu" ? "; cpu is very slow: few steps, rough figures" : ""),
      );
    }
  }
  notes.push(`VGG16 weights: ${report.vgg16Weights}`);
  if (anchor === null) notes.push("PyTorch anchor: not run");
  else if (!anchor.found) notes.push(`PyTorch anchor: not run: ${anchor.reason}`);
  else notes.push(`PyTorch anchor: ${anchor.peer} (${anchor.path})`);
  const load = report.machine.loadAverageBefore[0];
  notes.push(
    `machine: ${report.machine.cores} cores, load average ${load?.toFixed(2)} before, ` +
      `${report.machine.loadAverageAfter[0]?.toFixed(2)} after` +
      (load > 0.5 ? " (busy: figures are noisy)" : ""),
  );
  let text = table(rows) + "\n\n" + notes.map((n) => `- ${n}`).join("\n");
  if (report.scale && report.scale.length > 0) {
    const scaleRows = [[
      "images",
      "decode s",
      "decoded img/s",
      "epoch s",
      "trained img/s",
      "peak RSS MB",
      "backend",
    ]];
    for (const p of report.scale) {
      scaleRows.push([
        String(p.images),
        p.decodeSeconds.toFixed(2),
        p.decodeImgPerS.toFixed(1),
        p.epochSeconds.toFixed(2),
        p.trainImgPerS.toFixed(1),
        p.peakRssMb.toFixed(0),
        `${p.backend} ${p.threads} thread${p.threads === 1 ? "" : "s"}`,
      ]);
    }
    text += "\n\nScaling: one epoch (batch 32, article's augmentation), each size in a fresh " +
      "process\n" + table(scaleRows);
  }
  return text;
}

/** Options for {@linkcode runBench}. */
export interface RunBenchOptions {
  /** Backends to measure, in order (`auto` is the one `initBackend("auto")` picks). */
  backends: BackendRequest[];
  /** One timed call per figure (smoke run). */
  quick: boolean;
  /** Workers beside the main thread; default cores - 1 (at least 1). */
  workers?: number;
  /** How to run the PyTorch anchor; `null` skips it. */
  anchor: AnchorOptions | null;
  /** The scaling run; `null` skips it. */
  scale: ScaleRunOptions | null;
  /** Progress lines. */
  log?: BenchLog;
  /** Overrides of the per-backend settings (tests use tiny images). */
  settings?: Partial<BenchSettings>;
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

/**
 * The whole benchmark: every requested backend (1 thread and data-parallel), then the PyTorch
 * anchor, then the scaling points on the fastest backend that ran (node, else wasm, else cpu).
 *
 * @example
 * ```ts
 * const report = await runBench({ backends: ["wasm", "cpu"], quick: false,
 *   anchor: { path: defaultAnchorPath(root) }, scale: null, log: console.error });
 * console.log(formatBenchTable(report));
 * ```
 */
export async function runBench(options: RunBenchOptions): Promise<BenchReport> {
  const log = options.log ?? (() => {});
  const loadAverageBefore = Deno.loadavg();
  const names: BackendName[] = [];
  for (const request of options.backends) {
    let name: BackendName;
    if (request === "auto") {
      name = (await initBackend("auto", { log: null })).name;
      log(`auto: ${name}`);
    } else {
      name = request;
    }
    if (!names.includes(name)) names.push(name);
  }
  const backends: BackendResult[] = [];
  for (const name of names) {
    const settings = {
      ...benchSettings(name, options.quick, options.workers),
      ...options.settings,
    };
    backends.push(await benchBackend(name, settings, log));
  }
  let pytorch: AnchorResult | null = null;
  if (options.anchor !== null) {
    log(`PyTorch anchor: ${options.anchor.path} ...`);
    pytorch = await runPytorchAnchor(options.anchor);
    if (!pytorch.found) log(`PyTorch anchor: not run: ${pytorch.reason}`);
  }
  let scale: ScalePoint[] | null = null;
  if (options.scale !== null) {
    const ran = backends.filter((b) => b.available).map((b) => b.backend);
    const backend = (["node", "wasm", "cpu"] as const).find((b) => ran.includes(b));
    if (backend === undefined) {
      throw new BenchError("No backend ran, so the scaling run has nothing to run on.");
    }
    const workers = options.workers ?? benchSettings(backend, options.quick).workers;
    scale = [];
    for (const images of options.scale.sizes) {
      const data = options.scale.data(images);
      log(`scaling: one epoch on ${images} images from ${data} (${backend}) ...`);
      scale.push(
        await runScalePoint(options.scale.command({ images, data, backend, workers })),
      );
    }
  }
  return {
    machine: {
      cores: navigator.hardwareConcurrency ?? 0,
      loadAverageBefore,
      loadAverageAfter: Deno.loadavg(),
      deno: Deno.version.deno,
      tfjs: tf.version.tfjs,
    },
    backends,
    pytorch,
    vgg16Weights: "random (lib/models/vgg16.ts buildVgg16Architecture, Keras' weights=None); " +
      "speed does not depend on the weights' values",
    scale,
  };
}
