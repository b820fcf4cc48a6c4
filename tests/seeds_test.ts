import assert from "node:assert/strict";
import {
  aggregateSeeds,
  checkArticleClaims,
  formatPaired,
  formatSeedTable,
  pairedComparison,
  renderDataSizeMarkdown,
  renderSeedsMarkdown,
  runFigures,
  seedCurves,
  type SeedRun,
  SeedStatsError,
  studentTCdf,
  studentTQuantile,
  summarizeSeeds,
  summarizeValues,
} from "../lib/report/seeds.ts";
import type { History } from "../lib/training/history.ts";
import { overfitHistory } from "./history_fixtures.ts";

const close = (a: number, b: number, tol = 1e-6) =>
  assert.ok(Math.abs(a - b) <= tol, `${a} is not within ${tol} of ${b}`);

/** A history whose val_loss ends at `finalValLoss` and val accuracy at `finalValAcc`. */
function flatHistory(finalValLoss: number, finalValAcc: number, epochs = 4): History {
  const r = Array.from({ length: epochs }, (_, i) => i);
  return {
    epoch: r,
    history: {
      loss: r.map((i) => 0.6 - i * 0.05),
      accuracy: r.map((i) => 0.7 + i * 0.05),
      val_loss: r.map((i) => (i === epochs - 1 ? finalValLoss : 0.5 - i * 0.01)),
      val_accuracy: r.map((i) => (i === epochs - 1 ? finalValAcc : 0.7)),
    },
  };
}

Deno.test("Student t quantiles match published tables", () => {
  // Two-sided 95% critical values (e.g. NIST/SEMATECH e-Handbook, table 1.3.6.7.2).
  close(studentTQuantile(0.975, 1), 12.706204736, 1e-6);
  close(studentTQuantile(0.975, 2), 4.302652730, 1e-7);
  close(studentTQuantile(0.975, 4), 2.776445105, 1e-7);
  close(studentTQuantile(0.975, 10), 2.228138852, 1e-7);
  close(studentTQuantile(0.975, 30), 2.042272456, 1e-7);
  close(studentTQuantile(0.995, 4), 4.604094871, 1e-7);
  close(studentTQuantile(0.025, 4), -2.776445105, 1e-7);
  assert.equal(studentTQuantile(0.5, 3), 0);
  close(studentTCdf(0, 5), 0.5, 1e-12);
  close(studentTCdf(2.015048373, 5), 0.95, 1e-8);
  close(studentTCdf(-2.015048373, 5), 0.05, 1e-8);
  // df = 1 is the Cauchy distribution: F(t) = 1/2 + atan(t)/pi.
  close(studentTCdf(3, 1), 0.5 + Math.atan(3) / Math.PI, 1e-10);
});

Deno.test("Student t refuses bad p and df", () => {
  assert.throws(() => studentTQuantile(1, 4), SeedStatsError);
  assert.throws(() => studentTQuantile(0, 4), SeedStatsError);
  assert.throws(() => studentTQuantile(0.975, 0), /degrees of freedom > 0, got 0/);
  assert.throws(() => studentTCdf(1, NaN), SeedStatsError);
});

Deno.test("summarizeValues: mean, sample sd, min, max; NaN left out", () => {
  const s = summarizeValues([0.8, 0.85, 0.9, NaN]);
  assert.equal(s.n, 3);
  close(s.mean, 0.85, 1e-12);
  close(s.sd, 0.05, 1e-12);
  assert.equal(s.min, 0.8);
  assert.equal(s.max, 0.9);
  assert.deepEqual(summarizeValues([2]), { n: 1, mean: 2, sd: 0, min: 2, max: 2 });
  assert.equal(summarizeValues([]).n, 0);
});

