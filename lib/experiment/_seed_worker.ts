/**
 * A seed lane of `seed_pool.ts`: a Worker with its own TensorFlow.js and backend (one thread),
 * which rebuilds the pretrained base once (`init`) and then trains every model of each seed it
 * is sent (`run`) with `trainSeed`, posting the log and per-epoch lines as it goes and the
 * seed's Histories at the end. Any error becomes an `error` reply carrying its message.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { LaneInit, LaneReply, LaneResult, LaneRun } from "./_seed_protocol.ts";
import { type SeedContext, trainDataSizePoint, trainSeed } from "./seed_runs.ts";
import type { EpochSummary } from "../training/progress.ts";

/** The part of a Worker's global scope this module uses. */
interface WorkerScope {
  addEventListener(type: "message", listener: (event: MessageEvent) => void): void;
  postMessage(message: unknown): void;
}

function serveSeedLane(scope: WorkerScope): void {
  let context: SeedContext | null = null;
  let queue: Promise<void> = Promise.resolve();
  const post = (reply: LaneReply) => scope.postMessage(reply);
  scope.addEventListener("message", (event: MessageEvent) => {
    const message = event.data as LaneInit | LaneRun;
    queue = queue.then(async () => {
      const index = message.type === "run" ? message.index : null;
      try {
        if (message.type === "init") {
          context = await initLane(message, (line) => post({ type: "line", line }));
          post({ type: "ready" });
          return;
        }
        if (context === null) throw new Error("The seed lane got a job before init.");
        const job = message.job;
        const log = (line: string) => post({ type: "line", line });
        // One line per epoch, labelled with its seed and model: two lanes print side by side.
        const progressFor = (label: string) => ({
          reporter: {
            epochBegin() {},
            batchEnd() {},
            epochEnd: (line: string, summary?: EpochSummary) =>
              log(summary ? epochLine(label, summary) : `${label}: ${line}`),
          },
          end() {},
        });
        const lane = { ...context, log, progressFor };
        const result: LaneResult = job.type === "seed"
          ? { type: "seed", run: await trainSeed(lane, job.seed) }
          : {
            type: "size",
            points: await trainDataSizePoint(lane, job.perClass, job.seed, job.scratchDir),
          };
        post({ type: "done", index: message.index, result });
      } catch (error) {
        const text = error instanceof Error
          ? (error.name && error.name !== "Error" ? `${error.name}: ` : "") + error.message
          : String(error);
        post({ type: "error", index, message: text });
      }
    });
  });
}

/** `Seed 43, baseline CNN: Epoch 5/30 - 9s - loss: 0.3100 - accuracy: 0.8625 - val_loss: ...` */
function epochLine(prefix: string, summary: EpochSummary): string {
  const values = Object.entries(summary.values).map(([k, v]) => `${k}: ${v.toFixed(4)}`);
  return `${prefix}: Epoch ${summary.epochIndex + 1}/${summary.epochs} - ` +
    `${summary.seconds.toFixed(0)}s - ${values.join(" - ")}`;
}

async function initLane(message: LaneInit, log: (line: string) => void): Promise<SeedContext> {
  if (message.backend === "cpu") {
    if (!(await tf.setBackend("cpu"))) throw new Error("The cpu backend did not initialise.");
    await tf.ready();
  } else {
    const { initBackend } = await import("../training/runtime.ts");
    await initBackend(message.backend, { log: null, skipProbe: true });
  }
  let base = null;
  if (message.base !== null) {
    const { createBase } = await import("../models/bases.ts");
    base = await createBase({
      base: message.base.name,
      weights: message.base.weights,
      inputShape: message.base.inputShape,
      preprocessing: message.base.preprocessing,
      cacheDir: message.base.cacheDir,
      log,
    });
  }
  return {
    dataDir: message.dataDir,
    config: message.config,
    base,
    features: message.features,
    testList: message.testList,
    log,
  };
}

if (typeof (globalThis as Record<string, unknown>).WorkerGlobalScope === "function") {
  serveSeedLane(globalThis as unknown as WorkerScope);
}
