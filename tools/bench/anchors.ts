/**
 * The peers `deno task bench` measures beside tfjs, on the same machine in the same run: the
 * PyTorch anchor (`../shared/bench/pytorch_anchor.py`, Debian's python3-torch) and the Keras
 * anchor (`../shared/bench/keras_bench.py` and `keras_article.py` in the venv that
 * `../shared/bench/keras_env.sh` makes offline), Keras being the tool the article's readers use.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { BENCH_METRICS, BenchError, type BenchMetric } from "./measure.ts";

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

/** The Keras peer's figures (Keras 3 / TensorFlow CPU), or why there are none. */
export type KerasResult =
  | {
    found: true;
    /** The venv's python that ran the anchors. */
    python: string;
    /** `keras 3.15.1 / tf 2.21.0`. */
    peer: string;
    threads: number;
    /** keras_bench.py's train-step and VGG16 figures. */
    metrics: Record<BenchMetric, number>;
    /** keras_article.py's epoch: median seconds of the epochs after the first, or why none. */
    article: { medianEpochSeconds: number; epochs: number } | { missing: string };
  }
  | { found: false; reason: string };

/** Options for {@linkcode runKerasAnchor}. */
export interface KerasOptions {
  /** The folder holding keras_env.sh, keras_bench.py, keras_article.py (`../shared/bench`). */
  dir: string;
  /** A python with tensorflow and keras; default: the one `keras_env.sh` prints (made once). */
  python?: string;
  /** The dataset root for keras_article.py; `null` skips the article epoch. */
  data: string | null;
  /** Epochs of keras_article.py (the first is a warm-up; default 3). */
  epochs?: number;
  /** Steps per epoch for keras_article.py (default 30, the article's). */
  steps?: number;
  /** Seconds per keras_bench.py figure (its default is 5). */
  seconds?: number;
  /** TensorFlow's intra-op threads (default 2, every core here). */
  threads?: number;
}

async function runPython(python: string, args: string[]): Promise<
  { ok: true; json: Record<string, unknown> } | { ok: false; reason: string }
> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(python, {
      args,
      env: { TF_CPP_MIN_LOG_LEVEL: "3" },
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).output();
  } catch (error) {
    return { ok: false, reason: `${python} could not be started (${error})` };
  }
  const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
  if (!output.success) {
    const stderr = new TextDecoder().decode(output.stderr).trim().split("\n").at(-1);
    return { ok: false, reason: `${args[0]} failed: ${stderr ?? `exit ${output.code}`}` };
  }
  try {
    return { ok: true, json: JSON.parse(lines.at(-1) ?? "") };
  } catch {
    return { ok: false, reason: `${args[0]} printed no JSON: ${lines.at(-1)}` };
  }
}

/**
 * The Keras venv's python: `keras_env.sh` in `dir` creates it once (offline, from pip's local
 * index) and prints its path last.
 *
 * @example
 * ```ts
 * await kerasPython("../shared/bench"); // "/root/.cache/keras-anchor-venv/bin/python"
 * ```
 */
export async function kerasPython(dir: string): Promise<string> {
  const script = join(dir, "keras_env.sh");
  if (!existsSync(script)) {
    throw new BenchError(`The Keras environment script ${script} does not exist.`, {
      hint: "Pass --keras-python PATH (a python with tensorflow and keras) or --no-keras.",
    });
  }
  const out = await new Deno.Command("bash", {
    args: [script],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  const last = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
  if (!out.success || last === "") {
    const stderr = new TextDecoder().decode(out.stderr).trim().split("\n").at(-1);
    throw new BenchError(`${script} could not make the Keras venv: ${stderr ?? out.code}`, {
      hint: "Pass --keras-python PATH or --no-keras.",
    });
  }
  return last;
}

/**
 * Runs the Keras peer on this machine: `keras_bench.py` (train step, VGG16 forward) and, with
 * `data`, `keras_article.py` (the article's epoch with Keras' own ImageDataGenerator). A missing
 * venv, script or failing run gives `found: false` with the reason.
 *
 * @example
 * ```ts
 * const keras = await runKerasAnchor({ dir: "../shared/bench", data: "../shared/datasets/car-plane" });
 * if (keras.found) console.log(keras.metrics.baseline_train_img_per_s);
 * ```
 */
export async function runKerasAnchor(options: KerasOptions): Promise<KerasResult> {
  let python: string;
  try {
    python = options.python ?? await kerasPython(options.dir);
  } catch (error) {
    return { found: false, reason: error instanceof Error ? error.message : String(error) };
  }
  const threads = options.threads ?? 2;
  const bench = join(options.dir, "keras_bench.py");
  if (!existsSync(bench)) return { found: false, reason: `${bench} does not exist` };
  const figures = await runPython(python, [
    bench,
    "--threads",
    String(threads),
    ...(options.seconds !== undefined ? ["--seconds", String(options.seconds)] : []),
  ]);
  if (!figures.ok) return { found: false, reason: figures.reason };
  const metrics = {} as Record<BenchMetric, number>;
  for (const name of BENCH_METRICS) {
    const value = figures.json[`keras_${name}`];
    if (typeof value !== "number") {
      return { found: false, reason: `keras_bench.py printed no keras_${name}` };
    }
    metrics[name] = value;
  }
  let article: { medianEpochSeconds: number; epochs: number } | { missing: string } = {
    missing: "not run (no dataset)",
  };
  if (options.data !== null) {
    const epochs = options.epochs ?? 3;
    const run = await runPython(python, [
      join(options.dir, "keras_article.py"),
      options.data,
      "--epochs",
      String(epochs),
      "--steps",
      String(options.steps ?? 30),
      "--threads",
      String(threads),
    ]);
    article = run.ok && typeof run.json.median_epoch_s === "number"
      ? { medianEpochSeconds: run.json.median_epoch_s, epochs }
      : { missing: run.ok ? "keras_article.py printed no median_epoch_s" : run.reason };
  }
  return {
    found: true,
    python,
    peer: `keras ${figures.json.keras} / tf ${figures.json.tf}`,
    threads,
    metrics,
    article,
  };
}

/**
 * The Keras scripts' default folder: `../shared/bench` beside the project.
 *
 * @example
 * ```ts
 * defaultKerasDir("/work/main"); // "/work/shared/bench"
 * ```
 */
export function defaultKerasDir(projectRoot: string): string {
  return join(projectRoot, "..", "shared", "bench");
}
