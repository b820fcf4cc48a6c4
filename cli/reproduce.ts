/**
 * `deno task reproduce`: the whole article, headless. See `lib/experiment/reproduce.ts`.
 *
 * @module
 */
import {
  backendRequestFromEnv,
  type BaseName,
  experimentConfig,
  parseBackendRequest,
  projectPaths,
  reproduce,
} from "../lib/mod.ts";
import { integer, oneOf, parseFlags, positiveInt, positiveNumber } from "./_args.ts";
import { runMain } from "./_main.ts";

const USAGE = `usage: deno task reproduce [options]

Runs the article end to end: baseline CNN, charts, diagnosis, transfer learning on a frozen
pretrained base, predictions on the unseen test images, report.

  --quick              smoke run (2 epochs x 2 steps); for tests
  --data DIR           dataset in the article's layout (default data/; fetched when empty)
  --out DIR            where outputs go (default outputs/)
  --epochs N           epochs (default 30)
  --steps N            steps per epoch (default 30)
  --batch N            batch size (default 32)
  --seed N             seed for weights, shuffling and augmentation (default 42)
  --backend B          auto | node | wasm | cpu (default auto, or $CARPLANE_BACKEND)
  --base B             vgg16 | mobilenet | none (default vgg16)
  --weights PATH|URL   weights of the base (VGG16 .h5 file; MobileNet layers-model folder)
  --mode M             features (default: train the head on cached features) | augmented
  --head-lr X          Adam learning rate of the transfer head (default 0.0001)
  --preprocessing P    rescale (default, the article) | vgg16 (Keras' preprocess_input)
  --threads N          1 or 2 (default 2: a Worker for the second core)
  --cache-dir DIR      download cache (default $CARPLANE_CACHE_DIR or ~/.cache/carplane)
  --strict             stop on unreadable images instead of skipping them`;

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
    help: { type: "boolean", short: "h" },
  }, USAGE);
  if (flags.help) {
    console.log(USAGE);
    return;
  }
  const paths = projectPaths();
  const config = experimentConfig({
    quick: flags.quick ? true : undefined,
    epochs: positiveInt(flags.epochs, "--epochs", USAGE),
    stepsPerEpoch: positiveInt(flags.steps, "--steps", USAGE),
    batchSize: positiveInt(flags.batch, "--batch", USAGE),
    seed: integer(flags.seed, "--seed", USAGE),
  });
  const threads = positiveInt(flags.threads, "--threads", USAGE) ?? 2;
  const base = oneOf(flags.base, ["vgg16", "mobilenet", "none"] as BaseName[], "--base", USAGE);
  await reproduce({
    dataDir: (flags.data as string | undefined) ?? paths.data,
    fetchData: flags.data === undefined,
    outDir: (flags.out as string | undefined) ?? paths.outputs,
    config,
    backend: flags.backend === undefined
      ? backendRequestFromEnv()
      : parseBackendRequest(flags.backend as string),
    base: base ?? "vgg16",
    baseExplicit: base !== undefined,
    weights: flags.weights as string | undefined,
    mode: oneOf(flags.mode, ["features", "augmented"] as const, "--mode", USAGE) ?? "features",
    preprocessing:
      oneOf(flags.preprocessing, ["rescale", "vgg16"] as const, "--preprocessing", USAGE) ??
        "rescale",
    headLearningRate: positiveNumber(flags["head-lr"], "--head-lr", USAGE),
    parallel: threads > 1,
    cacheDir: flags["cache-dir"] as string | undefined,
    strict: flags.strict === true,
    command: ["deno task reproduce", ...args].join(" "),
  });
}

if (import.meta.main) await runMain(() => main(Deno.args));
