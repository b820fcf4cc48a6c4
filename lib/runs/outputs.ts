/**
 * Writing outputs so that nothing is lost and nothing half-written looks finished.
 *
 * - {@linkcode atomicWriteFile} / {@linkcode atomicWriteJson}: the data goes to a temporary
 *   file in the same directory (`.<name>.<random>.tmp`), is flushed to disk, and is renamed
 *   over the target. Readers see the old file or the new one, never a partial one; on any
 *   failure the temporary file is removed and the old target is left untouched.
 * - {@linkcode ensureWritableDir}: creates an output directory and proves it is writable
 *   with a probe file, so a run fails at its start, not after an hour of training.
 * - {@linkcode startRun}: the completion protocol of a run directory.
 *
 * ## Run completion protocol
 *
 * A run directory holds two marker files:
 *
 * - `run.json`: `{ status: "running" | "complete" | "failed", started_at, finished_at?, error?,
 *   info }`, written atomically at start, at completion and at failure.
 * - `metrics.json`: the final metrics, and the one file that says "this run finished".
 *
 * `startRun` first deletes a stale `metrics.json` left by an earlier run in the same directory,
 * then writes `run.json` with `status: "running"`. Artifacts (history CSV, charts, the model)
 * are written atomically as they are produced, so whatever a run got to is kept. Only
 * `RunOutputs.complete(metrics)`, the last step of a run, writes `metrics.json` (then sets
 * `run.json` to `complete`). `RunOutputs.fail(error)` records the error in `run.json` and
 * never writes `metrics.json`. A run that is killed leaves `run.json` at `running` and no
 * `metrics.json`. Hence: **a directory has a `metrics.json` only if its last run completed**;
 * {@linkcode readRunStatus} reports both files.
 *
 * @module
 */
import { basename, dirname, join } from "node:path";
import { CarplaneError } from "../errors.ts";
import { randomSuffix } from "../_text.ts";

/** Raised when an output cannot be written; the message names the path and the fix. */
export class OutputError extends CarplaneError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "OutputError";
  }
}

/** What {@linkcode atomicWriteFile} accepts: text, bytes, or a stream of byte chunks. */
export type FileData = string | Uint8Array | AsyncIterable<Uint8Array>;

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Writes `data` to `path` atomically: into a temporary file in the same directory, flushed,
 * then renamed over `path`. The directory must exist. On failure (including an async iterable
 * that throws midway) the temporary file is removed, `path` keeps its previous content, and an
 * {@linkcode OutputError} naming `path` is thrown.
 *
 * @example
 * ```ts
 * await atomicWriteFile("outputs/history.csv", "epoch,loss\n0,0.7\n");
 * ```
 */
export async function atomicWriteFile(
  path: string,
  data: FileData,
): Promise<void> {
  const tmp = join(
    dirname(path),
    `.${basename(path)}.${randomSuffix()}.tmp`,
  );
  let file: Deno.FsFile | undefined;
  try {
    file = await Deno.open(tmp, { write: true, createNew: true, mode: 0o644 });
    if (typeof data === "string") {
      await writeAll(file, new TextEncoder().encode(data));
    } else if (data instanceof Uint8Array) {
      await writeAll(file, data);
    } else {
      for await (const chunk of data) await writeAll(file, chunk);
    }
    await file.sync();
    file.close();
    file = undefined;
    await Deno.rename(tmp, path);
  } catch (err) {
    try {
      file?.close();
    } catch { /* already closed */ }
    await Deno.remove(tmp).catch(() => {});
    if (err instanceof OutputError) throw err;
    throw new OutputError(
      `Could not write ${path}: ${describe(err)}. Check that its directory exists and is ` +
        `writable (or choose another output directory); the previous file, if any, is unchanged.`,
      { cause: err },
    );
  }
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    written += await file.write(bytes.subarray(written));
  }
}

/**
 * Serialises `value` as pretty JSON (2-space indent, trailing newline) and writes it
 * atomically. A value that cannot be serialised (a cycle, a `BigInt`) throws
 * {@linkcode OutputError} before anything is written.
 *
 * @example
 * ```ts
 * await atomicWriteJson("outputs/metrics.json", { val_accuracy: 0.91 });
 * ```
 */
export async function atomicWriteJson(
  path: string,
  value: unknown,
): Promise<void> {
  let text: string;
  try {
    text = JSON.stringify(value, null, 2) + "\n";
  } catch (err) {
    throw new OutputError(
      `Could not serialise JSON for ${path}: ${describe(err)}. Pass plain data (numbers, ` +
        `strings, arrays, objects) without cycles or BigInt.`,
      { cause: err },
    );
  }
  await atomicWriteFile(path, text);
}

/**
 * Creates `dir` (with parents) if needed and checks that files can be created in it by
 * writing and removing a probe file. Throws {@linkcode OutputError} naming `dir` otherwise.
 * Returns `dir`.
 *
 * @example
 * ```ts
 * await ensureWritableDir("outputs/baseline");
 * ```
 */
