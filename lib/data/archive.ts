/**
 * Reading and safely extracting `.tar.gz` / `.tgz`, `.tar` and `.zip` archives, with no
 * dependency. The front door of `archive_entry.ts` (entries, errors, limits),
 * `archive_tar.ts`, `archive_zip.ts` and `archive_extract.ts`.
 *
 * @module
 */
export {
  type ArchiveEntry,
  ArchiveError,
  type ArchiveFormat,
  type ArchiveLimits,
  DEFAULT_ARCHIVE_LIMITS,
  type EntryType,
  type ReadEntriesOptions,
  safeEntrySegments,
} from "./archive_entry.ts";
export { readTarStream, type TarReadOptions } from "./archive_tar.ts";
export { crc32, readZipEntries, type ZipReadOptions } from "./archive_zip.ts";
export {
  detectArchiveFormat,
  extractArchive,
  type ExtractOptions,
  type ExtractResult,
  readArchiveEntries,
  type SkippedEntry,
} from "./archive_extract.ts";
