/**
 * `deno task data --source DIR|ARCHIVE|article|cifar10`: installs a dataset in the article's
 * layout into `data/` (validated first, copied atomically).
 *
 * @module
 */
import { checkPathFlag, intInRange, parseFlags, UsageError } from "./_args.ts";
import { runMain } from "./_main.ts";
import {
  ARTICLE_SPLITS,
  copyArticleLayout,
  fetchArticleDataset,
  fetchCifar10Dataset,
  formatFoundLine,
  installLocalDataset,
  projectPaths,
  validateArticleLayout,
} from "../lib/mod.ts";
import { removeStagingDirsOnSignals, removeStaleStagingDirs } from "../lib/data/mod.ts";

const USAGE = `usage: deno task data --source SOURCE [options]

Installs a car/plane dataset in the article's layout (training_set/, val_set/, test/, each
with cars/ and planes/) into data/.

  --source SOURCE   a folder in the article's layout (copied after validation), an archive
                    (.tar.gz, .tar, .zip) holding one, "article" (the article's own images,
                    downloaded from GitHub) or "cifar10" (CIFAR-10 automobiles and airplanes)
  --dest DIR        where to install (default data/, or $CARPLANE_DATA_DIR)
  --force           replace a dataset already there
  --per-class N     cifar10: training + validation images per class, 2 to 5000, split 80/20
                    (default 100)
  --cache-dir DIR   download cache (default $CARPLANE_CACHE_DIR or ~/.cache/carplane)`;

async function main(args: string[]): Promise<void> {
  const { flags } = parseFlags(args, {
    source: { type: "string" },
    dest: { type: "string" },
    force: { type: "boolean" },
    "per-class": { type: "string" },
    "cache-dir": { type: "string" },
    help: { type: "boolean", short: "h" },
  }, USAGE);
  if (flags.help) {
    console.log(USAGE);
    return;
  }
  const source = flags.source as string | undefined;
  if (!source) throw new UsageError("--source is required.", USAGE);
  const perClass = intInRange(flags["per-class"], "--per-class", USAGE, 2, 5000);
  const dest = await checkPathFlag(flags.dest, "--dest", "dir", USAGE) ?? projectPaths().data;
  const cacheDir = await checkPathFlag(flags["cache-dir"], "--cache-dir", "dir", USAGE);
  const log = (line: string) => console.log(line);
  const common = { cacheDir, overwrite: flags.force === true, log };
  // Ctrl-C mid-copy removes the partial copy; one left by a killed run is removed now.
  const uninstall = removeStagingDirsOnSignals();
  for (const stale of await removeStaleStagingDirs(dest)) {
    log(`Removed ${stale}, a partial copy left by an interrupted run.`);
  }
  try {
    if (source === "article") {
      await fetchArticleDataset(dest, common);
    } else if (source === "cifar10") {
      await fetchCifar10Dataset(dest, { ...common, perClass });
    } else {
      let info: Deno.FileInfo;
      try {
        info = await Deno.stat(source);
      } catch {
        throw new UsageError(
          `--source ${source}: no such folder or archive (or use "article" or "cifar10").`,
          USAGE,
        );
      }
      if (info.isDirectory) {
        const found = await validateArticleLayout(source);
        console.log(
          `Copying ${found.root} (${
            ARTICLE_SPLITS.map((s) => `${s} ${found.totals[s]}`).join(", ")
          }) to ${dest}...`,
        );
        await copyArticleLayout(source, dest, { replace: flags.force === true, log });
      } else {
        await installLocalDataset(source, dest, common);
      }
    }
  } finally {
    uninstall();
  }
  const layout = await validateArticleLayout(dest);
  for (const split of ARTICLE_SPLITS) {
    const files = new Array(layout.totals[split]);
    console.log(`${split}: ${formatFoundLine({ files, classNames: layout.classNames })}`);
  }
  console.log(`Dataset ready in ${layout.root}. Next: deno task reproduce`);
}

if (import.meta.main) await runMain(() => main(Deno.args));
