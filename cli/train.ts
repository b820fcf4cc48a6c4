/**
 * `deno task train --data DIR`: the article's experiment on your own images, any number of
 * classes. See `lib/experiment/train.ts`.
 *
 * @module
 */
import { join } from "node:path";
import {
  backendRequestFromEnv,
  type BaseName,
  experimentConfig,
  parseBackendRequest,
  projectPaths,
  train,
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

const USAGE = `usage: deno task train --data DIR [options]

Trains a classifier on your own images, any number of classes (one subfolder of images per
class), and writes the model (for deno task predict), its history, charts, predictions, a
confusion matrix with per-class precision and recall, a Grad-CAM sheet and a report.

DIR is either one folder of class folders, with --validation-split, or the article's layout:
training_set/ and val_set/ (or --validation-split), and optionally test/.

  --data DIR             the images (required)
  --validation-split F   hold out the first F (0 < F < 1) of each class's sorted images for
                         validation (Keras' validation_split), e.g. 0.2
  --test DIR             a test folder of class folders (default DIR/test/ when present)
  --base B               none (default: the article's baseline CNN) | mobilenet | vgg16: a
                         head on a frozen pretrained base
  --weights PATH|URL     weights of the base (VGG16 .h5 file; MobileNet layers-model folder)
  --class-weight W       balanced: weigh each class by n / (K * n_class) (Keras' class_weight)
  --out DIR              where outputs go (default outputs/train/)
  --epochs N             epochs, 1 to 10000 (default 30)
  --steps N              steps per epoch, 1 to 100000 (default 30)
  --batch N              batch size, 1 to 4096 (default 32)
  --size N               image edge in pixels, 16 to 512 (default 64)
  --seed N               seed for weights, shuffling and augmentation, 0 to 2^53 (default 42)
  --head-lr X            Adam learning rate of the transfer head (default 0.0001)
  --backend B            auto | node | wasm | cpu (default auto, or $CARPLANE_BACKEND)
  --threads N            1 or 2 (default 2: a Worker for the second core)
  --cache-dir DIR        download cache (default $CARPLANE_CACHE_DIR or ~/.cache/carplane)
  --quick                smoke run (2 epochs x 2 steps); for tests
  --strict               stop on unreadable images instead of skipping them`;

const MAX_EPOCHS = 10_000;
const MAX_STEPS = 100_000;
const MAX_BATCH = 4096;

async function main(args: string[]): Promise<void> {
  const { flags } = parseFlags(args, {
    data: { type: "string" },
    "validation-split": { type: "string" },
    test: { type: "string" },
    base: { type: "string" },
    weights: { type: "string" },
    "class-weight": { type: "string" },
    out: { type: "string" },
    epochs: { type: "string" },
    steps: { type: "string" },
    batch: { type: "string" },
    size: { type: "string" },
    seed: { type: "string" },
    "head-lr": { type: "string" },
    backend: { type: "string" },
    threads: { type: "string" },
    "cache-dir": { type: "string" },
    quick: { type: "boolean" },
    strict: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  }, USAGE);
  if (flags.help) {
    console.log(USAGE);
    return;
  }
  // Every flag is checked here, before any work: a bad value must not surface after training.
  if (flags.data === undefined) {
    throw new UsageError("--data DIR is required: the folder of your images.", USAGE);
  }
  const size = intInRange(flags.size, "--size", USAGE, 16, 512);
  const config = experimentConfig({
    quick: flags.quick ? true : undefined,
    epochs: positiveInt(flags.epochs, "--epochs", USAGE, MAX_EPOCHS),
    stepsPerEpoch: positiveInt(flags.steps, "--steps", USAGE, MAX_STEPS),
    batchSize: positiveInt(flags.batch, "--batch", USAGE, MAX_BATCH),
    seed: integer(flags.seed, "--seed", USAGE),
    targetSize: size === undefined ? undefined : [size, size],
  });
  const validationSplit = positiveNumber(
    flags["validation-split"],
    "--validation-split",
    USAGE,
    0.99,
  );
  const threads = intInRange(flags.threads, "--threads", USAGE, 1, 2) ?? 2;
  const base = oneOf(flags.base, ["none", "mobilenet", "vgg16"] as BaseName[], "--base", USAGE) ??
    "none";
  const classWeight = oneOf(flags["class-weight"], ["balanced"] as const, "--class-weight", USAGE);
  const backend = oneOf(
    flags.backend,
    ["auto", "node", "wasm", "cpu"] as const,
    "--backend",
    USAGE,
  );
  const headLearningRate = positiveNumber(flags["head-lr"], "--head-lr", USAGE);
  if (base === "none" && flags.weights !== undefined) {
    throw new UsageError(
      `--weights ${flags.weights} is for a pretrained base, but --base none trains the ` +
        "baseline CNN. Drop --weights, or choose --base mobilenet or --base vgg16.",
      USAGE,
    );
  }
  const dataDir = (await checkPathFlag(flags.data, "--data", "existing-dir", USAGE))!;
  const testDir = await checkPathFlag(flags.test, "--test", "existing-dir", USAGE);
  const outDir = await checkPathFlag(flags.out, "--out", "dir", USAGE);
  const cacheDir = await checkPathFlag(flags["cache-dir"], "--cache-dir", "dir", USAGE);
  const weights = flags.weights;
  if (typeof weights === "string" && !/^https?:\/\//i.test(weights)) {
    await checkPathFlag(weights.replace(/^file:\/\//i, ""), "--weights", "existing", USAGE);
  }
  await train({
    dataDir,
    validationSplit,
    testDir,
    outDir: outDir ?? join(projectPaths().outputs, "train"),
    config,
    backend: backend === undefined ? backendRequestFromEnv() : parseBackendRequest(backend),
    base,
    weights: weights as string | undefined,
    classWeight,
    headLearningRate,
    parallel: threads > 1,
    cacheDir,
    strict: flags.strict === true,
    command: ["deno task train", ...args].join(" "),
  });
}

if (import.meta.main) await runMain(() => main(Deno.args));
