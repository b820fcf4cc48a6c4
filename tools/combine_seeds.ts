/**
 * Combines the `metrics.json` of several `deno task reproduce --seeds ...` runs (e.g. seeds run
 * as separate processes, or on separate machines) into one over-seeds analysis: the table, the
 * paired comparisons and the article's claims, as `report.md` shows them for one run.
 *
 * ```sh
 * deno run -A tools/combine_seeds.ts out-42-43/ out-44-45/ out-46/ [--json combined.json]
 * ```
 *
 * Every run must have trained the same models; a seed present in two runs is refused.
 *
 * @module
 */
import { join } from "node:path";
import type { ReproduceMetrics } from "../lib/report/metrics.ts";
import {
  renderSeedsMarkdown,
  SEED_MODEL_NAMES,
  type SeedRun,
  type SeedsMetrics,
  SeedStatsError,
  summarizeSeeds,
} from "../lib/report/seeds.ts";

/**
 * The seed runs a `metrics.json` holds: its `seeds.runs` when it ran several seeds, else its one
 * run built from the baseline, transfer and fine-tuned figures.
 *
 * @example
 * ```ts
 * const runs = seedRunsOf(JSON.parse(await Deno.readTextFile("outputs/metrics.json")));
 * ```
 */
export function seedRunsOf(m: ReproduceMetrics): SeedRun[] {
  if (m.seeds) return m.seeds.runs;
  const models: SeedRun["models"] = {
    [SEED_MODEL_NAMES.baseline]: { history: m.baseline.history, test: m.baseline.test },
  };
  if (!("skipped" in m.transfer)) {
    models[SEED_MODEL_NAMES.transfer] = { history: m.transfer.history, test: m.transfer.test };
  }
  if (m.fineTuned) {
    models[SEED_MODEL_NAMES.fineTuned] = { history: m.fineTuned.history, test: m.fineTuned.test };
  }
  return [{ seed: m.config.seed, models }];
}

/**
 * Reads the `metrics.json` of each output folder and summarizes all their seeds together.
 *
 * @example
 * ```ts
 * const combined = await combineSeedRuns(["out-1", "out-2"]);
 * console.log(combined.claims.map((c) => c.sentence).join("\n"));
 * ```
 */
export async function combineSeedRuns(dirs: string[]): Promise<SeedsMetrics> {
  if (dirs.length === 0) {
    throw new SeedStatsError(
      "tools/combine_seeds.ts: pass the output folders of the runs to combine, e.g. out-1/ out-2/.",
    );
  }
  const runs: SeedRun[] = [];
  for (const dir of dirs) {
    const file = join(dir, "metrics.json");
    let metrics: ReproduceMetrics;
    try {
      metrics = JSON.parse(await Deno.readTextFile(file));
    } catch (error) {
      throw new SeedStatsError(
        `tools/combine_seeds.ts: cannot read ${file} (${(error as Error).message}); pass folders ` +
          "where `deno task reproduce` completed (it writes metrics.json last).",
      );
    }
    runs.push(...seedRunsOf(metrics));
  }
  return summarizeSeeds(runs.sort((a, b) => a.seed - b.seed));
}

if (import.meta.main) {
  const args = [...Deno.args];
  const j = args.indexOf("--json");
  const jsonOut = j >= 0 ? args.splice(j, 2)[1] : undefined;
  const combined = await combineSeedRuns(args);
  console.log(renderSeedsMarkdown(combined).join("\n"));
  if (jsonOut) await Deno.writeTextFile(jsonOut, JSON.stringify(combined, null, 2) + "\n");
}
