/**
 * Cached, checked downloads.
 *
 * `download()` fetches a file once into a cache directory and returns its path. A file already
 * in the cache that passes the size and hash checks is used without touching the network. A
 * download streams into `<name>.part-<random>` beside the final file, shows progress on stderr
 * when stderr is a terminal, checks the size and hash, and only then renames the file into place:
 * the cache never holds a partial or corrupt file under the final name.
 *
 * @module
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as os from "node:os";
import { pathExists } from "../_fs.ts";
import { CarplaneError } from "../errors.ts";

/** A download failed on every URL; the message says what happened and how to get the file by hand. */
export class DownloadError extends CarplaneError {
  /** Every URL that was tried, in order. */
  readonly urls: string[];
  /** Where the file would have been cached (where to put a hand-downloaded copy). */
  readonly cachedPath: string;
  /** What went wrong with each URL. */
  readonly failures: DownloadFailure[];
  /** A file that cannot be downloaded is unavailable: an optional step may skip it. */
  override readonly unavailable = true;

  constructor(
    message: string,
    urls: string[],
    cachedPath: string,
    failures: DownloadFailure[] = [],
  ) {
    super(message);
    this.name = "DownloadError";
    this.urls = urls;
    this.cachedPath = cachedPath;
    this.failures = failures;
  }
}

/** What went wrong with one URL. */
export interface DownloadFailure {
  url: string;
  reason: string;
}

/** Progress of one download, reported to `onProgress`. */
export interface DownloadProgress {
  url: string;
  /** Bytes received so far. */
  received: number;
  /** Expected total (from `expectedSize` or Content-Length), when known. */
  total?: number;
}

/** Options of {@link download} and {@link resolveLocalOrDownload}. */
export interface DownloadOptions {
  /** Cache directory; defaults to {@link defaultCacheDir}. */
  cacheDir?: string;
  /**
   * File name in the cache. Default: {@link cacheFileName}, keyed by the whole URL (and the
   * expected hash), so `http://a/v1/w.h5` and `http://a/v2/w.h5` are cached apart. Give a
   * fixed name only for files checked by their hash.
   */
  fileName?: string;
  /** Exact size in bytes the file must have. */
  expectedSize?: number;
  /** Expected MD5 as hex. */
  md5?: string;
  /** Expected SHA-256 as hex. */
  sha256?: string;
  /** Called as bytes arrive. */
  onProgress?: (progress: DownloadProgress) => void;
  /** Where messages go (default: stderr). */
  log?: (message: string) => void;
  /** Draw a progress bar on stderr; default: only when stderr is a terminal. */
  progressBar?: boolean;
  /** Abort a download that receives nothing for this long (default 60 s). */
  idleTimeoutMs?: number;
  /** Cancels the download. */
  signal?: AbortSignal;
}

/** Environment lookup used by {@link defaultCacheDir} (defaults to `Deno.env.get`). */
export type EnvLookup = (name: string) => string | undefined;

/**
 * The cache directory: `$CARPLANE_CACHE_DIR`, else `$XDG_CACHE_HOME/carplane`, else
 * `~/.cache/carplane`.
 *
 * @example
 * ```ts
 * import { defaultCacheDir } from "./download.ts";
 * defaultCacheDir((name) => ({ HOME: "/home/me" })[name]); // "/home/me/.cache/carplane"
 * ```
 */
export function defaultCacheDir(env: EnvLookup = (name) => Deno.env.get(name)): string {
  const explicit = env("CARPLANE_CACHE_DIR");
  if (explicit) return path.resolve(explicit);
  const xdg = env("XDG_CACHE_HOME");
  if (xdg) return path.resolve(xdg, "carplane");
  const home = env("HOME") ?? env("USERPROFILE") ?? os.homedir();
  return path.resolve(home, ".cache", "carplane");
}

/**
 * True when `s` looks like an http(s) URL rather than a local path.
 *
 * @example
 * ```ts
 * import { isUrl } from "./download.ts";
 * isUrl("https://example.org/w.h5"); // true
 * isUrl("./w.h5"); // false
 * ```
 */
export function isUrl(s: string): boolean {
  return /^https?:\/\//i.test(s);
}

