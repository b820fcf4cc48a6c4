/**
 * Reader of zip archives through their central directory (ZIP64 included), reading the file
 * in ranges: entries are inflated as streams (`DecompressionStream("deflate-raw")`) and checked
 * against their declared size and CRC-32, so memory stays bounded whatever the archive holds.
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

/** A central directory larger than this is not a dataset archive's (about a million entries). */
const MAX_CENTRAL_DIRECTORY = 128 * 1024 * 1024;

const CHUNK = 64 * 1024;

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
 * CRC-32 (as in zip and gzip) of some bytes; pass the previous value to continue over chunks.
 *
 * @example
 * ```ts
 * import { crc32 } from "./archive_zip.ts";
 * crc32(new TextEncoder().encode("123456789")); // 0xcbf43926
 * ```
 */
export function crc32(data: Uint8Array, previous = 0): number {
  let c = (previous ^ 0xffffffff) >>> 0;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
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

/** Reads exactly `length` bytes at `offset` (fewer only at the end of the file). */
async function readAt(file: Deno.FsFile, offset: number, length: number): Promise<Uint8Array> {
  await file.seek(offset, Deno.SeekMode.Start);
  const out = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    const n = await file.read(out.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  return out.subarray(0, filled);
}

async function readZipDirectory(
  file: Deno.FsFile,
  fileSize: number,
  archive: string,
): Promise<ZipCentralEntry[]> {
  const bad = (why: string): never => {
    throw new ArchiveError(
      `${archive} is not a readable zip archive (${why}). Delete it and download it again.`,
      archive,
    );
  };
  // End of central directory: at the end, before an optional comment of up to 65535 bytes.
  const tailStart = Math.max(0, fileSize - 22 - 65535 - 20);
  const tail = await readAt(file, tailStart, fileSize - tailStart);
  const tv = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tv.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) bad("no end-of-central-directory record; the file may be truncated");
  let count = tv.getUint16(eocd + 10, true);
  let cdSize = tv.getUint32(eocd + 12, true);
  let cdOffset = tv.getUint32(eocd + 16, true);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const locator = eocd - 20;
    if (locator < 0 || tv.getUint32(locator, true) !== 0x07064b50) bad("missing ZIP64 locator");
    const z64 = Number(tv.getBigUint64(locator + 8, true));
    const rec = await readAt(file, z64, 56);
    const rv = new DataView(rec.buffer, rec.byteOffset, rec.byteLength);
    if (rec.length < 56 || rv.getUint32(0, true) !== 0x06064b50) {
      bad("bad ZIP64 end of central directory");
    }
    count = Number(rv.getBigUint64(32, true));
    cdSize = Number(rv.getBigUint64(40, true));
    cdOffset = Number(rv.getBigUint64(48, true));
  }
  if (cdOffset + cdSize > fileSize) bad("the central directory lies past the end of the file");
  if (cdSize > MAX_CENTRAL_DIRECTORY) bad(`a central directory of ${cdSize} bytes`);
  const cd = await readAt(file, cdOffset, cdSize);
  const view = new DataView(cd.buffer, cd.byteOffset, cd.byteLength);
  const entries: ZipCentralEntry[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cd.length || view.getUint32(p, true) !== 0x02014b50) {
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
    const name = decoder.decode(cd.subarray(p + 46, p + 46 + nameLen));
    // ZIP64 extra field: the 0xffffffff fields, in order.
    let e = p + 46 + nameLen;
    const extraEnd = Math.min(e + extraLen, cd.length);
    while (e + 4 <= extraEnd) {
      const id = view.getUint16(e, true);
      const len = view.getUint16(e + 2, true);
      if (id === 0x0001 && e + 4 + len <= extraEnd) {
        let q = e + 4;
        const next = () => {
          if (q + 8 > e + 4 + len) bad(`bad ZIP64 extra field in entry #${i}`);
          q += 8;
          return Number(view.getBigUint64(q - 8, true));
        };
        if (size === 0xffffffff) size = next();
        if (compressedSize === 0xffffffff) compressedSize = next();
        if (localOffset === 0xffffffff) localOffset = next();
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

/** The chunks of one entry's content, inflated, counted and checked (size and CRC-32). */
async function* entryContent(
  file: Deno.FsFile,
  fileSize: number,
  entry: ZipCentralEntry,
  archive: string,
  budget: UnpackBudget,
  packed: { bytes: number },
): AsyncGenerator<Uint8Array> {
  const bad = (why: string): never => {
    throw new ArchiveError(
      `Cannot read "${entry.name}" from ${archive}: ${why}. Delete the archive and download it again.`,
      archive,
      entry.name,
    );
  };
  const local = await readAt(file, entry.localOffset, 30);
  const lv = new DataView(local.buffer, local.byteOffset, local.byteLength);
  if (local.length < 30 || lv.getUint32(0, true) !== 0x04034b50) bad("bad local header");
  if (entry.flags & 1) bad("the entry is encrypted");
  if (entry.method !== 0 && entry.method !== 8) {
    bad(`unsupported compression method ${entry.method}`);
  }
  const start = entry.localOffset + 30 + lv.getUint16(26, true) + lv.getUint16(28, true);
  const end = start + entry.compressedSize;
  if (end > fileSize) bad("the archive is truncated");
  let position = start;
  const raw = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (position >= end) {
        controller.close();
        return;
      }
      const chunk = await readAt(file, position, Math.min(CHUNK, end - position));
      if (chunk.length === 0) {
        controller.error(new Error("unexpected end of file"));
        return;
      }
      position += chunk.length;
      packed.bytes += chunk.length;
      controller.enqueue(chunk);
    },
  });
  const content = entry.method === 0 ? raw : raw.pipeThrough(
    new DecompressionStream("deflate-raw") as unknown as TransformStream<Uint8Array, Uint8Array>,
  );
  let crc = 0;
  let size = 0;
  const reader = content.getReader();
  try {
    while (true) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read();
      } catch (e) {
        return bad(`corrupt deflate data (${(e as Error).message})`);
      }
      if (result.done) break;
      const chunk = result.value;
      size += chunk.length;
      if (size > entry.size) bad(`it inflates to more than the ${entry.size} bytes it declares`);
      budget.add(chunk.length);
      crc = crc32(chunk, crc);
      yield chunk;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  if (size !== entry.size) bad(`size is ${size}, expected ${entry.size}`);
  if (crc !== entry.crc) bad("CRC-32 mismatch");
}

/** Options of {@link readZipEntries}. */
export interface ZipReadOptions {
  /** Which file entries to read the whole content of into `data` (default: none). */
  wantData?: (entry: ArchiveEntry) => boolean;
  /** Resource limits (default {@link DEFAULT_ARCHIVE_LIMITS}); the ratio is to the compressed bytes. */
  limits?: Partial<ArchiveLimits>;
}

/**
 * Reads the entries of a zip file, one at a time: a file entry's content is its `body` stream
 * (or `data`, when `wantData` asks for it). Declared sizes are checked against the limits
 * before anything is inflated, and actual sizes while inflating.
 *
 * @example
 * ```ts
 * import { readZipEntries } from "./archive_zip.ts";
 * for await (const e of readZipEntries("repo.zip", { wantData: () => true })) console.log(e.name);
 * ```
 */
export async function* readZipEntries(
  archive: string,
  opts: ZipReadOptions = {},
): AsyncGenerator<ArchiveEntry> {
  const packed = { bytes: 0 };
  const budget = new UnpackBudget(archive, opts.limits ?? {}, () => packed.bytes);
  const file = await Deno.open(archive, { read: true });
  try {
    const fileSize = (await file.stat()).size;
    for (const central of await readZipDirectory(file, fileSize, archive)) {
      const unixMode = central.madeBy >> 8 === 3 ? central.externalAttrs >>> 16 : 0;
      const fileType = unixMode & 0o170000;
      let type: EntryType;
      if (central.name.endsWith("/") || fileType === 0o040000) type = "directory";
      else if (fileType === 0o120000) type = "symlink";
      else if (fileType === 0 || fileType === 0o100000) type = "file";
      else type = "other";
      budget.startEntry(central.name);
      const entry: ArchiveEntry = {
        name: central.name,
        type,
        size: type === "file" ? central.size : 0,
        mode: unixMode & 0o7777,
      };
      if (type === "symlink" && central.size <= 4096) {
        // Only to say where it pointed: links are never extracted.
        entry.linkName = decoder.decode(
          await collectBody(entryContent(file, fileSize, central, archive, budget, packed)),
        );
      }
      if (type === "file") {
        budget.checkDeclared(central.name, central.size);
        entry.body = () => entryContent(file, fileSize, central, archive, budget, packed);
        if (opts.wantData?.(entry)) entry.data = await collectBody(entry.body());
      }
      yield entry;
      entry.body = undefined;
    }
  } finally {
    file.close();
  }
}
