/**
 * The vocabulary shared by the archive readers (`archive_tar.ts`, `archive_zip.ts`) and the
 * extractor (`archive_extract.ts`): what an entry is, the error every reader throws, the check
 * that keeps entry paths inside the destination, and the resource limits.
 *
 * @module
 */
import { CarplaneError } from "../errors.ts";

/** A malformed, truncated, unsupported, unsafe or too large archive. */
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
  /** Size of the entry's content in bytes, as the archive declares it. */
  size: number;
  /** Unix permission bits, when known. */
  mode: number;
  /** Target of a symlink or hardlink. */
  linkName?: string;
  /** The content, when the `wantData` callback asked for it (files only). */
  data?: Uint8Array;
  /**
   * The content as a stream of chunks (files only), valid until the reader moves to the next
   * entry; unread content is skipped. Counted against {@link ArchiveLimits.maxEntryBytes}.
   */
  body?: () => AsyncIterable<Uint8Array>;
}

/** Options of the entry readers. */
export interface ReadEntriesOptions {
  /** Format; detected from the first bytes when omitted. */
  format?: ArchiveFormat;
  /** Which file entries to read the whole content of into `data` (default: none). */
  wantData?: (entry: ArchiveEntry) => boolean;
  /** Resource limits (default {@link DEFAULT_ARCHIVE_LIMITS}). */
  limits?: Partial<ArchiveLimits>;
}

/**
 * Caps on what reading or extracting one archive may cost, so that a small hostile archive (a
 * "zip bomb": a few MB of gzip holding a 5 GB file of zeros) is refused instead of filling the
 * memory or the disk.
 */
export interface ArchiveLimits {
  /** Bytes one entry may unpack to (default 1 GiB; CIFAR-10's largest member is 30 MB). */
  maxEntryBytes: number;
  /** Bytes all entries together may unpack to (default 4 GiB). */
  maxTotalBytes: number;
  /** Entries an archive may hold (default 1,000,000). */
  maxEntries: number;
  /**
   * Unpacked bytes per archive byte (default 200), checked once more than
   * `ratioCheckAfterBytes` were unpacked: photos (JPEG, PNG) do not compress, CIFAR-10's
   * binary tarball unpacks 1.1x, a file of zeros gzips 1000x.
   */
  maxRatio: number;
  /** Unpacked bytes before the ratio is checked (default 64 MiB; small archives of text may exceed the ratio harmlessly). */
  ratioCheckAfterBytes: number;
}

/** The limits used when none are given. */
export const DEFAULT_ARCHIVE_LIMITS: Readonly<ArchiveLimits> = Object.freeze({
  maxEntryBytes: 1024 ** 3,
  maxTotalBytes: 4 * 1024 ** 3,
  maxEntries: 1_000_000,
  maxRatio: 200,
  ratioCheckAfterBytes: 64 * 1024 ** 2,
});

/**
 * `limits` completed with the defaults.
 *
 * @example
 * ```ts
 * import { archiveLimits } from "./archive_entry.ts";
 * archiveLimits({ maxEntries: 10 }).maxEntryBytes; // 1073741824
 * ```
 */
export function archiveLimits(limits: Partial<ArchiveLimits> = {}): ArchiveLimits {
  return { ...DEFAULT_ARCHIVE_LIMITS, ...limits };
}

/**
 * Bytes in words, for messages.
 *
 * @example
 * ```ts
 * import { formatBytes } from "./archive_entry.ts";
 * formatBytes(1024 ** 3); // "1.0 GiB"
 * formatBytes(512); // "512 B"
 * ```
 */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/**
 * Counts the bytes an archive unpacks to and refuses, with an {@link ArchiveError} naming the
 * entry and the limit, as soon as an entry, the total or the expansion ratio goes over
 * {@link ArchiveLimits}.
 *
 * @example
 * ```ts
 * import { UnpackBudget } from "./archive_entry.ts";
 * const budget = new UnpackBudget("a.tar.gz", { maxEntryBytes: 10 }, () => 5);
 * budget.startEntry("x.bin");
 * budget.add(8); // fine
 * // budget.add(8) would throw: "x.bin" unpacks to more than 10 B
 * ```
 */
export class UnpackBudget {
  readonly limits: ArchiveLimits;
  #archive: string;
  #packedBytes: () => number;
  #entry = "";
  #entryBytes = 0;
  #entries = 0;
  /** Bytes unpacked so far, all entries together. */
  total = 0;

  /**
   * @param archive the archive's path, for messages
   * @param limits the caps (defaults for the missing ones)
   * @param packedBytes how many bytes of the archive file were read so far (for the ratio)
   */
  constructor(archive: string, limits: Partial<ArchiveLimits>, packedBytes: () => number) {
    this.#archive = archive;
    this.limits = archiveLimits(limits);
    this.#packedBytes = packedBytes;
  }

  /** Starts counting a new entry. */
  startEntry(name: string): void {
    this.#entry = name;
    this.#entryBytes = 0;
    if (++this.#entries > this.limits.maxEntries) {
      this.#refuse(`it holds more than ${this.limits.maxEntries} entries`);
    }
  }

  /** Counts `n` more unpacked bytes of the current entry. */
  add(n: number): void {
    this.#entryBytes += n;
    this.total += n;
    const l = this.limits;
    if (this.#entryBytes > l.maxEntryBytes) {
      this.#refuse(`entry "${this.#entry}" unpacks to more than ${formatBytes(l.maxEntryBytes)}`);
    }
    if (this.total > l.maxTotalBytes) {
      this.#refuse(`it unpacks to more than ${formatBytes(l.maxTotalBytes)} in all`);
    }
    if (this.total > l.ratioCheckAfterBytes) {
      const packed = Math.max(1, this.#packedBytes());
      if (this.total / packed > l.maxRatio) {
        this.#refuse(
          `${formatBytes(packed)} of it unpack to ${formatBytes(this.total)}, more than ` +
            `${l.maxRatio} times their size (a "zip bomb"?)`,
        );
      }
    }
  }

  /** Checks a size an entry declares before reading it (so a huge entry is refused at once). */
  checkDeclared(name: string, size: number): void {
    if (size > this.limits.maxEntryBytes) {
      this.#entry = name;
      this.#refuse(
        `entry "${name}" declares ${formatBytes(size)}, more than ${
          formatBytes(this.limits.maxEntryBytes)
        }`,
      );
    }
  }

  #refuse(why: string): never {
    throw new ArchiveError(
      `Refusing to unpack ${this.#archive}: ${why}. Nothing was kept. A dataset archive of ` +
        `images never needs that much; if this one really does, extract it yourself and pass ` +
        `the folder.`,
      this.#archive,
      this.#entry || undefined,
    );
  }
}

/**
 * Checks an entry name and returns its safe relative segments (empty for the archive root).
 * Throws an {@link ArchiveError} for absolute paths, drive letters, `..` segments and NUL bytes.
 *
 * @example
 * ```ts
 * import { safeEntrySegments } from "./archive_entry.ts";
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

/**
 * Reads all of an entry's `body` into one array (callers cap it through the limits).
 *
 * @example
 * ```ts
 * import { collectBody } from "./archive_entry.ts";
 * const bytes = await collectBody([new Uint8Array([1, 2]), new Uint8Array([3])]); // [1, 2, 3]
 * ```
 */
export async function collectBody(
  body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of body) {
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