/**
 * The file name a URL would be cached under (its last path segment).
 *
 * @example
 * ```ts
 * import { fileNameFromUrl } from "./download.ts";
 * fileNameFromUrl("https://example.org/models/vgg16_notop.h5?x=1"); // "vgg16_notop.h5"
 * ```
 */
export function fileNameFromUrl(url: string): string {
  let name = "";
  try {
    name = decodeURIComponent(new URL(url).pathname.split("/").pop() ?? "");
  } catch {
    name = "";
  }
  if (!name || name === "." || name === ".." || /[\\/\0]/.test(name)) {
    throw new DownloadError(
      `Cannot derive a cache file name from ${url}; pass fileName.`,
      [url],
      "",
    );
  }
  return name;
}

/**
 * The name a download is cached under when no `fileName` is given: a key made of the whole URL
 * list and the expected hash, then the URL's own file name (kept last, for its extension).
 *
 * @example
 * ```ts
 * import { cacheFileName } from "./download.ts";
 * cacheFileName(["http://host/v1/w.h5"]); // "3f1c0e7a9b2d-w.h5" (the key depends on the URL)
 * ```
 */
export function cacheFileName(
  urls: readonly string[],
  opts: Pick<DownloadOptions, "md5" | "sha256"> = {},
): string {
  const key = createHash("sha256")
    .update([...urls, `md5=${opts.md5 ?? ""}`, `sha256=${opts.sha256 ?? ""}`].join("\n"))
    .digest("hex").slice(0, 12);
  return `${key}-${fileNameFromUrl(urls[0])}`;
}

/**
 * Moves a cached file that could not be used (it downloaded whole, but does not load) aside to
 * `<file>.unusable`, so the next run downloads it again instead of failing the same way; returns
 * a sentence saying so, for the error message.
 *
 * @example
 * ```ts
 * import { discardCachedFile } from "./download.ts";
 * const note = await discardCachedFile("/home/me/.cache/carplane/3f1c0e7a9b2d-w.h5");
 * ```
 */
export async function discardCachedFile(file: string): Promise<string> {
  const aside = `${file}.unusable`;
  try {
    await Deno.rename(file, aside);
    return `The downloaded ${file} was moved aside to ${aside}; the next run downloads it again.`;
  } catch (e) {
    return `Delete ${file} (it could not be moved aside: ${(e as Error).message}); the next run ` +
      `then downloads it again.`;
  }
}

