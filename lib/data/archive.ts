/**
 * Safe extraction of `.tar.gz` / `.tgz`, `.tar` and `.zip` archives, with no dependency.
 *
 * Tar archives are parsed as a stream (ustar, GNU long names, pax extended and global headers,
 * as in GitHub's tarballs); zip archives through their central directory, deflate being undone by
 * `DecompressionStream("deflate-raw")`. Entries whose path is absolute or has a `..` segment are
 * refused with an {@link ArchiveError} naming them; symlinks, hardlinks and device entries are
 * skipped. {@link extractArchive} writes into a temporary directory beside the destination and
 * renames it into place only when every entry was written, so nothing half-extracted is left.
 *
 * @module
 */
import * as path from "node:path";
import { pathExists } from "../_fs.ts";
import { CarplaneError } from "../errors.ts";
import { randomSuffix } from "../_text.ts";

/** A malformed, truncated, unsupported or unsafe archive. */
export class ArchiveError extends CarplaneError {
  /** The archive's path. */
  readonly archive: string;
  /** The entry concerned, when there is one. */
  readonly entry?: string;

  constructor(message: string, archive: string, entry?: string) {
    super(message);
    this.name = "ArchiveError";
    this.archive = archive;
    this.entry = entry;
  }
}

/** The archive formats understood here. */
export type ArchiveFormat = "tar" | "tar.gz" | "zip";

/** Kinds of archive entries. */
export type EntryType = "file" | "directory" | "symlink" | "hardlink" | "other";

/** One entry of an archive. */
export interface ArchiveEntry {
  /** The path as stored in the archive (after pax / GNU long-name handling). */
  name: string;
  type: EntryType;
  /** Size of the entry's content in bytes. */
  size: number;
  /** Unix permission bits, when known. */
  mode: number;
  /** Target of a symlink or hardlink. */
  linkName?: string;
  /** The content, when the `wantData` callback asked for it (files only). */
  data?: Uint8Array;
}

/** Options of {@link readArchiveEntries}. */
export interface ReadEntriesOptions {
  /** Format; detected from the first bytes when omitted. */
  format?: ArchiveFormat;
  /** Which file entries to read the content of (default: none). Others are skipped cheaply. */
  wantData?: (entry: ArchiveEntry) => boolean;
}

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
}

const decoder = new TextDecoder();

/**
 * Checks an entry name and returns its safe relative segments (empty for the archive root).
 * Throws an {@link ArchiveError} for absolute paths, drive letters, `..` segments and NUL bytes.
 *
 * @example
 * ```ts
 * import { safeEntrySegments } from "./archive.ts";
 * safeEntrySegments("./repo-master/data/", "repo.tar.gz"); // ["repo-master", "data"]
 * ```
 */
export function safeEntrySegments(name: string, archive: string): string[] {
  const refuse = (why: string): never => {
    throw new ArchiveError(
      `Refusing to extract entry "${name}" from ${archive}: ${why}. ` +
        `The archive is unsafe; get it from a trusted source.`,
      archive,
      name,
    );
  };
  if (name.includes("\0")) refuse("the name contains a NUL byte");
  if (name.startsWith("/") || name.startsWith("\\")) refuse("it is an absolute path");
  if (/^[A-Za-z]:/.test(name)) refuse("it is an absolute Windows path");
  const segments = name.split(/[\\/]+/).filter((s) => s !== "" && s !== ".");
  if (segments.includes("..")) refuse("its path has a '..' segment that points outside");
  return segments;
}

// ---------------------------------------------------------------------------------------------
// Byte stream helper

