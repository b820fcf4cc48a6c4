/**
 * The output folder and the dataset folder must not overlap: a run writing its charts into the
 * dataset would train on them next time (issue 11: `--out data/training_set/cars` made the next
 * run find 163 images), and a dataset inside the output folder would be swapped away with the
 * run it sits in.
 *
 * @module
 */
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { OutputError } from "./outputs.ts";

/** The real path of `path`, following symlinks as far as the path exists. */
async function realPathSoFar(path: string): Promise<string> {
  const absolute = resolve(path);
  const rest: string[] = [];
  let current = absolute;
  while (true) {
    try {
      return join(await Deno.realPath(current), ...rest.reverse());
    } catch {
      const parent = dirname(current);
      if (parent === current) return absolute;
      rest.push(basename(current));
      current = parent;
    }
  }
}

function isInside(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/**
 * Throws an {@linkcode OutputError} when the output folder is the dataset folder, lies inside
 * it, or holds it (symlinks followed, for the parts that exist).
 *
 * @example
 * ```ts
 * await checkSeparateFolders("data", "outputs"); // fine
 * await checkSeparateFolders("data", "data/training_set/cars"); // throws
 * ```
 */
export async function checkSeparateFolders(dataDir: string, outDir: string): Promise<void> {
  const data = await realPathSoFar(dataDir);
  const out = await realPathSoFar(outDir);
  if (isInside(out, data)) {
    throw new OutputError(
      `The output folder ${outDir} is inside the dataset folder ${dataDir}: the run's charts ` +
        "and models would be read as images by the next run. Choose an output folder outside " +
        `${data}.`,
    );
  }
  if (isInside(data, out)) {
    throw new OutputError(
      `The dataset folder ${dataDir} is inside the output folder ${outDir}: a run writes and ` +
        `replaces files in its output folder. Choose an output folder that does not contain ` +
        `${data}.`,
    );
  }
}