function offlineHint(url: string, cachedPath: string): string {
  return `If you are offline, download it by hand from ${url} and put it at ${cachedPath}, ` +
    `or pass a local path.`;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

function defaultLog(message: string): void {
  console.error(message);
}

async function removeQuietly(p: string): Promise<void> {
  try {
    await Deno.remove(p);
  } catch {
    // already gone
  }
}

/** Deletes `<fileName>.part-*` files older than an hour, left by interrupted downloads. */
async function removeStalePartials(cacheDir: string, fileName: string): Promise<void> {
  const cutoff = Date.now() - 60 * 60 * 1000;
  try {
    for await (const e of Deno.readDir(cacheDir)) {
      if (!e.isFile || !e.name.startsWith(`${fileName}.part-`)) continue;
      const p = path.join(cacheDir, e.name);
      const { mtime } = await Deno.stat(p);
      if (mtime && mtime.getTime() < cutoff) await removeQuietly(p);
    }
  } catch {
    // best effort
  }
}

/** MD5 and SHA-256 (hex) of a file, streamed. */
async function hashFile(p: string): Promise<{ md5: string; sha256: string }> {
  const md5 = createHash("md5");
  const sha = createHash("sha256");
  const file = await Deno.open(p, { read: true });
  try {
    const buf = new Uint8Array(1 << 20);
    while (true) {
      const n = await file.read(buf);
      if (n === null) break;
      md5.update(buf.subarray(0, n));
      sha.update(buf.subarray(0, n));
    }
  } finally {
    file.close();
  }
  return { md5: md5.digest("hex"), sha256: sha.digest("hex") };
}

/** Returns why a file fails the checks, or `undefined` when it passes. */
function checkFacts(
  size: number,
  hashes: { md5?: string; sha256?: string },
  opts: DownloadOptions,
): string | undefined {
  if (opts.expectedSize !== undefined && size !== opts.expectedSize) {
    return `size is ${size} bytes, expected ${opts.expectedSize}`;
  }
  if (opts.md5 && hashes.md5 && hashes.md5.toLowerCase() !== opts.md5.toLowerCase()) {
    return `MD5 is ${hashes.md5}, expected ${opts.md5.toLowerCase()} ` +
      `(the file is corrupt or a different version)`;
  }
  if (opts.sha256 && hashes.sha256 && hashes.sha256.toLowerCase() !== opts.sha256.toLowerCase()) {
    return `SHA-256 is ${hashes.sha256}, expected ${opts.sha256.toLowerCase()} ` +
      `(the file is corrupt or a different version)`;
  }
  return undefined;
}

/** Checks an existing file against size and hashes; `undefined` means it passes. */
async function verifyFile(p: string, opts: DownloadOptions): Promise<string | undefined> {
  const { size } = await Deno.stat(p);
  const sizeProblem = checkFacts(size, {}, opts);
  if (sizeProblem) return sizeProblem;
  if (!opts.md5 && !opts.sha256) return undefined;
  return checkFacts(size, await hashFile(p), opts);
}

interface ProgressDrawer {
  update(received: number, total: number | undefined): void;
  done(): void;
}

function makeProgressDrawer(
  label: string,
  enabled: boolean,
  log: (m: string) => void,
): ProgressDrawer {
  const start = performance.now();
  let lastDraw = 0;
  let lastQuarter = 0;
  let drew = false;
  const encoder = new TextEncoder();
  const line = (received: number, total: number | undefined): string => {
    const seconds = Math.max((performance.now() - start) / 1000, 1e-3);
    const speed = `${formatBytes(received / seconds)}/s`;
    if (total && total > 0) {
      const frac = Math.min(received / total, 1);
      const width = 24;
      const filled = Math.round(frac * width);
      const bar = "#".repeat(filled) + "-".repeat(width - filled);
      return `${label} [${bar}] ${(frac * 100).toFixed(0).padStart(3)}% ` +
        `${formatBytes(received)} / ${formatBytes(total)} ${speed}`;
    }
    return `${label} ${formatBytes(received)} ${speed}`;
  };
  return {
    update(received, total) {
      const now = performance.now();
      if (enabled) {
        if (now - lastDraw < 100) return;
        lastDraw = now;
        drew = true;
        Deno.stderr.writeSync(encoder.encode(`\r${line(received, total)}\x1b[K`));
        return;
      }
      // Not a terminal: an occasional line at each quarter of a large download.
      if (total && total >= 4 * 1024 * 1024) {
        const quarter = Math.floor((received / total) * 4);
        if (quarter > lastQuarter && quarter < 4) {
          lastQuarter = quarter;
          log(line(received, total));
        }
      }
    },
    done() {
      if (enabled && drew) Deno.stderr.writeSync(encoder.encode("\r\x1b[K"));
    },
  };
}

/** The useful part of a fetch failure ("Connection refused", "dns error: ..."). */
function networkReason(e: unknown): string {
  const cause = (e as { cause?: { message?: string } }).cause?.message;
  const text = cause ?? (e as Error).message ?? String(e);
  const tail = text.split(/client error \(Connect\):\s*/).pop() ?? text;
  return tail.replace(/^error sending request for url \([^)]*\):\s*/, "").trim();
}

async function writeAll(file: Deno.FsFile, chunk: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) offset += await file.write(chunk.subarray(offset));
}