class ByteReader {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #done = false;
  /** Total bytes consumed so far. */
  offset = 0;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  async #fill(n: number): Promise<void> {
    while (this.#buffered < n && !this.#done) {
      const { done, value } = await this.#reader.read();
      if (done) {
        this.#done = true;
        break;
      }
      if (value.length > 0) {
        this.#chunks.push(value);
        this.#buffered += value.length;
      }
    }
  }

  /** Reads up to `n` bytes (fewer only at the end of the stream). */
  async read(n: number): Promise<Uint8Array> {
    await this.#fill(n);
    const take = Math.min(n, this.#buffered);
    const out = new Uint8Array(take);
    let filled = 0;
    while (filled < take) {
      const head = this.#chunks[0];
      const part = Math.min(head.length, take - filled);
      out.set(head.subarray(0, part), filled);
      filled += part;
      if (part === head.length) this.#chunks.shift();
      else this.#chunks[0] = head.subarray(part);
    }
    this.#buffered -= take;
    this.offset += take;
    return out;
  }

  /** Skips up to `n` bytes; returns how many were skipped. */
  async skip(n: number): Promise<number> {
    let left = n;
    while (left > 0) {
      await this.#fill(1);
      if (this.#buffered === 0) break;
      const head = this.#chunks[0];
      const part = Math.min(head.length, left);
      if (part === head.length) this.#chunks.shift();
      else this.#chunks[0] = head.subarray(part);
      this.#buffered -= part;
      left -= part;
    }
    this.offset += n - left;
    return n - left;
  }

  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}

/** A `DecompressionStream` typed as a byte transform. */
function decompressor(format: "gzip" | "deflate-raw"): TransformStream<Uint8Array, Uint8Array> {
  return new DecompressionStream(format) as unknown as TransformStream<Uint8Array, Uint8Array>;
}

// ---------------------------------------------------------------------------------------------
// tar

function cString(buf: Uint8Array, start: number, length: number): string {
  const field = buf.subarray(start, start + length);
  const nul = field.indexOf(0);
  return decoder.decode(nul >= 0 ? field.subarray(0, nul) : field);
}

function parseNumber(buf: Uint8Array, start: number, length: number): number {
  if (buf[start] & 0x80) {
    // GNU base-256 encoding for large values.
    let value = buf[start] & 0x7f;
    for (let i = 1; i < length; i++) value = value * 256 + buf[start + i];
    return value;
  }
  const text = cString(buf, start, length).trim();
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) return NaN;
  return parseInt(text, 8);
}

function headerChecksumOk(block: Uint8Array): boolean {
  const stored = parseNumber(block, 148, 8);
  if (!Number.isFinite(stored)) return false;
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < 512; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i];
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return stored === unsigned || stored === signed;
}

function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

function parsePax(data: Uint8Array, archive: string): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break;
    const space = data.indexOf(0x20, pos);
    if (space < 0) break;
    const len = parseInt(decoder.decode(data.subarray(pos, space)), 10);
    if (!Number.isFinite(len) || len <= 0 || pos + len > data.length) {
      throw new ArchiveError(`Malformed pax header in ${archive}.`, archive);
    }
    const record = decoder.decode(data.subarray(space + 1, pos + len - 1)); // drop the "\n"
    const eq = record.indexOf("=");
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    pos += len;
  }
  return out;
}

function padTo512(n: number): number {
  return (512 - (n % 512)) % 512;
}

/**
 * Reads the entries of a tar stream (already decompressed), one at a time, without buffering the
 * whole archive. Pax headers (`x` and the global `g` of GitHub tarballs) and GNU long names
 * (`L`, `K`) are applied to the entries they describe and not yielded themselves.
 *
 * @example
 * ```ts
 * import { readTarStream } from "./archive.ts";
 * const file = await Deno.open("data.tar.gz");
 * const tar = file.readable.pipeThrough(new DecompressionStream("gzip"));
 * for await (const e of readTarStream(tar, "data.tar.gz", { wantData: (e) => e.name.endsWith(".bin") })) {
 *   console.log(e.name, e.size, e.data?.length);
 * }
 * ```
 */
