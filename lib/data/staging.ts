/**
 * Staging folders: where a dataset is assembled beside its destination before being renamed
 * into place (`<dest>.incoming-<pid>-<hex>`, `.<name>.staging-<pid>-<hex>`). Every one made here
 * is remembered until removed, so an interrupted `deno task data` (Ctrl-C, SIGTERM) removes
 * them before exiting ({@link removeStagingDirsOnSignals}), and one left by a killed process is
 * removed by the next run ({@link removeStaleStagingDirs}). Their names are git-ignored.
 *
 * @module
 */
import { basename, dirname, join, resolve } from "node:path";

const live = new Set<string>();

/** The two kinds of staging folder and how their names are built. */
export type StagingKind = "incoming" | "staging";

function nameFor(dest: string, kind: StagingKind, suffix: string): string {
  const abs = resolve(dest);
  return kind === "incoming"
    ? `${abs}.incoming-${suffix}`
    : join(dirname(abs), `.${basename(abs)}.staging-${suffix}`);
}

/**
 * Creates a staging folder beside `dest` and remembers it until {@link removeStagingDir}.
 *
 * @example
 * ```ts
 * import { makeStagingDir, removeStagingDir } from "./staging.ts";
 * const dir = await makeStagingDir("data", "incoming"); // /abs/data.incoming-4242-1a2b3c4d
 * await removeStagingDir(dir);
 * ```
 */
export async function makeStagingDir(dest: string, kind: StagingKind): Promise<string> {
  const hex = crypto.randomUUID().replaceAll("-", "").slice(0, 8);
  const dir = nameFor(dest, kind, `${Deno.pid}-${hex}`);
  await Deno.mkdir(dirname(dir), { recursive: true });
  // Remembered before it exists: a signal handled between the mkdir and the line after it would
  // otherwise leave the folder behind (seen once under load in cli_hardening_test's SIGINT test).
  live.add(dir);
  try {
    await Deno.mkdir(dir);
  } catch (error) {
    live.delete(dir);
    throw error;
  }
  return dir;
}

/**
 * Removes a staging folder (and forgets it); a missing one is fine.
 *
 * @example
 * ```ts
 * import { makeStagingDir, removeStagingDir } from "./staging.ts";
 * await removeStagingDir(await makeStagingDir("data", "staging"));
 * ```
 */
export async function removeStagingDir(dir: string): Promise<void> {
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  live.delete(dir);
}

/**
 * Removes every staging folder this process still has, synchronously (for signal handlers,
 * which must finish before the process exits). Returns the folders removed.
 *
 * @example
 * ```ts
 * import { removeStagingDirsSync } from "./staging.ts";
 * removeStagingDirsSync(); // [] when nothing is being staged
 * ```
 */
export function removeStagingDirsSync(): string[] {
  const removed: string[] = [];
  for (const dir of live) {
    // Twice: a write already in flight when the signal came may recreate a file.
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch {
        // gone, or a file appeared meanwhile: the second attempt takes it
      }
    }
    removed.push(dir);
    live.delete(dir);
  }
  return removed;
}

/**
 * On SIGINT or SIGTERM, removes this process's staging folders, says so on stderr and exits
 * with 130 or 143 (the shell's codes for those signals). Returns a function that uninstalls the
 * handlers.
 *
 * @example
 * ```ts
 * import { removeStagingDirsOnSignals } from "./staging.ts";
 * const uninstall = removeStagingDirsOnSignals();
 * // ... install a dataset ...
 * uninstall();
 * ```
 */
export function removeStagingDirsOnSignals(): () => void {
  const handlers: [Deno.Signal, () => void][] = [];
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    const handler = () => {
      const removed = removeStagingDirsSync();
      console.error(
        `\nInterrupted (${signal}); nothing was installed` +
          (removed.length ? ` and the partial copy was removed (${removed.join(", ")}).` : "."),
      );
      Deno.exit(code);
    };
    try {
      Deno.addSignalListener(signal, handler);
      handlers.push([signal, handler]);
    } catch {
      // signal not supported here (SIGTERM on Windows)
    }
  }
  return () => {
    for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);
  };
}

function processAlive(pid: number): boolean {
  if (pid === Deno.pid) return true;
  if (Deno.build.os !== "linux") return true; // unknown: only the age test applies
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/**
 * Removes staging folders of `dest` left by processes that are gone (killed, or a crash), and
 * ones older than a day whatever their owner. Returns the folders removed.
 *
 * @example
 * ```ts
 * import { removeStaleStagingDirs } from "./staging.ts";
 * const removed = await removeStaleStagingDirs("data");
 * ```
 */
export async function removeStaleStagingDirs(dest: string): Promise<string[]> {
  const abs = resolve(dest);
  const parent = dirname(abs);
  const name = basename(abs);
  const pattern = new RegExp(
    `^(?:${escapeRegExp(name)}\\.incoming|\\.${escapeRegExp(name)}\\.staging)-(\\d+)-[0-9a-f]+$`,
  );
  const removed: string[] = [];
  let entries: Deno.DirEntry[] = [];
  try {
    entries = [...Deno.readDirSync(parent)];
  } catch {
    return removed;
  }
  const dayAgo = Date.now() - 24 * 3600 * 1000;
  for (const entry of entries) {
    const m = pattern.exec(entry.name);
    if (!m || !entry.isDirectory) continue;
    const dir = join(parent, entry.name);
    const mtime = (await Deno.stat(dir).catch(() => null))?.mtime?.getTime() ?? 0;
    if (processAlive(Number(m[1])) && mtime > dayAgo) continue;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    removed.push(dir);
  }
  return removed;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