export async function ensureWritableDir(dir: string): Promise<string> {
  const existing = await Deno.stat(dir).catch(() => null);
  if (existing && !existing.isDirectory) {
    throw new OutputError(
      `Output path ${dir} exists and is not a directory. Remove it or choose another ` +
        `output directory.`,
    );
  }
  if (!existing) {
    try {
      await Deno.mkdir(dir, { recursive: true });
    } catch (err) {
      throw new OutputError(
        `Cannot create output directory ${dir}: ${describe(err)}. Choose another output ` +
          `directory, or remove whatever is in the way (a file with the name of a parent ` +
          `directory, a missing permission).`,
        { cause: err },
      );
    }
  }
  const probe = join(dir, `.write-probe-${randomSuffix()}`);
  try {
    await Deno.writeTextFile(probe, "probe", { createNew: true });
  } catch (err) {
    throw new OutputError(
      `Output directory ${dir} is not writable: ${describe(err)}. Fix its permissions or ` +
        `choose another output directory.`,
      { cause: err },
    );
  } finally {
    await Deno.remove(probe).catch(() => {});
  }
  return dir;
}

/** The status a run directory's `run.json` records. */
export type RunStatusValue = "running" | "complete" | "failed";

/** Contents of `run.json`. */
export interface RunRecord {
  status: RunStatusValue;
  /** ISO time the run started. */
  started_at: string;
  /** ISO time the run completed or failed. */
  finished_at?: string;
  /** The error message of a failed run. */
  error?: string;
  /** Whatever the caller passed to {@linkcode startRun} (command, config, ...). */
  info: Record<string, unknown>;
}

/** File names of the completion protocol. */
export const RUN_FILE = "run.json";
/** The file whose presence means the run completed. */
export const METRICS_FILE = "metrics.json";

/** A run directory in progress; see the module docs for the protocol. */
export interface RunOutputs {
  /** The run directory. */
  readonly dir: string;
  /** `join(dir, name)`. */
  path(name: string): string;
  /** Writes an artifact atomically into the run directory; returns its path. */
  writeFile(name: string, data: FileData): Promise<string>;
  /** Writes a JSON artifact atomically into the run directory; returns its path. */
  writeJson(name: string, value: unknown): Promise<string>;
  /**
   * The last step of a run: writes `metrics.json`, then marks `run.json` complete. Returns the
   * path of `metrics.json`.
   */
  complete(metrics: unknown): Promise<string>;
  /** Marks the run failed in `run.json` (keeps the artifacts; never writes `metrics.json`). */
  fail(error: unknown): Promise<void>;
}

function checkName(name: string, dir: string): void {
  if (name === METRICS_FILE || name === RUN_FILE) {
    throw new OutputError(
      `${join(dir, name)} is written by the run protocol itself; use complete(metrics) for ` +
        `${METRICS_FILE} and do not write ${RUN_FILE} directly.`,
    );
  }
}

/**
 * Starts a run in `dir`: ensures the directory is writable, deletes a stale `metrics.json`,
 * and writes `run.json` with `status: "running"`.
 *
 * @example
 * ```ts
 * const run = await startRun("outputs/baseline", { command: "reproduce --epochs 30" });
 * try {
 *   await run.writeFile("history.csv", "epoch,loss\n0,0.7\n");
 *   await run.complete({ val_accuracy: 0.91 });
 * } catch (err) {
 *   await run.fail(err);
 *   throw err;
 * }
 * ```
 */
export async function startRun(
  dir: string,
  info: Record<string, unknown> = {},
): Promise<RunOutputs> {
  await ensureWritableDir(dir);
  const metricsPath = join(dir, METRICS_FILE);
  try {
    await Deno.remove(metricsPath);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      throw new OutputError(
        `Cannot remove the stale ${metricsPath} of an earlier run: ${describe(err)}. Remove ` +
          `it by hand or choose another output directory.`,
        { cause: err },
      );
    }
  }
  const started_at = new Date().toISOString();
  const record = (
    status: RunStatusValue,
    extra: Partial<RunRecord> = {},
  ): RunRecord => ({ status, started_at, ...extra, info });
  await atomicWriteJson(join(dir, RUN_FILE), record("running"));
  const path = (name: string) => join(dir, name);
  return {
    dir,
    path,
    async writeFile(name, data) {
      checkName(name, dir);
      await atomicWriteFile(path(name), data);
      return path(name);
    },
    async writeJson(name, value) {
      checkName(name, dir);
      await atomicWriteJson(path(name), value);
      return path(name);
    },
    async complete(metrics) {
      await atomicWriteJson(metricsPath, metrics);
      await atomicWriteJson(
        path(RUN_FILE),
        record("complete", { finished_at: new Date().toISOString() }),
      );
      return metricsPath;
    },
    async fail(error) {
      await atomicWriteJson(
        path(RUN_FILE),
        record("failed", {
          finished_at: new Date().toISOString(),
          error: describe(error),
        }),
      );
    },
  };
}

/** What {@linkcode readRunStatus} finds in a run directory. */
export interface RunStatus {
  /** `true` only when `metrics.json` exists and `run.json` (if any) says `complete`. */
  complete: boolean;
  /** The `run.json` record, or `null` when there is none (or it is unreadable). */
  record: RunRecord | null;
  /** Whether `metrics.json` exists. */
  hasMetrics: boolean;
}

/**
 * Reads the completion state of a run directory (see the module docs).
 *
 * @example
 * ```ts
 * const { complete } = await readRunStatus("outputs/baseline");
 * ```
 */
export async function readRunStatus(dir: string): Promise<RunStatus> {
  let record: RunRecord | null = null;
  try {
    record = JSON.parse(await Deno.readTextFile(join(dir, RUN_FILE)));
  } catch {
    record = null;
  }
  let hasMetrics = false;
  try {
    hasMetrics = (await Deno.stat(join(dir, METRICS_FILE))).isFile;
  } catch {
    hasMetrics = false;
  }
  const complete = hasMetrics &&
    (record === null || record.status === "complete");
  return { complete, record, hasMetrics };
}