export async function* readTarStream(
  stream: ReadableStream<Uint8Array>,
  archive: string,
  opts: { wantData?: (entry: ArchiveEntry) => boolean } = {},
): AsyncGenerator<ArchiveEntry> {
  const reader = new ByteReader(stream);
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  let sawHeader = false;
  const corrupt = (e: unknown): ArchiveError =>
    e instanceof ArchiveError ? e : new ArchiveError(
      `Cannot read ${archive}: it is truncated or corrupt (${(e as Error).message}). ` +
        `Delete it and download it again.`,
      archive,
    );
  try {
    while (true) {
      let block: Uint8Array;
      try {
        block = await reader.read(512);
      } catch (e) {
        throw corrupt(e);
      }
      if (block.length === 0) {
        if (!sawHeader) {
          throw new ArchiveError(`${archive} is empty: it holds no tar entries.`, archive);
        }
        return; // end without the two zero blocks: tolerated
      }
      if (block.length < 512) {
        throw new ArchiveError(
          `${archive} is truncated: it ends inside a tar header. Delete it and download it again.`,
          archive,
        );
      }
      if (isZeroBlock(block)) return;
      if (!headerChecksumOk(block)) {
        throw new ArchiveError(
          sawHeader
            ? `${archive} is corrupt: bad tar header checksum at byte ${reader.offset - 512}. ` +
              `Delete it and download it again.`
            : `${archive} is not a tar archive (its first block is not a tar header).`,
          archive,
        );
      }
      sawHeader = true;
      const typeflag = block[156] === 0 ? "0" : String.fromCharCode(block[156]);
      const magic = cString(block, 257, 6);
      const isPosixUstar = magic === "ustar" && block[262] === 0;
      let size = parseNumber(block, 124, 12);
      if (pax.size !== undefined && typeflag !== "x" && typeflag !== "g") size = Number(pax.size);
      if (!Number.isFinite(size) || size < 0) {
        throw new ArchiveError(
          `${archive} is corrupt: bad entry size at byte ${reader.offset - 512}.`,
          archive,
        );
      }
      const readBody = async (): Promise<Uint8Array> => {
        let data: Uint8Array;
        let padding = 0;
        try {
          data = await reader.read(size);
          if (data.length === size) padding = await reader.skip(padTo512(size));
        } catch (e) {
          throw corrupt(e);
        }
        if (data.length < size || padding < padTo512(size)) {
          throw new ArchiveError(
            `${archive} is truncated: it ends inside entry "${cString(block, 0, 100)}". ` +
              `Delete it and download it again.`,
            archive,
          );
        }
        return data;
      };
      const skipBody = async (): Promise<void> => {
        let skipped: number;
        try {
          skipped = await reader.skip(size + padTo512(size));
        } catch (e) {
          throw corrupt(e);
        }
        if (skipped < size + padTo512(size)) {
          throw new ArchiveError(
            `${archive} is truncated: it ends inside entry "${cString(block, 0, 100)}". ` +
              `Delete it and download it again.`,
            archive,
          );
        }
      };

      if (typeflag === "x") {
        pax = { ...pax, ...parsePax(await readBody(), archive) };
        continue;
      }
      if (typeflag === "g") {
        parsePax(await readBody(), archive); // validated; global records (a commit id) ignored
        continue;
      }
      if (typeflag === "L" || typeflag === "K") {
        const text = cString(await readBody(), 0, size);
        if (typeflag === "L") longName = text;
        else longLink = text;
        continue;
      }

      let name = cString(block, 0, 100);
      if (isPosixUstar) {
        const prefix = cString(block, 345, 155);
        if (prefix) name = `${prefix}/${name}`;
      }
      if (longName !== undefined) name = longName;
      if (pax.path !== undefined) name = pax.path;
      let linkName: string | undefined = cString(block, 157, 100) || undefined;
      if (longLink !== undefined) linkName = longLink;
      if (pax.linkpath !== undefined) linkName = pax.linkpath;
      pax = {};
      longName = undefined;
      longLink = undefined;

      let type: EntryType;
      if (typeflag === "0" || typeflag === "7") type = name.endsWith("/") ? "directory" : "file";
      else if (typeflag === "5") type = "directory";
      else if (typeflag === "2") type = "symlink";
      else if (typeflag === "1") type = "hardlink";
      else type = "other";
      const entry: ArchiveEntry = {
        name,
        type,
        size: type === "file" ? size : 0,
        mode: parseNumber(block, 100, 8) || 0,
        linkName,
      };
      if (type === "file" && opts.wantData?.(entry)) entry.data = await readBody();
      else await skipBody();
      yield entry;
    }
  } finally {
    await reader.cancel();
  }
}

// ---------------------------------------------------------------------------------------------
// zip

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/**
 * CRC-32 (as in zip and gzip) of some bytes.
 *
 * @example
 * ```ts
 * import { crc32 } from "./archive.ts";
 * crc32(new TextEncoder().encode("123456789")); // 0xcbf43926
 * ```
 */
export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of stream) {
    parts.push(chunk);
    total += chunk.length;
  }
  const out = new Uint8Array(total);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

interface ZipCentralEntry {
  name: string;
  method: number;
  flags: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
  externalAttrs: number;
  madeBy: number;
}