Deno.test("pairedComparison: mean difference with a t interval, by hand", () => {
  // differences 0.1, 0.05, 0.05: mean 1/15, sd sqrt(1/1200), se sd/sqrt(3), t(0.975, 2)=4.302653
  const c = pairedComparison([0.8, 0.85, 0.9], [0.7, 0.8, 0.85]);
  const sd = Math.sqrt(1 / 1200);
  const half = 4.302652730 * sd / Math.sqrt(3);
  close(c.meanDifference, 1 / 15, 1e-12);
  close(c.sd, sd, 1e-12);
  close(c.interval!.low, 1 / 15 - half, 1e-7);
  close(c.interval!.high, 1 / 15 + half, 1e-7);
  assert.equal(c.interval!.level, 0.95);
  assert.deepEqual([c.wins, c.ties, c.losses], [3, 0, 0]);
  // t = mean/se = 4.0; two-sided p with 2 df = 1 - 4/sqrt(18) (closed form for df = 2)
  close(c.p!, 1 - 4 / Math.sqrt(18), 1e-7);
  assert.match(formatPaired(c), /mean difference \+0\.067 \(95% interval -0\.005 to \+0\.138/);
});

Deno.test("pairedComparison: one seed gives no interval; bad input is refused", () => {
  const one = pairedComparison([0.9], [0.8]);
  assert.equal(one.interval, null);
  assert.equal(one.p, null);
  assert.match(formatPaired(one), /one seed: no interval/);
  assert.throws(
    () => pairedComparison([1, 2], [1]),
    /one value per seed on both sides, got 2 and 1/,
  );
  assert.throws(() => pairedComparison([], []), SeedStatsError);
  assert.throws(() => pairedComparison([1, 2], [0, 1], 95), /between 0 and 1, got 95/);
});

Deno.test("runFigures reads a History (epochs 1-based)", () => {
  const f = runFigures({ history: overfitHistory(), test: { correct: 14, total: 15 } });
  assert.equal(f.minValLoss, 0.45);
  assert.equal(f.minValLossEpoch, 3);
  assert.equal(f.finalValLoss, 0.75);
  assert.equal(f.finalValAccuracy, 0.775);
  assert.equal(f.bestValAccuracy, 0.825);
  assert.equal(f.finalTrainAccuracy, 0.99);
  assert.equal(f.testCorrect, 14);
  assert.ok(Number.isNaN(runFigures({ history: overfitHistory() }).testCorrect));
  assert.throws(
    () => runFigures({ history: { epoch: [0], history: { loss: [1] } } }, "seed 3, baseline"),
    /seed 3, baseline has no accuracy, val_loss, val_accuracy values/,
  );
});

function runsOf(pairs: Array<[number, number, number, number]>): SeedRun[] {
  // [baseline final val loss, baseline final val acc, transfer final val loss, transfer acc]
  return pairs.map(([bl, ba, tl, ta], i) => ({
    seed: i + 1,
    models: {
      baseline: { history: flatHistory(bl, ba), test: { correct: 13 + (i % 3), total: 15 } },
      transfer: { history: flatHistory(tl, ta), test: { correct: 15, total: 15 } },
    },
  }));
}

Deno.test("aggregateSeeds: per-model summaries of every figure", () => {
  const agg = aggregateSeeds(runsOf([[1.0, 0.8, 0.2, 0.9], [1.2, 0.85, 0.3, 0.85]]));
  assert.deepEqual(Object.keys(agg), ["baseline", "transfer"]);
  assert.deepEqual(agg.baseline.seeds, [1, 2]);
  close(agg.baseline.summary.finalValLoss.mean, 1.1, 1e-12);
  close(agg.baseline.summary.finalValLoss.sd, Math.sqrt(0.02), 1e-12);
  assert.equal(agg.transfer.summary.finalValAccuracy.min, 0.85);
  assert.equal(agg.transfer.summary.testCorrect.mean, 15);
  assert.equal(agg.baseline.summary.testCorrect.mean, 13.5);
  const table = formatSeedTable(agg);
  assert.match(table, /\| over 2 seeds: mean ± sd \[min–max\] \| baseline \| transfer \|/);
  assert.match(table, /\| final val loss \| 1\.100 ± 0\.141 \[1\.000–1\.200\] \|/);
  const single = formatSeedTable(aggregateSeeds(runsOf([[1.0, 0.8, 0.2, 0.9]])));
  assert.match(single, /\| one seed \| baseline \| transfer \|/);
  assert.match(single, /\| final val loss \| 1\.000 \|/);
  assert.doesNotMatch(single, /±/);
});

Deno.test("aggregateSeeds refuses mismatched models, repeated seeds and no runs", () => {
  const runs = runsOf([[1, 0.8, 0.2, 0.9], [1, 0.8, 0.2, 0.9]]);
  delete (runs[1].models as Record<string, unknown>).transfer;
  assert.throws(() => aggregateSeeds(runs), /seed 2 has models \[baseline\] but seed 1 has/);
  const twice = runsOf([[1, 0.8, 0.2, 0.9], [1, 0.8, 0.2, 0.9]]);
  twice[1].seed = 1;
  assert.throws(() => aggregateSeeds(twice), /seeds \[1, 1\] repeat/);
  assert.throws(() => aggregateSeeds([]), /no seed runs given/);
});

Deno.test("seedCurves: per-epoch mean, sd, min, max; runs of different lengths", () => {
  const runs: SeedRun[] = [
    { seed: 1, models: { m: { history: flatHistory(0.4, 0.8, 3) } } },
    { seed: 2, models: { m: { history: flatHistory(0.6, 0.9, 4) } } },
  ];
  const curves = seedCurves(runs, "val_loss");
  assert.equal(curves.m.length, 4);
  assert.deepEqual(curves.m[0], { epoch: 1, mean: 0.5, sd: 0, min: 0.5, max: 0.5 });
  close(curves.m[2].mean, (0.4 + 0.48) / 2, 1e-12);
  assert.equal(curves.m[2].min, 0.4);
  assert.equal(curves.m[2].max, 0.48);
  assert.deepEqual(curves.m[3], { epoch: 4, mean: 0.6, sd: 0, min: 0.6, max: 0.6 });
  assert.throws(() => seedCurves(runs, "val_auc"), /seed 1, m has no "val_auc"/);
});

Deno.test("checkArticleClaims counts each claim over seeds", () => {
  const runs = runsOf([
    [1.0, 0.8, 0.2, 0.9],
    [1.2, 0.85, 0.3, 0.85],
    [0.25, 0.75, 0.4, 0.95],
  ]);
  // seed 1 overfits like the article; the others do not
  runs[0].models.baseline.history = overfitHistory();
  const claims = Object.fromEntries(checkArticleClaims(runs).map((c) => [c.id, c]));
  assert.equal(claims["baseline-overfits"].held, 1);
  assert.equal(claims["baseline-overfits"].verdict, "mixed");
  assert.match(
    claims["baseline-overfits"].sentence,
    /^val_loss rises after its minimum \(overfitting\) in 1 of 3 baseline runs \(lowest val_loss /,
  );
  // final val accuracies 0.775 (overfit fixture), 0.85, 0.75: one in 0.80-0.875
  assert.equal(claims["baseline-accuracy"].held, 1);
  // test right: 13, 14, 15 of 15 -> two with at least 14
  assert.equal(claims["baseline-test"].held, 2);
  // transfer lower loss: 0.2 < 0.75 (fixture), 0.3 < 1.2, 0.4 > 0.25
  assert.equal(claims["transfer-lower-loss"].held, 2);
  assert.match(
    claims["transfer-lower-loss"].sentence,
    /^transfer's final val_loss is lower than the baseline's in 2 of 3 seeds \(mean 0\.30 vs 0\.73\)$/,
  );
  // within 0.05: |0.9-0.775| no, |0.85-0.85| yes, |0.95-0.75| no
  assert.equal(claims["transfer-same-accuracy"].held, 1);
  assert.match(claims["transfer-same-accuracy"].sentence, /95% interval/);
  assert.equal(claims["fine-tuning-helps"], undefined);
});

Deno.test("checkArticleClaims: fine-tuning claim and verdicts held / not held", () => {
  const runs = runsOf([[1.0, 0.8, 0.2, 0.8], [1.2, 0.85, 0.3, 0.85]]).map((r, i) => ({
    ...r,
    models: { ...r.models, "fine-tuned": { history: flatHistory(0.1, 0.9 + i * 0.05) } },
  }));
  const claims = Object.fromEntries(checkArticleClaims(runs).map((c) => [c.id, c]));
  assert.equal(claims["fine-tuning-helps"].held, 2);
  assert.equal(claims["fine-tuning-helps"].verdict, "held");
  assert.equal(claims["transfer-lower-loss"].verdict, "held");
  assert.equal(claims["baseline-overfits"].verdict, "not held");
  assert.equal(claims["baseline-test"].held, 1); // 13 and 14 of 15
});

Deno.test("summarizeSeeds: summaries, claims, comparisons; rendered as a report section", () => {
  const runs = runsOf([[1.0, 0.8, 0.2, 0.9], [1.2, 0.85, 0.3, 0.85], [1.1, 0.8, 0.25, 0.875]]);
  const s = summarizeSeeds(runs);
  assert.deepEqual(s.seeds, [1, 2, 3]);
  assert.equal(s.runs, runs);
  assert.deepEqual(s.comparisons.map((c) => `${c.a}-${c.b}`), ["transfer-baseline"]);
  close(s.comparisons[0].meanDifference, (0.1 + 0 + 0.075) / 3, 1e-12);
  const md = renderSeedsMarkdown(s, { chart: "seeds_bands.png" }).join("\n");
  assert.match(md, /^## Over 3 seeds \(1, 2, 3\)/);
  assert.match(md, /- transfer vs baseline: mean difference \+0\.058/);
  assert.match(md, /- \*\*held\*\* \(3\/3\) — the frozen pretrained base gives a much lower/);
  assert.match(md, /!\[Validation loss and accuracy over seeds\]\(seeds_bands\.png\)/);
});

Deno.test("renderDataSizeMarkdown: mean [min–max] per size and the transfer lead", () => {
  const md = renderDataSizeMarkdown({
    sizes: [20, 80],
    seeds: [1, 2],
    points: [
      { model: "baseline", perClass: 20, seed: 1, valAccuracy: 0.6 },
      { model: "baseline", perClass: 20, seed: 2, valAccuracy: 0.7 },
      { model: "transfer", perClass: 20, seed: 1, valAccuracy: 0.85 },
      { model: "transfer", perClass: 20, seed: 2, valAccuracy: 0.875 },
      { model: "baseline", perClass: 80, seed: 1, valAccuracy: 0.8 },
      { model: "baseline", perClass: 80, seed: 2, valAccuracy: 0.8 },
      { model: "transfer", perClass: 80, seed: 1, valAccuracy: 0.9 },
      { model: "transfer", perClass: 80, seed: 2, valAccuracy: 0.9 },
    ],
  }, { chart: "data_size.png" }).join("\n");
  assert.match(md, /the same 2 seeds per size/);
  assert.match(md, /\| 20 \| 0\.650 \[0\.600–0\.700\] \| 0\.863 \[0\.850–0\.875\] \| \+0\.213 \|/);
  assert.match(md, /\| 80 \| 0\.800 \[0\.800–0\.800\] \| 0\.900 \[0\.900–0\.900\] \| \+0\.100 \|/);
  assert.match(md, /data_size\.png/);
  // One seed: values, not a range of one.
  const one = renderDataSizeMarkdown({
    sizes: [20],
    seeds: [1],
    points: [
      { model: "baseline", perClass: 20, seed: 1, valAccuracy: 0.6 },
      { model: "transfer", perClass: 20, seed: 1, valAccuracy: 0.85 },
    ],
  }).join("\n");
  assert.match(
    one,
    /the same seed per size; the validation set stays whole\)\. Final val accuracy:/,
  );
  assert.match(one, /\| 20 \| 0\.600 \| 0\.850 \| \+0\.250 \|/);
});
