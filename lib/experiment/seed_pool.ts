/**
 * Trains the seeds of a repeated run side by side: one lane per core, each a Worker with its own
 * TensorFlow.js on one thread, taking the next seed when it finishes one. Seeds are independent
 * runs, so two lanes keep both cores busy with no synchronisation; the data-parallel step that a
 * single run uses instead splits every batch and exchanges the gradients each step. Measured on
 * this project's 2-core machine with the article's CNN on wasm: one run on 2 threads 177-220
 * ms/step, two single-thread runs at once 285 ms/step each (142 per step of one run), so two
 * lanes finish a set of seeds 1.3-1.5x sooner.
 *
 * tfjs-node runs its own thread pool, so on `node` (and when there is one lane) the seeds train
 * one after another in this thread, with `ctx.trainStep`.
 *
 * @module
 */
import { BASE_NAMES, type BaseName } from "../config.ts";
import { CarplaneError } from "../errors.ts";
import type { PretrainedBase } from "../models/base.ts";
import type { SeedRun } from "../report/seeds.ts";
import type { BackendName } from "../training/runtime.ts";
import type { DataSizePoint } from "../report/seed_charts.ts";
import type {
  BaseRecipe,
  LaneInit,
  LaneJob,
  LaneReply,
  LaneResult,
  LaneRun,
} from "./_seed_protocol.ts";
import { type SeedContext, trainDataSizePoint, trainSeed } from "./seed_runs.ts";

/** Raised when a seed fails in its lane; names the seed and what went wrong. */
export class SeedLaneError extends CarplaneError {
  constructor(message: string) {
    super(message);
    this.name = "SeedLaneError";
  }
}

/**
 * How many lanes train seeds at once: one per thread on `wasm` and `cpu` (at most one per
 * seed), one on `node` (tfjs-node threads itself) and for a base a lane cannot rebuild.
 *
 * @example
 * ```ts
 * seedLanes(2, "wasm", 4); // 2
 * seedLanes(2, "node", 4); // 1
 * ```
 */
export function seedLanes(
  threads: number,
  backend: BackendName,
  seeds: number,
  base: Pick<PretrainedBase, "name"> | null = null,
): number {
  if (backend === "node") return 1;
  if (base !== null && !(BASE_NAMES as readonly string[]).includes(base.name)) return 1;
  return Math.max(1, Math.min(threads, seeds));
}

/** Options for {@linkcode trainSeeds}. */
export interface TrainSeedsOptions {
  /** Lanes training seeds at once ({@linkcode seedLanes}); 1 trains them here, in order. */
  lanes: number;
  /** The backend each lane starts (the one this thread runs). */
  backend: BackendName;
}

/**
 * Trains every model of each seed (`trainSeed`) and returns the runs in the order of `seeds`.
 * With more than one lane the seeds train in Workers, each rebuilding the pretrained base once
 * and reusing `ctx.features`; lines go to `ctx.log` prefixed with their seed. An aborted
 * `ctx.signal` stops every lane at once (the Workers are terminated); the seeds finished by then
 * are returned, in order, and the caller decides (check `ctx.signal.aborted`).
 *
 * @example
 * ```ts
 * const runs = await trainSeeds(ctx, [43, 44, 45, 46], { lanes: 2, backend: "wasm" });
 * ```
 */
export async function trainSeeds(
  ctx: SeedContext,
  seeds: readonly number[],
  options: TrainSeedsOptions,
): Promise<SeedRun[]> {
  const jobs: LaneJob[] = seeds.map((seed) => ({ type: "seed", seed }));
  const results = await runJobs(ctx, jobs, options);
  return results.flatMap((r) => r?.type === "seed" ? [r.run] : []);
}

/**
 * The accuracy-vs-data-size experiment: for each size and seed, the baseline and the transfer
 * model trained on that many training images per class (`trainDataSizePoint`, the subsets written
 * under `scratchDir` and removed), in lanes like {@linkcode trainSeeds}. Returns the points in
 * the order of sizes, then seeds; once `ctx.signal` is aborted, those finished by then.
 *
 * @example
 * ```ts
 * const points = await trainDataSizePoints(ctx, [20, 40, 80], [42], "out/.subsets", {
 *   lanes: 2,
 *   backend: "wasm",
 * });
 * ```
 */