function readZipDirectory(bytes: Uint8Array, archive: string): ZipCentralEntry[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bad = (why: string): never => {
    throw new ArchiveError(
      `${archive} is not a readable zip archive (${why}). Delete it and download it again.`,
      archive,
    );
  };
  // End of central directory: at the end, before an optional comment of up to 65535 bytes.
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65535); i--) {
    if (view.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) bad("no end-of-central-directory record; the file may be truncated");
  let count = view.getUint16(eocd + 10, true);
  let cdSize = view.getUint32(eocd + 12, true);
  let cdOffset = view.getUint32(eocd + 16, true);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const locator = eocd - 20;
    if (locator < 0 || view.getUint32(locator, true) !== 0x07064b50) bad("missing ZIP64 locator");
    const z64 = Number(view.getBigUint64(locator + 8, true));
    if (z64 + 56 > bytes.length || view.getUint32(z64, true) !== 0x06064b50) {
      bad("bad ZIP64 end of central directory");
    }
    count = Number(view.getBigUint64(z64 + 32, true));
    cdSize = Number(view.getBigUint64(z64 + 40, true));
    cdOffset = Number(view.getBigUint64(z64 + 48, true));
  }
  if (cdOffset + cdSize > bytes.length) bad("the central directory lies past the end of the file");
  const entries: ZipCentralEntry[] = [];
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > bytes.length || view.getUint32(p, true) !== 0x02014b50) {
      bad(`bad central directory entry #${i}`);
    }
    const madeBy = view.getUint16(p + 4, true);
    const flags = view.getUint16(p + 8, true);
    const method = view.getUint16(p + 10, true);
    const crc = view.getUint32(p + 16, true);
    let compressedSize = view.getUint32(p + 20, true);
    let size = view.getUint32(p + 24, true);
    const nameLen = view.getUint16(p + 28, true);
    const extraLen = view.getUint16(p + 30, true);
    const commentLen = view.getUint16(p + 32, true);
    const externalAttrs = view.getUint32(p + 38, true);
    let localOffset = view.getUint32(p + 42, true);
    const name = decoder.decode(bytes.subarray(p + 46, p + 46 + nameLen));
    // ZIP64 extra field: the 0xffffffff fields, in order.
    let e = p + 46 + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = view.getUint16(e, true);
      const len = view.getUint16(e + 2, true);
      if (id === 0x0001) {
        let q = e + 4;
        if (size === 0xffffffff) size = Number(view.getBigUint64((q += 8) - 8, true));
        if (compressedSize === 0xffffffff) {
          compressedSize = Number(view.getBigUint64((q += 8) - 8, true));
        }
        if (localOffset === 0xffffffff) localOffset = Number(view.getBigUint64(q, true));
      }
      e += 4 + len;
    }
    entries.push({
      name,
      method,
      flags,
      crc,
      compressedSize,
      size,
      localOffset,
      externalAttrs,
      madeBy,
    });
    p = extraEnd + commentLen;
  }
  return entries;
}

async function readZipData(
  bytes: Uint8Array,
  entry: ZipCentralEntry,
  archive: string,
): Promise<Uint8Array> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bad = (why: string): never => {
    throw new ArchiveError(
      `Cannot read "${entry.name}" from ${archive}: ${why}. Delete the archive and download it again.`,
      archive,
      entry.name,
    );
  };
  const p = entry.localOffset;
  if (p + 30 > bytes.length || view.getUint32(p, true) !== 0x04034b50) bad("bad local header");
  if (entry.flags & 1) bad("the entry is encrypted");
  const start = p + 30 + view.getUint16(p + 26, true) + view.getUint16(p + 28, true);
  const end = start + entry.compressedSize;
  if (end > bytes.length) bad("the archive is truncated");
  const raw = bytes.subarray(start, end);
  let data: Uint8Array;
  if (entry.method === 0) data = raw.slice();
  else if (entry.method === 8) {
    try {
      data = await collect(
        new Blob([raw.slice()]).stream().pipeThrough(decompressor("deflate-raw")),
      );
    } catch (e) {
      return bad(`corrupt deflate data (${(e as Error).message})`);
    }
  } else return bad(`unsupported compression method ${entry.method}`);
  if (data.length !== entry.size) bad(`size is ${data.length}, expected ${entry.size}`);
  if (crc32(data) !== entry.crc) bad("CRC-32 mismatch");
  return data;
}

