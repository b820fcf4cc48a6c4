/**
 * Writing output files so that nothing half-written is ever read:
 *
 * - {@linkcode atomicWriteFile} / {@linkcode atomicWriteJson}: the data goes to a temporary
 *   file in the same directory (`.<name>.<random>.tmp`), is flushed to disk, and is renamed
 *   over the target. Readers see the old file or the new one, never a partial one; on any
 *   failure the temporary file is removed and the old target is left untouched.
 * - {@linkcode ensureWritableDir}: creates an output directory and proves it is writable
 *   with a probe file, so a run fails at its start, not after an hour of training.
 *
 * A whole run is swapped into its output folder only when complete (`staging.ts`).
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
