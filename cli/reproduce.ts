/**
 * `deno task reproduce`: the whole article, headless. See `lib/experiment/reproduce.ts`.
 *
 * Ctrl-C (SIGINT) or SIGTERM stops the run at the next batch: the output folder keeps its
 * previous run, the attempt is recorded as interrupted, and the exit code is 130 or 143. A
 * second signal exits at once.
 *
 * @module
 */
import {
  backendRequestFromEnv,
  ConfigError,
  type InterruptSignal,
  parseBackendRequest,
  parseExperimentConfig,
  projectPaths,
  reproduce,
  RunInterruptedError,
} from "../lib/mod.ts";
import { checkPathFlag, oneOf, parseFlags, UsageError } from "./_args.ts";
import { runMain } from "./_main.ts";

const USAGE = `usage: deno task reproduce [options]

Runs the article end to end: baseline CNN, charts, diagnosis, transfer learning on a frozen
pretrained base, predictions on the unseen test images, report. Every option can also be set
through the environment variable in brackets (the flag wins).

  --quick              smoke run (2 epochs x 2 steps); for tests [CARPLANE_QUICK]
  --data DIR           dataset in the article's layout (default data/, filled when empty: the
                       article's images, else CIFAR-10, else the sample in assets/datasets/)
                       [CARPLANE_DATA_DIR]
  --out DIR            where outputs go (default outputs/) [CARPLANE_OUTPUTS_DIR]
  --epochs N           epochs, 1 to 10000 (default 30) [CARPLANE_EPOCHS]
  --steps N            steps per epoch, 1 to 100000 (default 30) [CARPLANE_STEPS]
  --batch N            batch size, 1 to 4096 (default 32) [CARPLANE_BATCH]
  --seed N             seed for weights, shuffling and augmentation, 0 to 2^53 (default 42)
                       [CARPLANE_SEED]
  --backend B          auto | node | wasm | cpu (default auto) [CARPLANE_BACKEND]
  --base B             vgg16 | mobilenet | none (default: vgg16 when Keras' ImageNet weights
                       can be had, else the MobileNet v1 0.25 in assets/models/) [CARPLANE_BASE]
  --weights PATH|URL   weights of the base (VGG16 .h5 file; MobileNet layers-model folder,
                       default the one in assets/models/) [CARPLANE_WEIGHTS]
  --mode M             features (default: train the head on cached features) | augmented
                       [CARPLANE_MODE]
  --head-lr X          Adam learning rate of the transfer head (default 0.0001)
                       [CARPLANE_HEAD_LR]
  --preprocessing P    rescale (default, the article) | vgg16 (Keras' preprocess_input)
                       [CARPLANE_PREPROCESSING]
  --threads N          1 or 2 (default 2: a Worker for the second core) [CARPLANE_THREADS]
  --cache-dir DIR      download cache (default ~/.cache/carplane) [CARPLANE_CACHE_DIR]
  --strict             stop on unreadable images instead of skipping them [CARPLANE_STRICT]

Beyond the article:
  --seeds N|LIST       train every model with N seeds (from --seed on, at most 100) or the
                       seeds listed (e.g. 1,2,7); report mean, sd, min, max and the article's
                       claims counted over seeds [CARPLANE_SEEDS]
  --fine-tune          fine-tune the base's top block after the transfer head: a third model
                       [CARPLANE_FINE_TUNE]
  --fine-tune-lr X     Adam learning rate of fine-tuning (default 0.00001)
                       [CARPLANE_FINE_TUNE_LR]
  --fine-tune-epochs N epochs of fine-tuning, 1 to 10000 (default 10)
                       [CARPLANE_FINE_TUNE_EPOCHS]
  --train-per-class L  also train baseline and transfer on L training images per class (e.g.
                       20,40,80): val accuracy against data size [CARPLANE_TRAIN_PER_CLASS]

The run is written beside --out and moved in only when complete: a failed or interrupted run
(Ctrl-C) leaves the previous one whole. One run at a time per --out.`;

async function main(args: string[]): Promise<void> {
  const { flags } = parseFlags(args, {
    quick: { type: "boolean" },
    data: { type: "string" },
    out: { type: "string" },
    epochs: { type: "string" },
    steps: { type: "string" },
    batch: { type: "string" },
    seed: { type: "string" },
    backend: { type: "string" },
    base: { type: "string" },
    weights: { type: "string" },
    mode: { type: "string" },
    preprocessing: { type: "string" },
    "head-lr": { type: "string" },
    threads: { type: "string" },
    "cache-dir": { type: "string" },
    strict: { type: "boolean" },
    seeds: { type: "string" },
    "fine-tune": { type: "boolean" },
    "fine-tune-lr": { type: "string" },
    "fine-tune-epochs": { type: "string" },
    "train-per-class": { type: "string" },
    help: { type: "boolean", short: "h" },
  }, USAGE);
  if (flags.help) {
    console.log(USAGE);
    return;
  }
  // Every flag is checked here, before any work: a bad value must not surface after training.
  let config;
  try {
    config = parseExperimentConfig({ flags, env: (name) => Deno.env.get(name) });
  } catch (error) {
    if (error instanceof ConfigError && error.setting.startsWith("--")) {
      throw new UsageError(error.message, USAGE);
    }
    throw error;
  }
  const backend = oneOf(
    flags.backend,
    ["auto", "node", "wasm", "cpu"] as const,
    "--backend",
    USAGE,
  );
  const dataDir = await checkPathFlag(flags.data, "--data", "dir", USAGE);
  const outDir = await checkPathFlag(flags.out, "--out", "dir", USAGE);
  await checkPathFlag(flags["cache-dir"], "--cache-dir", "dir", USAGE);
  const weights = flags.weights;
  if (typeof weights === "string" && !/^https?:\/\//i.test(weights)) {
    await checkPathFlag(weights.replace(/^file:\/\//i, ""), "--weights", "existing", USAGE);
  }
  const paths = projectPaths();
  const controller = new AbortController();
  const stopOn = (signal: InterruptSignal) => () => {
    if (controller.signal.aborted) {
      console.error(`\n${signal} again: exiting now.`);
      Deno.exit(new RunInterruptedError(signal).exitCode);
    }
    console.error(
      `\n${signal}: stopping at the next batch (the previous run in the output folder is ` +
        "kept). Send it again to exit at once.",
    );
    controller.abort(new RunInterruptedError(signal));
  };
  const listeners = (["SIGINT", "SIGTERM"] as const)
    .filter((s) => Deno.build.os !== "windows" || s === "SIGINT")
    .map((s) => [s, stopOn(s)] as const);
  for (const [s, listener] of listeners) Deno.addSignalListener(s, listener);
  try {
    await reproduce({
      dataDir: dataDir ?? paths.data,
      fetchData: dataDir === undefined,
      outDir: outDir ?? paths.outputs,
      config,
      backend: backend === undefined ? backendRequestFromEnv() : parseBackendRequest(backend),
      command: ["deno task reproduce", ...args].join(" "),
      signal: controller.signal,
    });
  } finally {
    for (const [s, listener] of listeners) Deno.removeSignalListener(s, listener);
  }
}

if (import.meta.main) await runMain(() => main(Deno.args));
