/**
 * Safe extraction of `.tar.gz` / `.tgz`, `.tar` and `.zip` archives, with no dependency.
 *
 * Entries whose path is absolute or has a `..` segment are refused with an
 * {@link ArchiveError} naming them; symlinks, hardlinks and device entries are skipped. File
 * contents are streamed to disk, counted against {@link ArchiveLimits} (per entry, in total, and
 * the expansion ratio), into a temporary folder beside the destination that is renamed into
 * place only when every entry was written, and removed on any failure or refusal.
 *
 * @module
 */
import * as path from "node:path";
import { pathExists } from "../_fs.ts";
import { randomSuffix } from "../_text.ts";
import {
  type ArchiveEntry,
  ArchiveError,
  type ArchiveFormat,
  type ArchiveLimits,
  type ReadEntriesOptions,
  safeEntrySegments,
} from "./archive_entry.ts";
import { isTarHeader, readTarStream } from "./archive_tar.ts";
import { readZipEntries } from "./archive_zip.ts";

const decoder = new TextDecoder();

/** An entry that {@link extractArchive} did not write. */
export interface SkippedEntry {
  name: string;
  reason: string;
}

/** Options of {@link extractArchive}. */
export interface ExtractOptions {
  /** Format; detected from the first bytes when omitted. */
  format?: ArchiveFormat;
  /** Replace `destDir` when it exists (default: refuse). */
  overwrite?: boolean;
  /** Where notes about skipped entries go (default: nowhere). */
  log?: (message: string) => void;
  /** Resource limits (default {@link DEFAULT_ARCHIVE_LIMITS}). */
  limits?: Partial<ArchiveLimits>;
}

/** What {@link extractArchive} did. */
export interface ExtractResult {
  /** The destination directory (absolute). */
  dir: string;
  /** Relative paths (with `/`) of the files written, in archive order. */
  files: string[];
  /** Number of directories created from directory entries. */
  directories: number;
  /** Entries not written (links, devices, ...). */
  skipped: SkippedEntry[];
  /** Bytes written in all. */
  bytes: number;
}

/**
 * Detects an archive's format from its first bytes. A file that is none of them is refused
 * with a message that does not presume where it came from (`hint` adds what to do).
 *
 * @example
 * ```ts
 * import { detectArchiveFormat } from "./archive_extract.ts";
 * await detectArchiveFormat("repo.tar.gz"); // "tar.gz"
 * ```
 */
export async function detectArchiveFormat(
  archivePath: string,
  hint = "It may be an error page saved instead of the archive: delete it and download it again.",
): Promise<ArchiveFormat> {
  let head: Uint8Array;
  try {
    const file = await Deno.open(archivePath, { read: true });
    try {
      head = new Uint8Array(512);
      let filled = 0;
      while (filled < 512) {
        const n = await file.read(head.subarray(filled));
        if (n === null) break;
        filled += n;
      }
      head = head.subarray(0, filled);
    } finally {
      file.close();
    }
  } catch (e) {
    throw new ArchiveError(
      `Cannot read the archive ${archivePath} (${(e as Error).message}).`,
      archivePath,
    );
  }
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return "tar.gz";
  if (
    head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b &&
    ((head[2] === 3 && head[3] === 4) || (head[2] === 5 && head[3] === 6))
  ) return "zip";
  if (head.length === 512 && isTarHeader(head)) return "tar";
  const preview = decoder.decode(head.subarray(0, 16)).replace(/[^\x20-\x7e]/g, ".");
  throw new ArchiveError(
    `${archivePath} is not a .tar.gz, .tar or .zip archive (it starts with "${preview}"). ${hint}`,
    archivePath,
  );
}

/**
 * Reads the entries of a `.tar.gz`, `.tar` or `.zip` file, one at a time, each file's content
 * as a `body` stream (or whole in `data` when `wantData` asks), within the limits. A caller that
 * stops early (breaks out of the loop) does not read the rest.
 *
 * @example
 * ```ts
 * import { readArchiveEntries } from "./archive_extract.ts";
 * for await (const e of readArchiveEntries("repo.tar.gz")) console.log(e.type, e.name);
 * ```
 */
export async function* readArchiveEntries(
  archivePath: string,
  opts: ReadEntriesOptions = {},
): AsyncGenerator<ArchiveEntry> {
  const format = opts.format ?? await detectArchiveFormat(archivePath);
  if (format === "zip") {
    yield* readZipEntries(archivePath, { wantData: opts.wantData, limits: opts.limits });
    return;
  }
  let packedBytes = 0;
  const file = await Deno.open(archivePath, { read: true });
  const counter = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      packedBytes += chunk.length;
      controller.enqueue(chunk);
    },
  });
  let stream: ReadableStream<Uint8Array> = file.readable.pipeThrough(counter);
  if (format === "tar.gz") {
    stream = stream.pipeThrough(
      new DecompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>,
    );
  }
  yield* readTarStream(stream, archivePath, {
    wantData: opts.wantData,
    limits: opts.limits,
    packedBytes: () => packedBytes,
  });
}

