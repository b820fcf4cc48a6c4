/**
 * Repeated runs over seeds: what one run cannot say. The article draws its conclusions from one
 * run on 40 validation images, where one image is 2.5 points of accuracy; this module turns the
 * histories of several seeds into
 *
 * - per model, the mean, standard deviation (sample, n - 1), min and max of the figures the
 *   report shows: final and best val accuracy, final and lowest val loss (and its 1-based epoch),
 *   final train accuracy, test images right ({@linkcode aggregateSeeds});
 * - per model and metric, the per-epoch mean with its min-max band and sd ({@linkcode seedCurves});
 * - a paired comparison of two models over the same seeds: mean difference with a Student t
 *   95% interval ({@linkcode pairedComparison}, {@linkcode studentTQuantile});
 * - the article's claims as checked sentences with their counts over seeds
 *   ({@linkcode checkArticleClaims}).
 *
 * Nothing here trains: it reads Keras-style histories, so it works on `metrics.json` of earlier
 * runs too.
 *
 * @module
 */
import type { History } from "../training/history.ts";
import { diagnoseFit } from "../training/diagnose.ts";
import { CarplaneError } from "../errors.ts";

/** Raised for seed runs that cannot be aggregated; says what to pass instead. */
export class SeedStatsError extends CarplaneError {
  constructor(message: string) {
    super(message);
    this.name = "SeedStatsError";
  }
}

/** One model's outcome in one seed: its History and, when predicted, the test images right. */
export interface SeedModelRun {
  history: History;
  /** Test images predicted right, and of how many (absent when the model was not tested). */
  test?: { correct: number; total: number };
}

/** One seed's runs, by model name (e.g. `baseline`, `transfer`, `fine-tuned`). */
export interface SeedRun {
  seed: number;
  models: Record<string, SeedModelRun>;
}

/** The figures of one run, read from its History (epochs 1-based, as Keras prints them). */
export interface RunFigures {
  finalValAccuracy: number;
  bestValAccuracy: number;
  finalValLoss: number;
  minValLoss: number;
  minValLossEpoch: number;
  finalTrainAccuracy: number;
  /** Test images right (NaN when the model was not tested). */
  testCorrect: number;
}

/** The figure names of {@linkcode RunFigures}, in report order. */
export const FIGURES = [
  "finalValAccuracy",
  "bestValAccuracy",
  "finalValLoss",
  "minValLoss",
  "minValLossEpoch",
  "finalTrainAccuracy",
  "testCorrect",
] as const satisfies readonly (keyof RunFigures)[];

/** Mean, sample standard deviation, min and max of some values. */
export interface Summary {
  n: number;
  mean: number;
  /** Sample standard deviation (n - 1 in the denominator); 0 for one value. */
  sd: number;
  min: number;
  max: number;
}

/**
 * The figures of one run from its History.
 *
 * @example
 * ```ts
 * runFigures({ history, test: { correct: 14, total: 15 } }).minValLossEpoch; // e.g. 4
 * ```
 */
export function runFigures(run: SeedModelRun, where = "run"): RunFigures {
  const h = run.history?.history;
  const need = ["accuracy", "val_loss", "val_accuracy"];
  const missing = need.filter((k) => !Array.isArray(h?.[k]) || h[k].length === 0);
  if (missing.length > 0) {
    throw new SeedStatsError(
      `lib/report/seeds.ts: ${where} has no ${missing.join(", ")} values; pass the History of a ` +
        "run trained with validation data and metrics ['accuracy'].",
    );
  }
  const valLoss = h.val_loss;
  const valAcc = h.val_accuracy;
  let minI = 0;
  valLoss.forEach((v, i) => {
    if (v < valLoss[minI] || !Number.isFinite(valLoss[minI])) minI = i;
  });
  return {
    finalValAccuracy: valAcc.at(-1)!,
    bestValAccuracy: Math.max(...valAcc),
    finalValLoss: valLoss.at(-1)!,
    minValLoss: valLoss[minI],
    minValLossEpoch: minI + 1,
    finalTrainAccuracy: h.accuracy.at(-1)!,
    testCorrect: run.test?.correct ?? NaN,
  };
}

/**
 * Mean, sample sd, min and max of `values` (NaN entries are left out; `n` counts the rest).
 *
 * @example
 * ```ts
 * summarize([0.8, 0.85, 0.9]); // { n: 3, mean: 0.85, sd: 0.05, min: 0.8, max: 0.9 }
 * ```
 */