/**
 * Reads the entries of a zip archive held in memory.
 *
 * @example
 * ```ts
 * import { readZipEntries } from "./archive.ts";
 * const bytes = await Deno.readFile("repo.zip");
 * for await (const e of readZipEntries(bytes, "repo.zip", { wantData: () => true })) console.log(e.name);
 * ```
 */
export async function* readZipEntries(
  bytes: Uint8Array,
  archive: string,
  opts: { wantData?: (entry: ArchiveEntry) => boolean } = {},
): AsyncGenerator<ArchiveEntry> {
  for (const central of readZipDirectory(bytes, archive)) {
    const unixMode = central.madeBy >> 8 === 3 ? central.externalAttrs >>> 16 : 0;
    const fileType = unixMode & 0o170000;
    let type: EntryType;
    if (central.name.endsWith("/") || fileType === 0o040000) type = "directory";
    else if (fileType === 0o120000) type = "symlink";
    else if (fileType === 0 || fileType === 0o100000) type = "file";
    else type = "other";
    const entry: ArchiveEntry = {
      name: central.name,
      type,
      size: type === "file" ? central.size : 0,
      mode: unixMode & 0o7777,
    };
    if (type === "symlink") {
      entry.linkName = decoder.decode(await readZipData(bytes, central, archive));
    }
    if (type === "file" && opts.wantData?.(entry)) {
      entry.data = await readZipData(bytes, central, archive);
    }
    yield entry;
  }
}

// ---------------------------------------------------------------------------------------------
// format detection and the common entry reader

/**
 * Detects an archive's format from its first bytes.
 *
 * @example
 * ```ts
 * import { detectArchiveFormat } from "./archive.ts";
 * await detectArchiveFormat("repo.tar.gz"); // "tar.gz"
 * ```
 */
export async function detectArchiveFormat(archivePath: string): Promise<ArchiveFormat> {
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
  if (head.length === 512 && (cString(head, 257, 5) === "ustar" || headerChecksumOk(head))) {
    return "tar";
  }
  const preview = decoder.decode(head.subarray(0, 16)).replace(/[^\x20-\x7e]/g, ".");
  throw new ArchiveError(
    `${archivePath} is not a .tar.gz, .tar or .zip archive (it starts with "${preview}"). ` +
      `It may be an error page saved instead of the archive: delete it and download it again.`,
    archivePath,
  );
}

/**
 * Reads the entries of a `.tar.gz`, `.tar` or `.zip` file. Tar archives are streamed, so a
 * caller that stops early (breaks out of the loop) does not read the rest.
 *
 * @example
 * ```ts
 * import { readArchiveEntries } from "./archive.ts";
 * for await (const e of readArchiveEntries("repo.tar.gz")) console.log(e.type, e.name);
 * ```
 */
export async function* readArchiveEntries(
  archivePath: string,
  opts: ReadEntriesOptions = {},
): AsyncGenerator<ArchiveEntry> {
  const format = opts.format ?? await detectArchiveFormat(archivePath);
  if (format === "zip") {
    yield* readZipEntries(await Deno.readFile(archivePath), archivePath, opts);
    return;
  }
  const file = await Deno.open(archivePath, { read: true });
  let stream: ReadableStream<Uint8Array> = file.readable;
  if (format === "tar.gz") stream = stream.pipeThrough(decompressor("gzip"));
  yield* readTarStream(stream, archivePath, opts);
}

// ---------------------------------------------------------------------------------------------
// extraction

/**
 * Extracts an archive into `destDir`, safely: every entry path is checked first (absolute paths
 * and `..` are refused with an {@link ArchiveError} and nothing is left behind), links and device
 * entries are skipped, and the files go to a temporary directory beside `destDir` that is renamed
 * into place only at the end.
 *
 * @example
 * ```ts
 * import { extractArchive } from "./archive.ts";
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
  const result: ExtractResult = { dir: dest, files: [], directories: 0, skipped: [] };
  const madeDirs = new Set<string>();
  const ensureDir = async (dir: string) => {
    if (madeDirs.has(dir)) return;
    await Deno.mkdir(dir, { recursive: true });
    madeDirs.add(dir);
  };
  try {
    const entries = readArchiveEntries(archivePath, {
      format: opts.format,
      wantData: (e) => e.type === "file",
    });
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
          await Deno.writeFile(target, entry.data ?? new Uint8Array(0), {
            mode: entry.mode & 0o111 ? 0o755 : 0o644,
          });
          result.files.push(segments.join("/"));
        }
      } catch (e) {
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
