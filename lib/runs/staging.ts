/**
 * Never lose a good run: a run is written into a staging folder beside the output folder and
 * swapped in only when it is complete.
 *
 * {@linkcode beginRun} takes the output folder's lock (see `lock.ts`: one run at a time), then
 * opens a run store on `.<out>.staging-<random>/` next to it. Everything the run produces goes
 * there. {@linkcode StagedRun.complete} writes `metrics.json` and `run.json`, then moves the
 * run's entries ({@linkcode RUN_ENTRIES}) into the output folder: the previous run's entries
 * are moved aside first (`metrics.json` first, so the folder never looks complete while mixed),
 * the new ones moved in (`metrics.json` last), and the old ones deleted. A run that fails or is
 * interrupted ({@linkcode StagedRun.abandon}) deletes its staging folder and writes only
 * `last_attempt.json` (status `failed` or `interrupted`, the error, the times) into the output
 * folder: the previous run there stays whole. Files in the output folder that a run does not
 * own (executed notebooks, your own files) are never touched.
 *
 * A run killed outright (SIGKILL, power loss) leaves its staging folder and a stale lock; the
 * next run into the same folder takes the lock over and deletes both.
 *
 * @module
 */
import { basename, dirname, join, resolve } from "node:path";
import { CarplaneError } from "../errors.ts";
import { randomSuffix } from "../_text.ts";
import { type AcquireLockOptions, acquireRunLock, LOCK_FILE } from "./lock.ts";
import { atomicWriteJson, ensureWritableDir, OutputError } from "./outputs.ts";
import { METRICS_FILE, openRunStore, RUN_ENTRIES, RUN_FILE, type RunStore } from "./store.ts";

/** The signals a run stops on, with the exit codes shells give them (128 + the number). */
export const INTERRUPT_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

/** A signal a run stops on. */
export type InterruptSignal = keyof typeof INTERRUPT_EXIT_CODES;

/**
 * A run stopped by the user (Ctrl-C) or the system (SIGTERM). Abort a run's `signal` with one to
 * name the signal; the command line exits with {@linkcode RunInterruptedError.exitCode}.
 */
export class RunInterruptedError extends CarplaneError {
  /** The signal, when one stopped the run. */
  readonly signal?: InterruptSignal;
  /** 130 for SIGINT, 143 for SIGTERM (what shells report for a process they killed). */
  readonly exitCode: number;

  constructor(signal?: InterruptSignal, message?: string) {
    super(message ?? `Interrupted${signal ? ` by ${signal}` : ""}.`);
    if (signal !== undefined) this.signal = signal;
    this.exitCode = INTERRUPT_EXIT_CODES[signal ?? "SIGINT"];
  }
}

/** `last_attempt.json`: the record of the last run that did not complete. */
export const LAST_ATTEMPT_FILE = "last_attempt.json";

/** The status a run's record holds. */
export type RunStatusValue = "running" | "complete" | "failed" | "interrupted";

/** Contents of `run.json` and `last_attempt.json`. */
export interface RunRecord {
  status: RunStatusValue;
  /** ISO time the run started. */
  started_at: string;
  /** ISO time the run completed, failed or was interrupted. */
  finished_at?: string;
  /** The error message of a failed or interrupted run. */
  error?: string;
  /** Whatever the caller passed to {@linkcode beginRun} (command, ...). */
  info: Record<string, unknown>;
}

/** A run being written; see the module docs. */
export interface StagedRun {
  /** The output folder the run goes to when complete. */
  readonly outDir: string;
  /** The staging folder it is written to meanwhile. */
  readonly stagingDir: string;
  /** The run store over the staging folder. */
  readonly store: RunStore;
  /** Writes `metrics.json`, swaps the run into the output folder, releases the lock. */
  complete(metrics: unknown): Promise<void>;
  /**
   * Deletes the staging folder, records the attempt in `last_attempt.json` and releases the
   * lock; the output folder's previous run is untouched.
   */
  abandon(error: unknown, status: "failed" | "interrupted"): Promise<void>;
}