export function summarizeValues(values: readonly number[]): Summary {
  const xs = values.filter((x) => !Number.isNaN(x));
  const n = xs.length;
  if (n === 0) return { n: 0, mean: NaN, sd: NaN, min: NaN, max: NaN };
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const sd = n > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1)) : 0;
  return { n, mean, sd, min: Math.min(...xs), max: Math.max(...xs) };
}

/** One model over all seeds: each seed's figures and their summaries. */
export interface ModelOverSeeds {
  seeds: number[];
  perSeed: RunFigures[];
  summary: Record<(typeof FIGURES)[number], Summary>;
}

/**
 * Aggregates runs over seeds per model: each figure's mean, sd, min and max. Every seed must
 * have the same models.
 *
 * @example
 * ```ts
 * const agg = aggregateSeeds(runs);
 * agg.baseline.summary.finalValAccuracy.mean;
 * ```
 */
export function aggregateSeeds(runs: readonly SeedRun[]): Record<string, ModelOverSeeds> {
  const models = checkRuns(runs);
  const out: Record<string, ModelOverSeeds> = {};
  for (const model of models) {
    const perSeed = runs.map((r) => runFigures(r.models[model], `seed ${r.seed}, ${model}`));
    const summary = {} as ModelOverSeeds["summary"];
    for (const f of FIGURES) summary[f] = summarizeValues(perSeed.map((p) => p[f]));
    out[model] = { seeds: runs.map((r) => r.seed), perSeed, summary };
  }
  return out;
}

function checkRuns(runs: readonly SeedRun[]): string[] {
  if (!Array.isArray(runs) || runs.length === 0) {
    throw new SeedStatsError(
      "lib/report/seeds.ts: no seed runs given; pass one { seed, models } per seed.",
    );
  }
  const models = Object.keys(runs[0].models);
  for (const r of runs) {
    const names = Object.keys(r.models);
    if (names.length !== models.length || names.some((m) => !models.includes(m))) {
      throw new SeedStatsError(
        `lib/report/seeds.ts: seed ${r.seed} has models [${names.join(", ")}] but seed ` +
          `${runs[0].seed} has [${models.join(", ")}]; every seed must train the same models.`,
      );
    }
  }
  const seeds = runs.map((r) => r.seed);
  if (new Set(seeds).size !== seeds.length) {
    throw new SeedStatsError(
      `lib/report/seeds.ts: seeds [${seeds.join(", ")}] repeat; give each seed once.`,
    );
  }
  return models;
}

/** One epoch of a metric over seeds. */
export interface CurvePoint {
  /** 1-based epoch. */
  epoch: number;
  mean: number;
  sd: number;
  min: number;
  max: number;
}

/**
 * Per-epoch mean, sd, min and max of `metric` (e.g. `val_loss`) over seeds, per model. Runs of
 * different lengths are aggregated over the seeds that reached each epoch.
 *
 * @example
 * ```ts
 * const curves = seedCurves(runs, "val_loss");
 * curves.baseline[0]; // { epoch: 1, mean: 0.69, sd: 0.01, min: 0.68, max: 0.70 }
 * ```
 */
export function seedCurves(
  runs: readonly SeedRun[],
  metric: string,
): Record<string, CurvePoint[]> {
  const models = checkRuns(runs);
  const out: Record<string, CurvePoint[]> = {};
  for (const model of models) {
    const series = runs.map((r) => {
      const values = r.models[model].history?.history?.[metric];
      if (!Array.isArray(values)) {
        throw new SeedStatsError(
          `lib/report/seeds.ts: seed ${r.seed}, ${model} has no "${metric}" in its History; ` +
            "pick a metric every run recorded (loss, accuracy, val_loss, val_accuracy).",
        );
      }
      return values;
    });
    const epochs = Math.max(...series.map((s) => s.length));
    out[model] = Array.from({ length: epochs }, (_, i) => {
      const s = summarizeValues(series.filter((v) => i < v.length).map((v) => v[i]));
      return { epoch: i + 1, mean: s.mean, sd: s.sd, min: s.min, max: s.max };
    });
  }
  return out;
}

