/**
 * `deno task bench`: images per second of the article's models and the article's epoch time on
 * each TensorFlow.js backend, on one thread and data-parallel on every core, beside the Keras
 * and PyTorch peers on this machine, every figure also as a ratio to Keras'.
 *
 * ```
 * deno task bench [--json] [--backend auto|wasm|cpu|node ...] [--workers N] [--quick]
 *                 [--anchor PATH] [--python PATH] [--keras-python PATH] [--no-keras]
 *                 [--article-epochs N] [--scale] [--data DIR] [--scale-sizes LIST]
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BackendRequest, parseBackendRequest, projectPaths } from "../lib/mod.ts";
import {
  benchReportJson,
  defaultAnchorPath,
  defaultKerasDir,
  formatBenchTable,
  measureScalePoint,
  runBench,
} from "../tools/bench/mod.ts";
import { UsageError } from "./_args.ts";

const USAGE = `Usage: deno task bench [options]

  --json               print one JSON object instead of the table
  --backend NAME       auto, wasm, cpu or node; repeat or comma-separate (default: node,wasm,cpu,
                       each one that can run; cpu alone takes about 5 minutes)
  --workers N          Workers beside the main thread for the data-parallel figures
                       (default: cores - 1)
  --quick              one timed call per figure (smoke run)
  --anchor PATH        the PyTorch anchor (default: ../shared/bench/pytorch_anchor.py)
  --python PATH        python with torch (default: /usr/bin/python3)
  --no-anchor          do not run the PyTorch anchor
  --keras-python PATH  python with tensorflow and keras for the Keras anchor (default: the venv
                       that ../shared/bench/keras_env.sh makes once, offline)
  --no-keras           do not run the Keras anchor (no ratios to Keras)
  --article-epochs N   epochs of the article's training timed per backend and by Keras (default
                       3, the first a warm-up; 0 skips it); data: ../shared/datasets/car-plane
  --scale              also train one epoch on 160, 1000 and 4000 images (time, decode speed,
                       peak memory), each in a fresh process
  --data DIR           dataset for --scale (default: ../shared/datasets/car-plane for 160 images,
                       car-plane-large above)
  --scale-sizes LIST   comma-separated image counts for --scale (default 160,1000,4000)`;

function positiveInts(value: string, flag: string): number[] {
  const list = value.split(",").map((v) => Number(v.trim()));
  if (list.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new UsageError(`${flag} takes positive whole numbers, got "${value}".`, USAGE);
  }
  return list;
}

async function main(args: string[]): Promise<void> {
  let values;
  try {
    values = parseArgs({
      args,
      strict: true,
      options: {
        json: { type: "boolean" },
        backend: { type: "string", multiple: true },
        workers: { type: "string" },
        quick: { type: "boolean" },
        anchor: { type: "string" },
        python: { type: "string" },
        "no-anchor": { type: "boolean" },
        "keras-python": { type: "string" },
        "no-keras": { type: "boolean" },
        "article-epochs": { type: "string" },
        scale: { type: "boolean" },
        data: { type: "string" },
        "scale-sizes": { type: "string" },
        "scale-point": { type: "string" }, // internal: one scaling point, in a fresh process
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error), USAGE);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const requests: BackendRequest[] = (values.backend ?? ["node,wasm,cpu"])
    .flatMap((v) => v.split(","))
    .map((v) => {
      try {
        return parseBackendRequest(v);
      } catch (error) {
        throw new UsageError(error instanceof Error ? error.message : String(error), USAGE);
      }
    });
  const workers = values.workers === undefined
    ? undefined
    : positiveInts(values.workers, "--workers")[0];
  const paths = projectPaths();
  const shared = join(paths.root, "..", "shared", "datasets");

  if (values["scale-point"] !== undefined) {
    const images = positiveInts(values["scale-point"], "--scale-point")[0];
    const backend = requests[0];
    const point = await measureScalePoint({
      data: values.data ?? join(shared, "car-plane-large"),
      images,
      backend: backend === "auto" ? "wasm" : backend,
      workers: workers ?? 1,
    });
    console.log(JSON.stringify(point));
    return;
  }

  const script = fileURLToPath(import.meta.url);
  const articleEpochs = values["article-epochs"] === undefined
    ? (values.quick ? 2 : 3)
    : Number(values["article-epochs"]);
  if (!Number.isInteger(articleEpochs) || articleEpochs < 0 || articleEpochs === 1) {
    throw new UsageError(
      `--article-epochs takes 0 (skip) or a whole number of at least 2 (the first is a warm-up), ` +
        `got "${values["article-epochs"]}".`,
      USAGE,
    );
  }
  const articleData = join(shared, "car-plane");
  const article = articleEpochs === 0
    ? null
    : { data: articleData, epochs: articleEpochs, stepsPerEpoch: values.quick ? 3 : 30 };
  const sizes = values["scale-sizes"] !== undefined
    ? positiveInts(values["scale-sizes"], "--scale-sizes")
    : values.quick
    ? [160, 320]
    : [160, 1000, 4000];
  const report = await runBench({
    backends: requests,
    quick: values.quick ?? false,
    workers,
    anchor: values["no-anchor"] ? null : {
      path: values.anchor ?? defaultAnchorPath(paths.root),
      python: values.python,
      seconds: values.quick ? 1 : undefined,
    },
    keras: values["no-keras"] ? null : {
      dir: defaultKerasDir(paths.root),
      python: values["keras-python"],
      data: article === null ? null : article.data,
      epochs: article?.epochs,
      steps: article?.stepsPerEpoch,
      seconds: values.quick ? 1 : undefined,
    },
    article,
    scale: values.scale
      ? {
        sizes,
        data: (images) =>
          values.data ?? join(shared, images <= 160 ? "car-plane" : "car-plane-large"),
        command: ({ images, data, backend, workers }) => ({
          command: Deno.execPath(),
          cwd: paths.root,
          args: [
            "run",
            "-A",
            script,
            "--scale-point",
            String(images),
            "--data",
            data,
            "--backend",
            backend,
            "--workers",
            String(workers),
          ],
        }),
      }
      : null,
    log: (line) => console.error(line),
  });
  if (values.json) console.log(JSON.stringify(benchReportJson(report), null, 2));
  else console.log(formatBenchTable(report));
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (error) {
    console.error(error instanceof UsageError ? error.message : error);
    Deno.exit(error instanceof UsageError ? 2 : 1);
  }
}
