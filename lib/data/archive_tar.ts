/**
 * Streaming reader of tar archives (ustar, GNU long names and base-256 sizes, pax extended and
 * global headers, as in GitHub's tarballs). Entries come one at a time with their content as a
 * stream, so memory stays bounded whatever the archive holds.
 *
 * @module
 */
import {
  type ArchiveEntry,
  ArchiveError,
  type ArchiveLimits,
  collectBody,
  type EntryType,
  UnpackBudget,
} from "./archive_entry.ts";

const decoder = new TextDecoder();

/** Pax and GNU long-name headers are metadata: more than this is a corrupt or hostile archive. */
const MAX_HEADER_BODY = 1024 * 1024;

/** Chunk size handed to entry bodies. */
const CHUNK = 64 * 1024;

/** Buffered reads of exact byte counts from a stream. */
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

/**
 * Whether a 512-byte block is a tar header (its checksum is right).
 *
 * @example
 * ```ts
 * import { isTarHeader } from "./archive_tar.ts";
 * isTarHeader(new Uint8Array(512)); // false
 * ```
 */
export function isTarHeader(block: Uint8Array): boolean {
  if (block.length < 512) return false;
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

/** Options of {@link readTarStream}. */
export interface TarReadOptions {
  /** Which file entries to read the whole content of into `data` (default: none). */
  wantData?: (entry: ArchiveEntry) => boolean;
  /** Resource limits (default {@link DEFAULT_ARCHIVE_LIMITS}). */
  limits?: Partial<ArchiveLimits>;
  /** Bytes of the archive file read so far, for the expansion ratio (default: the tar bytes). */
  packedBytes?: () => number;
}

/**
 * Reads the entries of a tar stream (already decompressed), one at a time, without buffering
 * entries: a file entry's content is its `body` stream (or `data`, when `wantData` asks for
 * it), and whatever the caller does not read is skipped. Pax headers (`x` and the global `g` of
 * GitHub tarballs) and GNU long names (`L`, `K`) are applied to the entries they describe and
 * not yielded themselves. Sizes are checked against the budget's limits before any content is
 * read.
 *
 * @example
 * ```ts
 * import { readTarStream } from "./archive_tar.ts";
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
  opts: TarReadOptions = {},
): AsyncGenerator<ArchiveEntry> {
  const reader = new ByteReader(stream);
  const budget = new UnpackBudget(
    archive,
    opts.limits ?? {},
    opts.packedBytes ?? (() => reader.offset),
  );
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
  const truncated = (name: string) =>
    new ArchiveError(
      `${archive} is truncated: it ends inside entry "${name}". ` +
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
      if (!isTarHeader(block)) {
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
      if (!Number.isSafeInteger(size) || size < 0) {
        throw new ArchiveError(
          `${archive} is corrupt: bad entry size at byte ${reader.offset - 512}.`,
          archive,
        );
      }
      const rawName = cString(block, 0, 100);
      const skipRest = async (left: number): Promise<void> => {
        let skipped: number;
        try {
          skipped = await reader.skip(left + padTo512(size));
        } catch (e) {
          throw corrupt(e);
        }
        if (skipped < left + padTo512(size)) throw truncated(rawName);
      };
      const readHeaderBody = async (): Promise<Uint8Array> => {
        if (size > MAX_HEADER_BODY) {
          throw new ArchiveError(
            `${archive} is corrupt: a ${size}-byte extended header at byte ${
              reader.offset - 512
            }. Delete it and download it again.`,
            archive,
          );
        }
        let data: Uint8Array;
        try {
          data = await reader.read(size);
        } catch (e) {
          throw corrupt(e);
        }
        if (data.length < size) throw truncated(rawName);
        await skipRest(0);
        return data;
      };

      if (typeflag === "x") {
        pax = { ...pax, ...parsePax(await readHeaderBody(), archive) };
        continue;
      }
      if (typeflag === "g") {
        parsePax(await readHeaderBody(), archive); // validated; global records (a commit id) ignored
        continue;
      }
      if (typeflag === "L" || typeflag === "K") {
        const text = cString(await readHeaderBody(), 0, size);
        if (typeflag === "L") longName = text;
        else longLink = text;
        continue;
      }

      let name = rawName;
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
      budget.startEntry(name);
      const entry: ArchiveEntry = {
        name,
        type,
        size: type === "file" ? size : 0,
        mode: parseNumber(block, 100, 8) || 0,
        linkName,
      };
      let left = size;
      if (type === "file") {
        budget.checkDeclared(name, size);
        let started = false;
        entry.body = () => {
          if (started) {
            throw new ArchiveError(
              `The content of "${name}" can be read only once.`,
              archive,
              name,
            );
          }
          started = true;
          return (async function* () {
            while (left > 0) {
              let chunk: Uint8Array;
              try {
                chunk = await reader.read(Math.min(CHUNK, left));
              } catch (e) {
                throw corrupt(e);
              }
              if (chunk.length === 0) throw truncated(name);
              left -= chunk.length;
              budget.add(chunk.length);
              yield chunk;
            }
          })();
        };
        if (opts.wantData?.(entry)) entry.data = await collectBody(entry.body());
      }
      yield entry;
      entry.body = undefined;
      await skipRest(left);
    }
  } finally {
    await reader.cancel();
  }
}