/**
 * Where each model's curves start on a shared epoch axis: fine-tuning goes on from the transfer
 * model, so its epochs come after the transfer head's (its own History counts from 1, as a
 * second Keras `fit` does). Empty when no run has a fine-tuned model.
 *
 * @example
 * ```ts
 * seedBandChartSpec(curves, runs.length, { epochOffsets: fineTuneOffsets(runs) });
 * // { "fine-tuned": 30 }
 * ```
 */
export function fineTuneOffsets(runs: readonly SeedRun[]): Record<string, number> {
  const tuned = runs.filter((r) => r.models[SEED_MODEL_NAMES.fineTuned]);
  if (tuned.length === 0) return {};
  const head = Math.max(
    ...tuned.map((r) => r.models[SEED_MODEL_NAMES.transfer]?.history.epoch.length ?? 0),
  );
  return { [SEED_MODEL_NAMES.fineTuned]: head };
}

// --- Student t ---------------------------------------------------------------------------------

function logGamma(x: number): number {
  // Lanczos approximation (g = 7, n = 9): about 15 significant digits for x > 0.
  const c = [
    0.99999999999980993,
    676.5203681218851,
    -1259.1392167224028,
    771.32342877765313,
    -176.61502916214059,
    12.507343278686905,
    -0.13857109526572012,
    9.9843695780195716e-6,
    1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the regularized incomplete beta function (modified Lentz). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - (a + b) * x / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return h;
}

function regularizedBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(
    logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x),
  );
  return x < (a + 1) / (a + b + 2)
    ? front * betaContinuedFraction(a, b, x) / a
    : 1 - front * betaContinuedFraction(b, a, 1 - x) / b;
}

/**
 * The cumulative distribution function of Student's t with `df` degrees of freedom.
 *
 * @example
 * ```ts
 * studentTCdf(2.776445, 4); // 0.975
 * ```
 */