async function writeBody(
  target: string,
  body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  mode: number,
): Promise<number> {
  const file = await Deno.open(target, { write: true, createNew: true, mode });
  let written = 0;
  try {
    for await (const chunk of body) {
      let off = 0;
      while (off < chunk.length) off += await file.write(chunk.subarray(off));
      written += chunk.length;
    }
  } finally {
    file.close();
  }
  return written;
}

/**
 * Extracts an archive into `destDir`, safely: entry paths are checked (absolute paths and `..`
 * are refused with an {@link ArchiveError}), links and device entries are skipped, contents are
 * streamed to disk within the limits, into a temporary directory beside `destDir` that is
 * renamed into place only at the end and removed on any failure (nothing is left behind).
 *
 * @example
 * ```ts
 * import { extractArchive } from "./archive_extract.ts";
 * const result = await extractArchive("repo-master.tar.gz", "/tmp/repo");
 * console.log(result.files.length, "files in", result.dir);
 * ```
 */
export async function extractArchive(
  archivePath: string,
  destDir: string,
  opts: ExtractOptions = {},
): Promise<ExtractResult> {
  const dest = path.resolve(destDir);
  if (!opts.overwrite && await pathExists(dest, { followLinks: false })) {
    throw new ArchiveError(
      `Cannot extract ${archivePath} into ${dest}: it already exists. Remove it or choose another folder.`,
      archivePath,
    );
  }
  await Deno.mkdir(path.dirname(dest), { recursive: true });
  const tmp = `${dest}.extract-${randomSuffix()}`;
  await Deno.mkdir(tmp);
  const result: ExtractResult = { dir: dest, files: [], directories: 0, skipped: [], bytes: 0 };
  const madeDirs = new Set<string>();
  const ensureDir = async (dir: string) => {
    if (madeDirs.has(dir)) return;
    await Deno.mkdir(dir, { recursive: true });
    madeDirs.add(dir);
  };
  try {
    const entries = readArchiveEntries(archivePath, { format: opts.format, limits: opts.limits });
    for await (const entry of entries) {
      const segments = safeEntrySegments(entry.name, archivePath);
      if (entry.type === "symlink" || entry.type === "hardlink" || entry.type === "other") {
        const reason = entry.type === "other"
          ? "not a regular file or directory"
          : `${entry.type} to ${entry.linkName ?? "?"} (links are not extracted)`;
        result.skipped.push({ name: entry.name, reason });
        opts.log?.(`Skipping ${entry.name} from ${path.basename(archivePath)}: ${reason}.`);
        continue;
      }
      if (segments.length === 0) continue; // the archive root itself
      const target = path.join(tmp, ...segments);
      const rel = path.relative(tmp, target);
      if (rel.startsWith("..") || path.isAbsolute(rel)) {
        // Cannot happen after safeEntrySegments; kept as a second line of defence.
        safeEntrySegments("../" + entry.name, archivePath);
      }
      try {
        if (entry.type === "directory") {
          await ensureDir(target);
          result.directories++;
        } else {
          await ensureDir(path.dirname(target));
          // A later entry of the same name replaces an earlier one, as tar does.
          await Deno.remove(target).catch(() => {});
          result.bytes += await writeBody(
            target,
            entry.body?.() ?? [],
            entry.mode & 0o111 ? 0o755 : 0o644,
          );
          result.files.push(segments.join("/"));
        }
      } catch (e) {
        if (e instanceof ArchiveError) throw e;
        throw new ArchiveError(
          `Cannot write entry "${entry.name}" of ${archivePath} (${(e as Error).message}).`,
          archivePath,
          entry.name,
        );
      }
    }
    if (opts.overwrite && await pathExists(dest, { followLinks: false })) {
      const old = `${dest}.old-${randomSuffix()}`;
      await Deno.rename(dest, old);
      await Deno.rename(tmp, dest);
      await Deno.remove(old, { recursive: true });
    } else {
      await Deno.rename(tmp, dest);
    }
    return result;
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    if (e instanceof ArchiveError) throw e;
    throw new ArchiveError(
      `Cannot extract ${archivePath}: ${(e as Error).message}. ` +
        `If the archive is damaged, delete it and download it again.`,
      archivePath,
    );
  }
}
