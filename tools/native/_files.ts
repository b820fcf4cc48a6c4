/**
 * File helpers of the native setup (lib/_fs.ts is private to lib/).
 *
 * @module
 */
import { dirname } from "node:path";

/**
 * True when `path` exists (following links: a dangling link does not count).
 *
 * @example
 * ```ts
 * await exists("/usr/include/node/node_api.h"); // true on Debian with nodejs
 * ```
 */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes `data` to `path` through a temporary file beside it, creating folders: a reader never
 * sees a partial file under the final name.
 *
 * @example
 * ```ts
 * await writeFileAtomic("/tmp/x/lib/libtensorflow.so.2", bytes, 0o755);
 * ```
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array,
  mode?: number,
): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.writeFile(tmp, data, { mode });
  await Deno.rename(tmp, path);
}
