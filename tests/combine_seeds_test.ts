import assert from "node:assert/strict";
import { join } from "node:path";
import { combineSeedRuns, seedRunsOf } from "../tools/combine_seeds.ts";
import type { ReproduceMetrics } from "../lib/report/metrics.ts";
import { overfitHistory } from "./history_fixtures.ts";
import { withTempDir } from "./fixtures.ts";

function metrics(seed: number, valLoss: number): ReproduceMetrics {
  const h = overfitHistory();
  const t = overfitHistory();
  t.history.val_loss = t.history.val_loss.map((v) => v * valLoss);
  const test = { correct: 14, total: 15, accuracy: 14 / 15, line: "", misclassified: [] };
  return {
    config: { seed },
    baseline: { history: h, test },
    transfer: { history: t, test },
  } as unknown as ReproduceMetrics;
}

Deno.test("combineSeedRuns summarizes the seeds of several runs; a repeated seed is refused", async () => {
  await withTempDir(async (dir) => {
    const write = async (name: string, m: ReproduceMetrics) => {
      await Deno.mkdir(join(dir, name));
      await Deno.writeTextFile(join(dir, name, "metrics.json"), JSON.stringify(m));
    };
    await write("a", metrics(44, 0.5));
    await write("b", metrics(42, 0.4));
    const combined = await combineSeedRuns([join(dir, "a"), join(dir, "b")]);
    assert.deepEqual(combined.seeds, [42, 44]);
    assert.equal(combined.claims.find((c) => c.id === "transfer-lower-loss")!.held, 2);
    assert.equal(seedRunsOf(metrics(1, 1))[0].models.fineTuned, undefined);
    await write("c", metrics(42, 0.3));
    await assert.rejects(
      () => combineSeedRuns([join(dir, "b"), join(dir, "c")]),
      /seeds \[42, 42\] repeat/,
    );
    await assert.rejects(() => combineSeedRuns([join(dir, "none")]), /cannot read .*metrics\.json/);
    await assert.rejects(() => combineSeedRuns([]), /pass the output folders/);
  });
});
