/**
 * The whole benchmark behind `deno task bench`: every requested backend, then the peers, then
 * the scaling points.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type BackendName, type BackendRequest, initBackend } from "../../lib/training/runtime.ts";
import {
  type BackendResult,
  benchBackend,
  BenchError,
  type BenchLog,
  type BenchSettings,
  benchSettings,
} from "./measure.ts";
import {
  type AnchorOptions,
  type AnchorResult,
  type KerasOptions,
  type KerasResult,
  runKerasAnchor,
  runPytorchAnchor,
} from "./anchors.ts";
import { measureArticleEpoch } from "./article.ts";
import { runScalePoint, type ScalePoint, type ScaleRunOptions } from "./scale.ts";

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
  /** The Keras peer (train step, VGG16, the article's epoch), or `null` when not run. */
  keras: KerasResult | null;
  /** Where VGG16's weights came from (random: speed only). */
  vgg16Weights: string;
  scale: ScalePoint[] | null;
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
  /** How to run the Keras anchor; `null` skips it (and the ratios to Keras). */
  keras?: KerasOptions | null;
  /**
   * The article's epoch on each backend but cpu (too slow): the dataset, epochs (the first a
   * warm-up) and steps per epoch; `null` skips it.
   */
  article?: { data: string; epochs: number; stepsPerEpoch: number } | null;
  /** The scaling run; `null` skips it. */
  scale: ScaleRunOptions | null;
  /** Progress lines. */
  log?: BenchLog;
  /** Overrides of the per-backend settings (tests use tiny images). */
  settings?: Partial<BenchSettings>;
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
    const result = await benchBackend(name, settings, log);
    backends.push(result);
    if (options.article && result.available && name !== "cpu") {
      // As reproduce runs it: node on the main thread alone (TensorFlow threads itself), wasm
      // data-parallel on every core.
      const workers = name === "node" ? 0 : settings.workers;
      log(
        `${name}: the article's epoch (${options.article.epochs} epochs, ${
          workers + 1
        } thread(s)) ...`,
      );
      try {
        result.article = await measureArticleEpoch({
          data: options.article.data,
          backend: name,
          epochs: options.article.epochs,
          stepsPerEpoch: options.article.stepsPerEpoch,
          workers,
        });
      } catch (error) {
        result.article = { missing: error instanceof Error ? error.message : String(error) };
      }
    }
  }
  let pytorch: AnchorResult | null = null;
  if (options.anchor !== null) {
    log(`PyTorch anchor: ${options.anchor.path} ...`);
    pytorch = await runPytorchAnchor(options.anchor);
    if (!pytorch.found) log(`PyTorch anchor: not run: ${pytorch.reason}`);
  }
  let keras: KerasResult | null = null;
  if (options.keras) {
    log(`Keras anchor: ${options.keras.dir} ...`);
    keras = await runKerasAnchor(options.keras);
    if (!keras.found) log(`Keras anchor: not run: ${keras.reason}`);
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
    keras,
    vgg16Weights: "random (lib/models/vgg16.ts buildVgg16Architecture, Keras' weights=None); " +
      "speed does not depend on the weights' values",
    scale,
  };
}
