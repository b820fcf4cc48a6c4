/**
 * One run at a time per output folder: a lock file (`.run.lock`) in the folder, holding the
 * holder's pid, host, start time and command. A second run into the same folder is refused with
 * a message naming the holder; a lock whose process is gone (killed, crashed) is stale and is
 * taken over, and the staging folder it names is removed.
 *
 * The lock is created whole in one step (written to a temporary file, then hard-linked to its
 * name, which fails when the name exists), so a reader never sees a half-written lock.
 *
 * @module
 */
import { basename, dirname, join, resolve } from "node:path";
import { CarplaneError } from "../errors.ts";
import { randomSuffix } from "../_text.ts";

/** The lock file's name inside the output folder. */
export const LOCK_FILE = ".run.lock";

/** What a lock file holds. */
export interface LockInfo {
  /** The holder's process id. */
  pid: number;
  /** The holder's host name (a pid means nothing on another machine). */
  hostname: string;
  /** ISO time the lock was taken. */
  started_at: string;
  /** The holder's command line, for the message a second run gets. */
  command?: string;
  /** The holder's staging folder, removed when its lock is found stale. */
  staging?: string;
}

/** Raised when another live run holds the output folder's lock. */
export class RunLockedError extends CarplaneError {
  constructor(message: string) {
    super(message);
    this.name = "RunLockedError";
  }
}

/** A held lock. */
export interface RunLock {
  /** The lock file. */
  readonly path: string;
  /** What it holds. */
  readonly info: LockInfo;
  /** Removes the lock file (only while it is still ours). */
  release(): Promise<void>;
}

/** Options for {@linkcode acquireRunLock}. */
export interface AcquireLockOptions {
  /** The command line, recorded in the lock. */
  command?: string;
  /** The staging folder this run writes, recorded so a later run can clean it up. */
  staging?: string;
  /** Whether a process is alive (tests inject one); default: `/proc/<pid>` or `kill -0`. */
  isAlive?: (pid: number) => boolean;
  /** Where the note about a stale lock goes. Default `console.log`. */
  log?: (line: string) => void;
}

/**
 * Takes the lock of `dir` (created if needed). Throws {@linkcode RunLockedError} when another
 * live process holds it; takes over a stale one (its process is gone), removing the staging
 * folder it names.
 *
 * @example
 * ```ts
 * const lock = await acquireRunLock("outputs", { command: "deno task reproduce" });
 * try {
 *   // ... write the run ...
 * } finally {
 *   await lock.release();
 * }
 * ```
 */
export async function acquireRunLock(
  dir: string,
  options: AcquireLockOptions = {},
): Promise<RunLock> {
  const isAlive = options.isAlive ?? processIsAlive;
  const log = options.log ?? console.log;
  dir = resolve(dir);
  await Deno.mkdir(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  const info: LockInfo = {
    pid: Deno.pid,
    hostname: Deno.hostname(),
    started_at: new Date().toISOString(),
    ...(options.command ? { command: options.command } : {}),
    ...(options.staging ? { staging: options.staging } : {}),
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    if (await createWhole(path, JSON.stringify(info, null, 2) + "\n")) {
      return {
        path,
        info,
        async release() {
          const held = await readLock(path);
          if (held && held.pid === info.pid && held.started_at === info.started_at) {
            await Deno.remove(path).catch(() => {});
          }
        },
      };
    }
    const holder = await readLock(path);
    if (holder === undefined) continue; // released meanwhile: try again
    if (holder !== null && (holder.hostname !== info.hostname || isAlive(holder.pid))) {
      throw new RunLockedError(
        `${dir} is in use by another run (pid ${holder.pid} on ${holder.hostname}, started ` +
          `${holder.started_at}${holder.command ? `: ${holder.command}` : ""}). Wait for it ` +
          `to finish or choose another --out. If that run no longer exists, delete ${path}.`,
      );
    }
    // Stale: move it aside first, so two runs that both found it stale cannot both take over.
    const aside = `${path}.stale-${randomSuffix()}`;
    try {
      await Deno.rename(path, aside);
    } catch {
      continue; // someone else moved it: look again
    }
    const moved = await readLock(aside);
    if (moved && (!holder || moved.pid !== holder.pid || moved.started_at !== holder.started_at)) {
      // We moved a fresh lock taken meanwhile: put it back and look again.
      await Deno.link(aside, path).catch(() => {});
      await Deno.remove(aside).catch(() => {});
      continue;
    }
    await Deno.remove(aside).catch(() => {});
    const staging = holder?.staging;
    if (staging && basename(staging).startsWith(".") && dirname(staging) === dirname(dir)) {
      await Deno.remove(staging, { recursive: true }).catch(() => {});
    }
    log(
      `Note: took over the stale lock of ${dir}` +
        (holder ? ` (pid ${holder.pid}, started ${holder.started_at}, is gone)` : "") + ".",
    );
  }
  throw new RunLockedError(
    `Could not take the lock ${path}: other runs keep taking it. Try again, or choose ` +
      "another --out.",
  );
}

/** Creates `path` with `text` in one step; false when it exists. */
async function createWhole(path: string, text: string): Promise<boolean> {
  const tmp = `${path}.${randomSuffix()}.tmp`;
  await Deno.writeTextFile(tmp, text, { createNew: true });
  try {
    await Deno.link(tmp, path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) return false;
    throw error;
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
}

/** The lock's content; undefined when there is no lock, null when it is unreadable. */
async function readLock(path: string): Promise<LockInfo | null | undefined> {
  let text;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    return null;
  }
  try {
    const info = JSON.parse(text);
    return Number.isInteger(info?.pid) ? info as LockInfo : null;
  } catch {
    return null;
  }
}

/**
 * Whether process `pid` exists on this machine: `/proc/<pid>` on Linux, `kill -0` elsewhere.
 *
 * @example
 * ```ts
 * processIsAlive(Deno.pid); // true
 * ```
 */
export function processIsAlive(pid: number): boolean {
  if (pid === Deno.pid) return true;
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) return true;
    if (Deno.build.os === "linux") return false;
  }
  try {
    return new Deno.Command("kill", { args: ["-0", String(pid)], stderr: "null" }).outputSync()
      .success;
  } catch {
    return true; // cannot tell: keep the lock
  }
}