export function studentTCdf(t: number, df: number): number {
  checkDf(df);
  const tail = 0.5 * regularizedBeta(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/**
 * The `p` quantile of Student's t with `df` degrees of freedom (by bisection on the CDF, to
 * 1e-10), e.g. the 0.975 quantile for a two-sided 95% interval.
 *
 * @example
 * ```ts
 * studentTQuantile(0.975, 4); // 2.7764...
 * ```
 */
export function studentTQuantile(p: number, df: number): number {
  checkDf(df);
  if (!(p > 0 && p < 1)) {
    throw new SeedStatsError(
      `lib/report/seeds.ts: a t quantile needs 0 < p < 1, got ${p}; e.g. 0.975 for a 95% interval.`,
    );
  }
  if (p === 0.5) return 0;
  if (p < 0.5) return -studentTQuantile(1 - p, df);
  let lo = 0;
  let hi = 1;
  while (studentTCdf(hi, df) < p) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-10 * Math.max(1, hi); i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

function checkDf(df: number) {
  if (!(df > 0) || !Number.isFinite(df)) {
    throw new SeedStatsError(
      `lib/report/seeds.ts: Student t needs degrees of freedom > 0, got ${df}; a paired ` +
        "comparison needs at least two seeds.",
    );
  }
}

/** A paired comparison of two models over the same seeds: `a - b` per seed. */
export interface PairedComparison {
  n: number;
  /** Mean of `a - b`. */
  meanDifference: number;
  /** Sample sd of the differences. */
  sd: number;
  /** Two-sided interval of the mean difference at `level` (null with fewer than two seeds). */
  interval: { level: number; low: number; high: number } | null;
  /** Two-sided p value of "mean difference = 0" (null with fewer than two seeds, or sd 0). */
  p: number | null;
  /** Seeds where a > b, a = b, a < b. */
  wins: number;
  ties: number;
  losses: number;
}

/**
 * Paired comparison of `a` and `b` (one value per seed, same seed order): the mean of the
 * differences with a Student t interval (`level`, default 0.95) over seeds.
 *
 * @example
 * ```ts
 * const c = pairedComparison([0.875, 0.9, 0.85], [0.8, 0.825, 0.8]);
 * c.meanDifference; // 0.0667
 * c.interval; // { level: 0.95, low: ..., high: ... }
 * ```
 */
export function pairedComparison(
  a: readonly number[],
  b: readonly number[],
  level = 0.95,
): PairedComparison {
  if (a.length !== b.length || a.length === 0) {
    throw new SeedStatsError(
      `lib/report/seeds.ts: a paired comparison needs one value per seed on both sides, got ` +
        `${a.length} and ${b.length}.`,
    );
  }
  if (!(level > 0 && level < 1)) {
    throw new SeedStatsError(
      `lib/report/seeds.ts: the interval level must be between 0 and 1, got ${level}; e.g. 0.95.`,
    );
  }
  const d = a.map((x, i) => x - b[i]);
  const s = summarizeValues(d);
  const eps = 1e-12;
  const wins = d.filter((x) => x > eps).length;
  const losses = d.filter((x) => x < -eps).length;
  const base = {
    n: s.n,
    meanDifference: s.mean,
    sd: s.sd,
    wins,
    ties: d.length - wins - losses,
    losses,
  };
  if (s.n < 2) return { ...base, interval: null, p: null };
  const se = s.sd / Math.sqrt(s.n);
  const half = studentTQuantile(1 - (1 - level) / 2, s.n - 1) * se;
  const p = se > 0 ? 2 * (1 - studentTCdf(Math.abs(s.mean) / se, s.n - 1)) : null;
  return { ...base, interval: { level, low: s.mean - half, high: s.mean + half }, p };
}

/** The model names of repeated runs, in reports and `metrics.json`. */
export const SEED_MODEL_NAMES = {
  baseline: "baseline",
  transfer: "transfer",
  fineTuned: "fine-tuned",
} as const;

// --- the article's claims ----------------------------------------------------------------------

/** One of the article's claims, checked on every seed. */
export interface CheckedClaim {
  /** Short identifier, e.g. `baseline-overfits`. */
  id: string;
  /** What the article says. */
  claim: string;
  /** Seeds where it held, and of how many. */
  held: number;
  of: number;
  /** `held` (every seed), `mixed` (some) or `not held` (none). */
  verdict: "held" | "mixed" | "not held";
  /** The checked sentence with its count and means, for the report. */
  sentence: string;
}

/** Which models {@linkcode checkArticleClaims} compares. */
export interface ClaimModels {
  /** The article's CNN (default `baseline`). */
  baseline?: string;
  /** The frozen pretrained base with the head (default `transfer`). */
  transfer?: string;
  /** The fine-tuned transfer model, when trained (default `fine-tuned`). */
  fineTuned?: string;
}

const f2 = (x: number) => x.toFixed(2);
const f3 = (x: number) => x.toFixed(3);
const signed = (x: number) => `${x >= 0 ? "+" : "-"}${Math.abs(x).toFixed(3)}`;

function claimOf(
  id: string,
  claim: string,
  held: number,
  of: number,
  [head, unit, means, extra]: [string, string, string, string?],
): CheckedClaim {
  const verdict = held === of ? "held" : held === 0 ? "not held" : "mixed";
  const units = of === 1 ? unit : `${unit}s`;
  return {
    id,
    claim,
    held,
    of,
    verdict,
    sentence: `${head} in ${held} of ${of} ${units} (${means})${extra ? `; ${extra}` : ""}`,
  };
}

/**
 * Formats a paired comparison as one clause, e.g.
 * `mean difference +0.045 (95% interval -0.010 to +0.100, 4 of 5 seeds higher)`.
 *
 * @example
 * ```ts
 * formatPaired(pairedComparison(a, b)); // "mean difference +0.045 (95% interval ...)"
 * ```
 */
export function formatPaired(c: PairedComparison): string {
  const interval = c.interval
    ? `${Math.round(c.interval.level * 100)}% interval ${signed(c.interval.low)} to ${
      signed(c.interval.high)
    }`
    : "one seed: no interval";
  return `mean difference ${signed(c.meanDifference)} (${interval}; higher in ${c.wins}, equal ` +
    `in ${c.ties}, lower in ${c.losses} of ${c.n})`;
}

/**
 * Checks the article's claims on every seed and states each as a sentence with its count:
 *
 * 1. the baseline overfits: its val_loss rises after its minimum (the project's overfitting
 *    verdict, `diagnoseFit`) in k of n runs;
 * 2. the baseline's final val accuracy lies in the article's 0.80-0.875;
 * 3. the baseline gets at least 14 of 15 test images right (when tested);
 * 4. transfer's final val_loss is lower than the baseline's ("much lower");
 * 5. transfer's final val accuracy is "about the same" as the baseline's: within 0.05 of it;
 *    the paired comparison says which way it leans;
 * 6. (beyond the article, with a fine-tuned model) fine-tuning raises the final val accuracy
 *    over the frozen-base transfer model.
 *
 * Claims about a model that was not trained are left out.
 *
 * @example
 * ```ts
 * for (const c of checkArticleClaims(runs)) console.log(c.sentence);
 * // transfer's final val_loss is lower than the baseline's in 5 of 5 seeds (mean 0.21 vs 1.02)
 * ```
 */
export function checkArticleClaims(
  runs: readonly SeedRun[],
  names: ClaimModels = {},
): CheckedClaim[] {
  const models = checkRuns(runs);
  const base = names.baseline ?? "baseline";
  const transfer = names.transfer ?? "transfer";
  const fine = names.fineTuned ?? "fine-tuned";
  const agg = aggregateSeeds(runs);
  const n = runs.length;
  const claims: CheckedClaim[] = [];
  if (models.includes(base)) {
    const b = agg[base].summary;
    const perSeed = agg[base].perSeed;
    const overfit = runs.filter((r) =>
      diagnoseFit(r.models[base].history).verdict === "overfitting"
    ).length;
    claims.push(claimOf(
      "baseline-overfits",
      "the baseline CNN overfits: validation loss rises while training accuracy climbs",
      overfit,
      n,
      [
        "val_loss rises after its minimum (overfitting)",
        `${base} run`,
        `lowest val_loss ${f2(b.minValLoss.mean)} at epoch ${
          b.minValLossEpoch.mean.toFixed(1)
        } on average, final ${f2(b.finalValLoss.mean)}`,
      ],
    ));
    const inRange = perSeed.filter((p) =>
      p.finalValAccuracy >= 0.8 - 1e-9 && p.finalValAccuracy <= 0.875 + 1e-9
    ).length;
    claims.push(claimOf(
      "baseline-accuracy",
      "the baseline reaches 0.80-0.875 validation accuracy",
      inRange,
      n,
      [
        `the ${base}'s final val accuracy is within the article's 0.80-0.875`,
        "seed",
        `mean ${f3(b.finalValAccuracy.mean)}, range ${f3(b.finalValAccuracy.min)}-${
          f3(b.finalValAccuracy.max)
        }`,
      ],
    ));
    const tested = perSeed.filter((p) => !Number.isNaN(p.testCorrect));
    if (tested.length === n) {
      const total = runs[0].models[base].test!.total;
      const hits = perSeed.filter((p, i) =>
        p.testCorrect >= Math.ceil(runs[i].models[base].test!.total * 14 / 15)
      ).length;
      claims.push(claimOf(
        "baseline-test",
        "the baseline predicts 14 of the 15 test images right",
        hits,
        n,
        [
          `the ${base} gets at least ${Math.ceil(total * 14 / 15)} of ${total} test images right`,
          "seed",
          `mean ${b.testCorrect.mean.toFixed(1)}, range ${b.testCorrect.min}-${b.testCorrect.max}`,
        ],
      ));
    }
  }
  if (models.includes(base) && models.includes(transfer)) {
    const b = agg[base];
    const t = agg[transfer];
    const lower = t.perSeed.filter((p, i) => p.finalValLoss < b.perSeed[i].finalValLoss).length;
    claims.push(claimOf(
      "transfer-lower-loss",
      "the frozen pretrained base gives a much lower validation loss",
      lower,
      n,
      [
        `${transfer}'s final val_loss is lower than the ${base}'s`,
        "seed",
        `mean ${f2(t.summary.finalValLoss.mean)} vs ${f2(b.summary.finalValLoss.mean)}`,
      ],
    ));
    const acc = pairedComparison(
      t.perSeed.map((p) => p.finalValAccuracy),
      b.perSeed.map((p) => p.finalValAccuracy),
    );
    const same = t.perSeed.filter((p, i) =>
      Math.abs(p.finalValAccuracy - b.perSeed[i].finalValAccuracy) <= 0.05 + 1e-9
    ).length;
    claims.push(claimOf(
      "transfer-same-accuracy",
      "with the pretrained base the validation accuracy is about the same",
      same,
      n,
      [
        `${transfer}'s final val accuracy is within 0.05 of the ${base}'s`,
        "seed",
        `mean ${f3(t.summary.finalValAccuracy.mean)} vs ${f3(b.summary.finalValAccuracy.mean)}`,
        formatPaired(acc),
      ],
    ));
  }
  if (models.includes(transfer) && models.includes(fine)) {
    const t = agg[transfer];
    const f = agg[fine];
    const acc = pairedComparison(
      f.perSeed.map((p) => p.finalValAccuracy),
      t.perSeed.map((p) => p.finalValAccuracy),
    );
    claims.push(claimOf(
      "fine-tuning-helps",
      "fine-tuning the top block raises validation accuracy (Chollet, DLwP 5.3)",
      acc.wins,
      n,
      [
        `${fine}'s final val accuracy is higher than ${transfer}'s`,
        "seed",
        `mean ${f3(f.summary.finalValAccuracy.mean)} vs ${f3(t.summary.finalValAccuracy.mean)}`,
        formatPaired(acc),
      ],
    ));
  }
  return claims;
}

/**
 * The report's table of figures over seeds: one row per figure, one column per model, each cell
 * `mean ± sd [min–max]`.
 *
 * @example
 * ```ts
 * console.log(formatSeedTable(aggregateSeeds(runs)));
 * ```
 */
export function formatSeedTable(agg: Record<string, ModelOverSeeds>): string {
  const models = Object.keys(agg);
  const labels: Record<(typeof FIGURES)[number], string> = {
    finalValAccuracy: "final val accuracy",
    bestValAccuracy: "best val accuracy",
    finalValLoss: "final val loss",
    minValLoss: "lowest val loss",
    minValLossEpoch: "epoch of lowest val loss",
    finalTrainAccuracy: "final train accuracy",
    testCorrect: "test images right",
  };
  // One seed has a value, not a spread: no "± 0.000 [x–x]".
  const cell = (s: Summary, digits: number) =>
    s.n === 0
      ? "—"
      : s.n === 1
      ? s.mean.toFixed(digits)
      : `${s.mean.toFixed(digits)} ± ${s.sd.toFixed(digits)} [${s.min.toFixed(digits)}–${
        s.max.toFixed(digits)
      }]`;
  const n = agg[models[0]].seeds.length;
  const lines = [
    `| ${n === 1 ? "one seed" : `over ${n} seeds: mean ± sd [min–max]`} | ${models.join(" | ")} |`,
    `| --- |${models.map(() => " --- |").join("")}`,
  ];
  for (const f of FIGURES) {
    const digits = f === "minValLossEpoch" || f === "testCorrect" ? 1 : 3;
    lines.push(
      `| ${labels[f]} | ${models.map((m) => cell(agg[m].summary[f], digits)).join(" | ")} |`,
    );
  }
  return lines.join("\n");
}

/** The `seeds` part of `metrics.json`. */
export interface SeedsMetrics {
  seeds: number[];
  /** Every seed's models: History and test images right. */
  runs: SeedRun[];
  /** Per model: every seed's figures and their mean, sd, min, max. */
  summary: Record<string, ModelOverSeeds>;
  /** The article's claims, counted over seeds. */
  claims: CheckedClaim[];
  /** Paired comparisons of final val accuracy (`a - b` per seed, 95% t interval). */
  comparisons: Array<{ a: string; b: string; metric: "finalValAccuracy" } & PairedComparison>;
}

/**
 * Aggregates the runs of all seeds into {@linkcode SeedsMetrics}.
 *
 * @example
 * ```ts
 * const seeds = summarizeSeeds([first, ...others]);
 * console.log(seeds.claims.map((c) => c.sentence).join("\n"));
 * ```
 */
export function summarizeSeeds(runs: SeedRun[]): SeedsMetrics {
  const summary = aggregateSeeds(runs);
  const models = Object.keys(summary);
  const pairs: Array<[string, string]> = [
    [SEED_MODEL_NAMES.transfer, SEED_MODEL_NAMES.baseline],
    [SEED_MODEL_NAMES.fineTuned, SEED_MODEL_NAMES.transfer],
    [SEED_MODEL_NAMES.fineTuned, SEED_MODEL_NAMES.baseline],
  ];
  const comparisons = pairs.filter(([a, b]) => models.includes(a) && models.includes(b)).map((
    [a, b],
  ) => ({
    a,
    b,
    metric: "finalValAccuracy" as const,
    ...pairedComparison(
      summary[a].perSeed.map((p) => p.finalValAccuracy),
      summary[b].perSeed.map((p) => p.finalValAccuracy),
    ),
  }));
  return {
    seeds: runs.map((r) => r.seed),
    runs,
    summary,
    claims: checkArticleClaims(runs, {
      baseline: SEED_MODEL_NAMES.baseline,
      transfer: SEED_MODEL_NAMES.transfer,
      fineTuned: SEED_MODEL_NAMES.fineTuned,
    }),
    comparisons,
  };
}

/**
 * The report's "over seeds" section: the table of figures, the paired comparisons, the
 * article's claims as checked sentences, and the band chart (when `chart` names its PNG).
 *
 * @example
 * ```ts
 * lines.push(...renderSeedsMarkdown(metrics.seeds, { chart: "seeds_bands.png" }));
 * ```
 */
export function renderSeedsMarkdown(s: SeedsMetrics, { chart }: { chart?: string } = {}): string[] {
  const n = s.seeds.length;
  const lines = [
    `## Over ${n} seed${n === 1 ? "" : "s"} (${s.seeds.join(", ")})`,
    "",
    "Every model retrained from scratch with each seed (weights, shuffling, augmentation, " +
    "dropout); the pretrained base's features are extracted once.",
    "",
    formatSeedTable(s.summary),
    "",
  ];
  if (s.comparisons.length > 0) {
    lines.push("Paired comparisons of final val accuracy (same seeds, Student t interval):", "");
    for (const c of s.comparisons) lines.push(`- ${c.a} vs ${c.b}: ${formatPaired(c)}`);
    lines.push("");
  }
  if (s.claims.length > 0) {
    lines.push("The article's claims, checked on every seed:", "");
    const mark = { held: "held", mixed: "mixed", "not held": "did not hold" } as const;
    for (const c of s.claims) {
      lines.push(`- **${mark[c.verdict]}** (${c.held}/${c.of}) — ${c.claim}: ${c.sentence}.`);
    }
    lines.push("");
  }
  if (chart) {
    lines.push(`![Validation loss and accuracy over seeds](${chart})`, "");
  }
  return lines;
}

/** The `dataSize` part of `metrics.json`: final val accuracy by training images per class. */
export interface DataSizeMetrics {
  sizes: number[];
  seeds: number[];
  /** Training images per class available in the full set (the largest point). */
  fullPerClass?: number;
  points: Array<{ model: string; perClass: number; seed: number; valAccuracy: number }>;
}

/**
 * The report's accuracy-vs-data-size section: per size, each model's mean final val accuracy
 * (with its range over seeds) and the transfer model's lead over the baseline.
 *
 * @example
 * ```ts
 * lines.push(...renderDataSizeMarkdown(metrics.dataSize, { chart: "data_size.png" }));
 * ```
 */
export function renderDataSizeMarkdown(
  d: DataSizeMetrics,
  { chart }: { chart?: string } = {},
): string[] {
  const models = [...new Set(d.points.map((p) => p.model))];
  const stat = (model: string, size: number) =>
    summarizeValues(
      d.points.filter((p) => p.model === model && p.perClass === size).map((p) => p.valAccuracy),
    );
  const hasBoth = models.includes(SEED_MODEL_NAMES.baseline) &&
    models.includes(SEED_MODEL_NAMES.transfer);
  const lines = [
    "## Accuracy against training-set size",
    "",
    `Subsets of the training set (seeded, the same ${
      d.seeds.length === 1 ? "seed" : `${d.seeds.length} seeds`
    } per size; the validation set stays whole). Final val accuracy${
      d.seeds.length === 1 ? "" : ", mean [min–max]"
    }:`,
    "",
    `| training images per class | ${models.join(" | ")} |${
      hasBoth ? " transfer − baseline |" : ""
    }`,
    `| --- |${models.map(() => " --- |").join("")}${hasBoth ? " --- |" : ""}`,
  ];
  for (const size of d.sizes) {
    const cells = models.map((m) => {
      const s = stat(m, size);
      return s.n === 0
        ? "—"
        : s.n === 1
        ? s.mean.toFixed(3)
        : `${s.mean.toFixed(3)} [${s.min.toFixed(3)}–${s.max.toFixed(3)}]`;
    });
    const lead = hasBoth
      ? ` ${
        signed(
          stat(SEED_MODEL_NAMES.transfer, size).mean - stat(SEED_MODEL_NAMES.baseline, size).mean,
        )
      } |`
      : "";
    lines.push(`| ${size} | ${cells.join(" | ")} |${lead}`);
  }
  lines.push("");
  if (chart) lines.push(`![Validation accuracy by training-set size](${chart})`, "");
  return lines;
}