/** Options for {@linkcode beginRun}. */
export interface BeginRunOptions extends Pick<AcquireLockOptions, "isAlive" | "log"> {
  /** Facts recorded in `run.json` (command, ...). */
  info?: Record<string, unknown>;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Starts a run into `outDir`: takes its lock, removes staging folders that dead runs left
 * beside it, and opens a fresh staging folder.
 *
 * @example
 * ```ts
 * const run = await beginRun("outputs", { info: { command: "deno task reproduce" } });
 * try {
 *   await run.store.writeFile("report.md", "# Report\n");
 *   await run.complete({ accuracy: 0.9 });
 * } catch (error) {
 *   await run.abandon(error, "failed");
 *   throw error;
 * }
 * ```
 */
export async function beginRun(outDir: string, options: BeginRunOptions = {}): Promise<StagedRun> {
  await ensureWritableDir(resolve(outDir));
  // The real folder: staging beside a symlink could sit on another disk, where rename fails.
  const out = await Deno.realPath(resolve(outDir));
  const prefix = `.${basename(out)}.`;
  const stagingDir = join(dirname(out), `${prefix}staging-${randomSuffix()}`);
  const info = options.info ?? {};
  const lock = await acquireRunLock(out, {
    command: typeof info.command === "string" ? info.command : undefined,
    staging: stagingDir,
    isAlive: options.isAlive,
    log: options.log,
  });
  const started_at = new Date().toISOString();
  const record = (status: RunStatusValue, extra: Partial<RunRecord> = {}): RunRecord => ({
    status,
    started_at,
    ...extra,
    info,
  });
  try {
    // We hold the lock: any other staging or swap folder of this output folder is a dead run's.
    for await (const entry of Deno.readDir(dirname(out))) {
      if (
        entry.name.startsWith(prefix) &&
        /^(staging|previous)-[0-9a-f]+$/.test(entry.name.slice(prefix.length))
      ) {
        await Deno.remove(join(dirname(out), entry.name), { recursive: true }).catch(() => {});
      }
    }
    await Deno.mkdir(stagingDir);
    await atomicWriteJson(join(stagingDir, RUN_FILE), record("running"));
  } catch (error) {
    await Deno.remove(stagingDir, { recursive: true }).catch(() => {});
    await lock.release();
    throw new OutputError(
      `Cannot create the staging folder ${stagingDir} beside ${out}: ${describe(error)}. The ` +
        "folder that holds the output folder must be writable.",
      { cause: error },
    );
  }
  let finished = false;
  return {
    outDir: out,
    stagingDir,
    store: openRunStore(stagingDir),
    async complete(metrics) {
      if (finished) throw new OutputError(`The run into ${out} has already finished.`);
      try {
        await atomicWriteJson(join(stagingDir, METRICS_FILE), metrics);
        await atomicWriteJson(
          join(stagingDir, RUN_FILE),
          record("complete", { finished_at: new Date().toISOString() }),
        );
        await swapIn(stagingDir, out, `${join(dirname(out), prefix)}previous-${randomSuffix()}`);
        await Deno.remove(join(out, LAST_ATTEMPT_FILE)).catch(() => {});
        finished = true; // a failed swap is still abandoned (recorded) by the caller
      } finally {
        await Deno.remove(stagingDir, { recursive: true }).catch(() => {});
        await lock.release();
      }
    },
    async abandon(error, status) {
      if (finished) return;
      finished = true;
      try {
        await Deno.remove(stagingDir, { recursive: true }).catch(() => {});
        await atomicWriteJson(
          join(out, LAST_ATTEMPT_FILE),
          record(status, { finished_at: new Date().toISOString(), error: describe(error) }),
        );
      } finally {
        await lock.release();
      }
    },
  };
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

/**
 * Moves the run in `staging` into `out`: `out`'s run entries aside into `backup`, the new ones
 * in, then `backup` deleted. On a failure midway, everything is moved back and the error thrown.
 */
async function swapIn(staging: string, out: string, backup: string): Promise<void> {
  // metrics.json leaves first and arrives last: a half-swapped folder never looks complete.
  const leaving = [METRICS_FILE, ...RUN_ENTRIES.filter((e) => e !== METRICS_FILE)];
  const arriving = [...RUN_ENTRIES.filter((e) => e !== METRICS_FILE), METRICS_FILE];
  const unknown = [];
  for await (const entry of Deno.readDir(staging)) {
    if (entry.name === "models") {
      for await (const m of Deno.readDir(join(staging, "models"))) {
        if (!RUN_ENTRIES.includes(`models/${m.name}`)) unknown.push(`models/${m.name}`);
      }
    } else if (!RUN_ENTRIES.includes(entry.name)) unknown.push(entry.name);
  }
  if (unknown.length > 0) {
    throw new OutputError(
      `The run wrote ${unknown.join(", ")}, which the run store does not know: add them to ` +
        "RUN_ENTRIES in lib/runs/store.ts.",
    );
  }
  const movedAside: string[] = [];
  const movedIn: string[] = [];
  const move = async (from: string, to: string) => {
    await Deno.mkdir(dirname(to), { recursive: true });
    await Deno.rename(from, to);
  };
  try {
    await Deno.mkdir(backup);
    for (const entry of leaving) {
      if (entry === LOCK_FILE || !(await exists(join(out, entry)))) continue;
      await move(join(out, entry), join(backup, entry));
      movedAside.push(entry);
    }
    for (const entry of arriving) {
      if (!(await exists(join(staging, entry)))) continue;
      await move(join(staging, entry), join(out, entry));
      movedIn.push(entry);
    }
  } catch (error) {
    for (const entry of movedIn.reverse()) {
      await move(join(out, entry), join(staging, entry)).catch(() => {});
    }
    for (const entry of movedAside.reverse()) {
      await move(join(backup, entry), join(out, entry)).catch(() => {});
    }
    await Deno.remove(backup, { recursive: true }).catch(() => {});
    throw new OutputError(
      `Could not move the finished run from ${staging} into ${out}: ${describe(error)}. The ` +
        "previous run there was put back.",
      { cause: error },
    );
  }
  await Deno.remove(backup, { recursive: true }).catch(() => {});
}

/** What {@linkcode readRunStatus} finds in an output folder. */
export interface RunStatus {
  /** `true` when `metrics.json` exists and `run.json` (if any) says `complete`. */
  complete: boolean;
  /** The `run.json` record (of the run whose files are there), or null. */
  record: RunRecord | null;
  /** Whether `metrics.json` exists. */
  hasMetrics: boolean;
  /** `last_attempt.json`: a later run that failed or was interrupted, or null. */
  lastAttempt: RunRecord | null;
}

async function readJson<T>(path: string): Promise<T | null> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as T;
  } catch {
    return null;
  }
}

/**
 * What an output folder holds: its complete run (if any) and the last attempt that did not
 * complete.
 *
 * @example
 * ```ts
 * const { complete, lastAttempt } = await readRunStatus("outputs");
 * ```
 */
export async function readRunStatus(dir: string): Promise<RunStatus> {
  const record = await readJson<RunRecord>(join(dir, RUN_FILE));
  const hasMetrics = await Deno.stat(join(dir, METRICS_FILE)).then((s) => s.isFile, () => false);
  return {
    complete: hasMetrics && (record === null || record.status === "complete"),
    record,
    hasMetrics,
    lastAttempt: await readJson<RunRecord>(join(dir, LAST_ATTEMPT_FILE)),
  };
}
