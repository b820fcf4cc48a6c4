/**
 * Small file-system questions asked all over the project, answered one way: a missing path is
 * `null`/`false`, any other error (permissions, I/O) is thrown.
 *
 * @module
 */

/**
 * `Deno.stat` (or `Deno.lstat` with `links: false`), or null when the path does not exist.
 *
 * @example
 * ```ts
 * const info = await statOrNull("data/training_set");
 * if (info?.isDirectory) console.log("have training images");
 * ```
 */
export async function statOrNull(
  path: string,
  options: { followLinks?: boolean } = {},
): Promise<Deno.FileInfo | null> {
  try {
    return options.followLinks === false ? await Deno.lstat(path) : await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/**
 * Whether `path` exists (with `followLinks: false`, a dangling symlink counts as existing).
 *
 * @example
 * ```ts
 * if (await pathExists("outputs/metrics.json")) console.log("a complete run is there");
 * ```
 */
export async function pathExists(
  path: string,
  options: { followLinks?: boolean } = {},
): Promise<boolean> {
  return (await statOrNull(path, options)) !== null;
}

/**
 * Whether `path` is a directory (following symlinks).
 *
 * @example
 * ```ts
 * await isDirectory("data/test"); // true
 * ```
 */
export async function isDirectory(path: string): Promise<boolean> {
  return (await statOrNull(path))?.isDirectory ?? false;
}