export async function trainDataSizePoints(
  ctx: SeedContext,
  sizes: readonly number[],
  seeds: readonly number[],
  scratchDir: string,
  options: TrainSeedsOptions,
): Promise<DataSizePoint[]> {
  const jobs: LaneJob[] = sizes.flatMap((perClass) =>
    seeds.map((seed) => ({ type: "size" as const, perClass, seed, scratchDir }))
  );
  const results = await runJobs(ctx, jobs, options);
  return results.flatMap((r) => r?.type === "size" ? r.points : []);
}

/** Runs `jobs` here or in lanes; result `i` belongs to job `i` (undefined: not finished). */
async function runJobs(
  ctx: SeedContext,
  jobs: readonly LaneJob[],
  options: TrainSeedsOptions,
): Promise<(LaneResult | undefined)[]> {
  const results: (LaneResult | undefined)[] = jobs.map(() => undefined);
  const lanes = Math.min(options.lanes, jobs.length);
  if (lanes <= 1) {
    for (const [i, job] of jobs.entries()) {
      if (ctx.signal?.aborted) break;
      const result: LaneResult = job.type === "seed"
        ? { type: "seed", run: await trainSeed(ctx, job.seed) }
        : {
          type: "size",
          points: await trainDataSizePoint(ctx, job.perClass, job.seed, job.scratchDir),
        };
      if (ctx.signal?.aborted) break; // a job stopped midway is not a result
      results[i] = result;
    }
    return results;
  }
  if (ctx.signal?.aborted) return results;
  const init: LaneInit = {
    type: "init",
    backend: options.backend,
    dataDir: ctx.dataDir,
    config: ctx.config,
    base: ctx.base === null ? null : baseRecipe(ctx.base, ctx),
    features: ctx.features,
    testList: ctx.testList,
  };
  const workers: Worker[] = [];
  let started = 0;
  let done = 0;
  let onAbort: (() => void) | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      let finished = false;
      const end = (error?: unknown) => {
        if (finished) return;
        finished = true;
        if (error === undefined) resolve();
        else reject(error);
      };
      onAbort = () => end(); // the jobs finished so far are returned
      ctx.signal?.addEventListener("abort", onAbort, { once: true });
      const next = (worker: Worker) => {
        if (started < jobs.length) {
          worker.postMessage({ type: "run", index: started, job: jobs[started] } as LaneRun);
          started++;
        } else if (done === jobs.length) end();
      };
      for (let k = 0; k < lanes; k++) {
        const worker = new Worker(new URL("./_seed_worker.ts", import.meta.url).href, {
          type: "module",
        });
        workers.push(worker);
        worker.addEventListener("message", (event: MessageEvent<LaneReply>) => {
          const reply = event.data;
          if (finished) return;
          if (reply.type === "ready") next(worker);
          else if (reply.type === "line") ctx.log(reply.line);
          else if (reply.type === "done") {
            results[reply.index] = reply.result;
            done++;
            next(worker);
          } else {
            const job = reply.index === null ? null : jobs[reply.index];
            const what = job === null
              ? "A seed lane failed to start"
              : job.type === "seed"
              ? `Seed ${job.seed} failed`
              : `${job.perClass} images per class with seed ${job.seed} failed`;
            end(new SeedLaneError(`${what} in its Worker: ${reply.message}`));
          }
        });
        worker.addEventListener("error", (event: ErrorEvent) => {
          event.preventDefault();
          end(new SeedLaneError(`A seed lane's Worker crashed: ${event.message}`));
        });
        worker.postMessage(init);
      }
    });
  } finally {
    if (onAbort) ctx.signal?.removeEventListener("abort", onAbort);
    for (const w of workers) w.terminate();
  }
  return results;
}

/** What a lane needs to build the same base: its name, weights and input preparation. */
function baseRecipe(base: PretrainedBase, ctx: SeedContext): BaseRecipe {
  return {
    name: base.name as BaseName,
    weights: base.weightsSource.startsWith("none") ? "none" : base.weightsSource,
    inputShape: [...base.inputShape] as [number, number, number],
    preprocessing: ctx.config.transfer?.preprocessing ?? "rescale",
    cacheDir: ctx.config.cacheDir,
  };
}