/** Streams one URL into `tmpPath`; throws an Error whose message is the reason on failure. */
async function fetchInto(
  url: string,
  tmpPath: string,
  opts: DownloadOptions,
  log: (m: string) => void,
): Promise<void> {
  const idleMs = opts.idleTimeoutMs ?? 60_000;
  const controller = new AbortController();
  let idleTimer: ReturnType<typeof setTimeout> | undefined;
  let timedOut = false;
  const armIdle = () => {
    if (idleTimer !== undefined) clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, idleMs);
  };
  const onOuterAbort = () => controller.abort();
  opts.signal?.addEventListener("abort", onOuterAbort);
  armIdle();
  let received = 0;
  let total: number | undefined = opts.expectedSize;
  const drawer = makeProgressDrawer(
    path.basename(tmpPath).replace(/\.part-[0-9a-f]+$/, ""),
    opts.progressBar ?? Deno.stderr.isTerminal(),
    log,
  );
  try {
    let response: Response;
    try {
      response = await fetch(url, { signal: controller.signal });
    } catch (e) {
      if (timedOut) throw new Error(`no answer within ${idleMs / 1000} s`);
      if (opts.signal?.aborted) throw new Error("cancelled");
      throw new Error(`network error (${networkReason(e)})`);
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => {});
      throw new Error(
        `HTTP ${response.status}${response.statusText ? " " + response.statusText : ""}`,
      );
    }
    const encoding = response.headers.get("content-encoding");
    const lengthHeader = response.headers.get("content-length");
    const contentLength = lengthHeader !== null && (!encoding || encoding === "identity")
      ? Number(lengthHeader)
      : undefined;
    if (total === undefined && contentLength !== undefined && Number.isFinite(contentLength)) {
      total = contentLength;
    }
    if (
      opts.expectedSize !== undefined && contentLength !== undefined &&
      contentLength !== opts.expectedSize
    ) {
      await response.body?.cancel().catch(() => {});
      throw new Error(
        `the server announces ${contentLength} bytes, expected ${opts.expectedSize} ` +
          `(a different file?)`,
      );
    }
    log(`Downloading ${url}${total ? ` (${formatBytes(total)})` : ""}`);
    const md5 = createHash("md5");
    const sha = createHash("sha256");
    if (!response.body) throw new Error("the response has no body");
    const file = await Deno.open(tmpPath, { write: true, createNew: true });
    const reader = response.body.getReader();
    try {
      while (true) {
        let result: ReadableStreamReadResult<Uint8Array>;
        try {
          result = await reader.read();
        } catch (e) {
          const what = timedOut ? `nothing arrived for ${idleMs / 1000} s` : (e as Error).message;
          throw new Error(
            `the connection broke after ${received}` +
              `${contentLength !== undefined ? ` of ${contentLength}` : ""} bytes (${what})`,
          );
        }
        if (result.done) break;
        armIdle();
        const chunk = result.value;
        md5.update(chunk);
        sha.update(chunk);
        await writeAll(file, chunk);
        received += chunk.length;
        drawer.update(received, total);
        opts.onProgress?.({ url, received, total });
      }
    } finally {
      await reader.cancel().catch(() => {});
      file.close();
    }
    if (contentLength !== undefined && received !== contentLength) {
      throw new Error(
        `the download stopped after ${received} of ${contentLength} bytes (cut off)`,
      );
    }
    const problem = checkFacts(received, {
      md5: md5.digest("hex"),
      sha256: sha.digest("hex"),
    }, opts);
    if (problem) throw new Error(problem);
  } finally {
    if (idleTimer !== undefined) clearTimeout(idleTimer);
    opts.signal?.removeEventListener("abort", onOuterAbort);
    drawer.done();
  }
}

/**
 * Downloads a file into the cache (or finds it there) and returns its path.
 *
 * `url` may be a list of mirrors, tried in order; the error then reports every failure. A cached
 * file that fails the size or hash checks is downloaded again. On any failure the temporary file
 * is deleted and a {@link DownloadError} explains what happened and how to get the file by hand.
 *
 * @example
 * ```ts
 * import { download } from "./download.ts";
 * const file = await download([
 *   "https://storage.example.org/vgg16_notop.h5",
 *   "https://mirror.example.org/vgg16_notop.h5",
 * ], { cacheDir: "/tmp/cache", expectedSize: 58889256, md5: "6d6bbae143d832006294945121d1f1fc" });
 * ```
 */
