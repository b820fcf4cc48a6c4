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
import {
  checkPathFlag,
  integer,
  intInRange,
  oneOf,
  parseFlags,
  positiveInt,
  positiveNumber,
  UsageError,
} from "./_args.ts";
import { runMain } from "./_main.ts";

const USAGE = `usage: deno task reproduce [options]

Runs the article end to end: baseline CNN, charts, diagnosis, transfer learning on a frozen
pretrained base, predictions on the unseen test images, report.

  --quick              smoke run (2 epochs x 2 steps); for tests
  --data DIR           dataset in the article's layout (default data/, filled when empty: the
                       article's images, else CIFAR-10, else the sample in assets/datasets/)
  --out DIR            where outputs go (default outputs/)
  --epochs N           epochs, 1 to 10000 (default 30)
  --steps N            steps per epoch, 1 to 100000 (default 30)
  --batch N            batch size, 1 to 4096 (default 32)
  --seed N             seed for weights, shuffling and augmentation, 0 to 2^53 (default 42)
  --backend B          auto | node | wasm | cpu (default auto, or $CARPLANE_BACKEND)
  --base B             vgg16 | mobilenet | none (default: vgg16 when Keras' ImageNet weights
                       can be had, else the MobileNet v1 0.25 in assets/models/)
  --weights PATH|URL   weights of the base (VGG16 .h5 file; MobileNet layers-model folder,
                       default the one in assets/models/)
  --mode M             features (default: train the head on cached features) | augmented
  --head-lr X          Adam learning rate of the transfer head (default 0.0001)
  --preprocessing P    rescale (default, the article) | vgg16 (Keras' preprocess_input)
  --threads N          1 or 2 (default 2: a Worker for the second core)
  --cache-dir DIR      download cache (default $CARPLANE_CACHE_DIR or ~/.cache/carplane)
  --strict             stop on unreadable images instead of skipping them`;

/** Upper bounds of the numeric flags: beyond them a run would not end in a day on any machine. */
const MAX_EPOCHS = 10_000;
const MAX_STEPS = 100_000;
const MAX_BATCH = 4096;

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
  // Every flag is checked here, before any work: a bad value must not surface after training.
  const paths = projectPaths();
  const config = experimentConfig({
    quick: flags.quick ? true : undefined,
    epochs: positiveInt(flags.epochs, "--epochs", USAGE, MAX_EPOCHS),
    stepsPerEpoch: positiveInt(flags.steps, "--steps", USAGE, MAX_STEPS),
    batchSize: positiveInt(flags.batch, "--batch", USAGE, MAX_BATCH),
    seed: integer(flags.seed, "--seed", USAGE),
  });
  const threads = intInRange(flags.threads, "--threads", USAGE, 1, 2) ?? 2;
  const base = oneOf(flags.base, ["vgg16", "mobilenet", "none"] as BaseName[], "--base", USAGE);
  const backend = oneOf(
    flags.backend,
    ["auto", "node", "wasm", "cpu"] as const,
    "--backend",
    USAGE,
  );
  const mode = oneOf(flags.mode, ["features", "augmented"] as const, "--mode", USAGE);
  const preprocessing = oneOf(
    flags.preprocessing,
    ["rescale", "vgg16"] as const,
    "--preprocessing",
    USAGE,
  );
  const headLearningRate = positiveNumber(flags["head-lr"], "--head-lr", USAGE);
  if (base === "none" && flags.weights !== undefined) {
    throw new UsageError(
      `--weights ${flags.weights} is for a pretrained base, but --base none trains no transfer ` +
        "model. Drop --weights, or choose --base vgg16 or --base mobilenet.",
      USAGE,
    );
  }
  const dataDir = await checkPathFlag(flags.data, "--data", "dir", USAGE);
  const outDir = await checkPathFlag(flags.out, "--out", "dir", USAGE);
  const cacheDir = await checkPathFlag(flags["cache-dir"], "--cache-dir", "dir", USAGE);
  const weights = flags.weights;
  if (typeof weights === "string" && !/^https?:\/\//i.test(weights)) {
    await checkPathFlag(weights.replace(/^file:\/\//i, ""), "--weights", "existing", USAGE);
  }
  await reproduce({
    dataDir: dataDir ?? paths.data,
    fetchData: dataDir === undefined,
    outDir: outDir ?? paths.outputs,
    config,
    backend: backend === undefined ? backendRequestFromEnv() : parseBackendRequest(backend),
    base: base ?? "vgg16",
    baseExplicit: base !== undefined,
    weights: weights as string | undefined,
    mode: mode ?? "features",
    preprocessing: preprocessing ?? "rescale",
    headLearningRate,
    parallel: threads > 1,
    cacheDir,
    strict: flags.strict === true,
    command: ["deno task reproduce", ...args].join(" "),
  });
}

if (import.meta.main) await runMain(() => main(Deno.args));