export async function download(
  url: string | readonly string[],
  opts: DownloadOptions = {},
): Promise<string> {
  const urls = typeof url === "string" ? [url] : [...url];
  if (urls.length === 0) throw new DownloadError("download() needs at least one URL.", [], "");
  const log = opts.log ?? defaultLog;
  const cacheDir = path.resolve(opts.cacheDir ?? defaultCacheDir());
  const fileName = opts.fileName ?? cacheFileName(urls, opts);
  const cachedPath = path.join(cacheDir, fileName);

  if (await pathExists(cachedPath)) {
    const problem = await verifyFile(cachedPath, opts);
    if (!problem) return cachedPath;
    log(`The cached ${cachedPath} is not usable (${problem}); downloading it again.`);
  }

  try {
    await Deno.mkdir(cacheDir, { recursive: true });
  } catch (e) {
    throw new DownloadError(
      `Cannot create the cache directory ${cacheDir} (${(e as Error).message}). ` +
        `Pass another cache directory or set CARPLANE_CACHE_DIR.`,
      urls,
      cachedPath,
    );
  }

  await removeStalePartials(cacheDir, fileName);
  const failures: DownloadFailure[] = [];
  for (const u of urls) {
    const suffix = crypto.randomUUID().replaceAll("-", "").slice(0, 12);
    const tmpPath = `${cachedPath}.part-${suffix}`;
    try {
      await fetchInto(u, tmpPath, opts, log);
      await Deno.rename(tmpPath, cachedPath);
      log(`Saved ${cachedPath}`);
      return cachedPath;
    } catch (e) {
      await removeQuietly(tmpPath);
      const reason = (e as Error).message;
      failures.push({ url: u, reason });
      if (urls.length > 1) log(`Could not download ${u}: ${reason}`);
      if (opts.signal?.aborted) break;
    }
  }

  const message = failures.length === 1
    ? `Could not download ${failures[0].url}: ${failures[0].reason}.\n` +
      offlineHint(urls[0], cachedPath)
    : `Could not download ${fileName} from any of ${failures.length} URLs:\n` +
      failures.map((f) => `  - ${f.url}: ${f.reason}`).join("\n") + "\n" +
      offlineHint(urls[0], cachedPath);
  throw new DownloadError(message, urls, cachedPath, failures);
}

/**
 * A local path is used as it is (it must exist); an http(s) URL, or a list of mirror URLs, is
 * downloaded through the cache with {@link download}. `file://` URLs count as local paths.
 *
 * @example
 * ```ts
 * import { resolveLocalOrDownload } from "./download.ts";
 * const local = await resolveLocalOrDownload("./weights.h5"); // returned as an absolute path
 * const remote = await resolveLocalOrDownload("https://example.org/weights.h5", { cacheDir: "/tmp/c" });
 * ```
 */
export async function resolveLocalOrDownload(
  pathOrUrl: string | readonly string[],
  opts: DownloadOptions = {},
): Promise<string> {
  const list = typeof pathOrUrl === "string" ? [pathOrUrl] : [...pathOrUrl];
  if (list.length > 0 && list.every(isUrl)) return await download(list, opts);
  if (list.length !== 1) {
    throw new DownloadError(
      `Expected one local path or a list of http(s) URLs, got: ${list.join(", ")}`,
      list,
      "",
    );
  }
  let local = list[0];
  if (/^file:\/\//i.test(local)) local = decodeURIComponent(new URL(local).pathname);
  const resolved = path.resolve(local);
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(resolved);
  } catch {
    throw new DownloadError(
      `The local file ${resolved} does not exist. Pass an existing file or an http(s) URL.`,
      [],
      resolved,
    );
  }
  if (!stat.isFile) {
    throw new DownloadError(
      `${resolved} is not a file. Pass the path of the file itself or an http(s) URL.`,
      [],
      resolved,
    );
  }
  return resolved;
}

/**
 * Lists the temporary `*.part-*` files in a cache directory (left by interrupted downloads).
 *
 * @example
 * ```ts
 * import { listPartialFiles } from "./download.ts";
 * listPartialFiles("/tmp/cache"); // [] after every download finished or failed cleanly
 * ```
 */
export function listPartialFiles(cacheDir: string): string[] {
  try {
    return fs.readdirSync(cacheDir).filter((n) => /\.part-[0-9a-f]+$/.test(n));
  } catch {
    return [];
  }
}
