/**
 * `deno task bench`'s output: the side-by-side table and the `--json` object.
 *
 * @module
 */
import { BENCH_METRICS, type BenchMetric } from "./measure.ts";
import type { BenchReport } from "./run.ts";
import type { ArticleEpochResult } from "./article.ts";

/** The best tfjs figure for a metric across backends and thread counts. */
export function bestFigure(
  report: BenchReport,
  metric: BenchMetric,
): { value: number; label: string } | null {
  let best: { value: number; label: string } | null = null;
  for (const b of report.backends) {
    const m = b.metrics[metric];
    if (m === undefined) continue;
    for (const [value, threads] of [[m.single.imgPerS, 1], [m.parallel.imgPerS, m.threads]]) {
      if (best === null || value > best.value) {
        best = { value, label: `${b.backend} ${threads} thread${threads === 1 ? "" : "s"}` };
      }
    }
  }
  return best;
}

const round1 = (x: number) => Math.round(x * 10) / 10;
const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** The Keras epoch time, when the Keras anchor ran its article epoch. */
function kerasEpochSeconds(report: BenchReport): number | null {
  const keras = report.keras;
  if (!keras?.found || !("medianEpochSeconds" in keras.article)) return null;
  return keras.article.medianEpochSeconds;
}

function articleJson(article: ArticleEpochResult | { missing: string }): Record<string, unknown> {
  if ("missing" in article) return { missing: article.missing };
  return {
    seconds: round3(article.median.epochSeconds),
    threads: article.threads,
    train_img_per_s: round1(article.trainImgPerS),
    breakdown_s: {
      batches: round3(article.median.batchSeconds),
      tensors: round3(article.median.tensorSeconds),
      steps: round3(article.median.stepSeconds),
      validation: round3(article.median.validationSeconds),
    },
    epochs_s: article.epochs.map((e) => round3(e.epochSeconds)),
    kernels_per_step: article.kernelsPerStep,
    top_kernels_ms: article.topKernels.map((k) => ({
      kernel: k.kernel,
      calls: k.calls,
      ms: round1(k.ms),
    })),
  };
}

/**
 * Every figure as a ratio to Keras' on the same machine in the same run: images per second as
 * tfjs / Keras (above 1 is faster than Keras), the article's epoch as tfjs time / Keras time
 * (below 1 is faster); `null` without the Keras anchor.
 *
 * @example
 * ```ts
 * ratiosToKeras(report)?.node; // { baseline_train_img_per_s: { single: 0.45, ... }, article_epoch_time: 2.4 }
 * ```
 */
export function ratiosToKeras(report: BenchReport): Record<string, unknown> | null {
  const keras = report.keras;
  if (!keras?.found) return null;
  const out: Record<string, unknown> = {};
  const epoch = kerasEpochSeconds(report);
  for (const b of report.backends) {
    if (!b.available) continue;
    const entry: Record<string, unknown> = {};
    for (const metric of BENCH_METRICS) {
      const m = b.metrics[metric];
      if (m === undefined) continue;
      entry[metric] = {
        single: round3(m.single.imgPerS / keras.metrics[metric]),
        parallel: round3(m.parallel.imgPerS / keras.metrics[metric]),
      };
    }
    if (b.article !== undefined && !("missing" in b.article) && epoch !== null) {
      entry.article_epoch_time = round3(b.article.median.epochSeconds / epoch);
    }
    out[b.backend] = entry;
  }
  if (report.pytorch?.found) {
    const pytorch = report.pytorch;
    out.pytorch = Object.fromEntries(
      BENCH_METRICS.map((m) => [m, round3(pytorch.metrics[m] / keras.metrics[m])]),
    );
  }
  return out;
}

/**
 * The report as a plain JSON object (what `deno task bench --json` prints): per backend and
 * metric the single-thread and data-parallel images per second, the PyTorch figures and
 * best-tfjs-to-PyTorch ratios, and the scaling points.
 *
 * @example
 * ```ts
 * console.log(JSON.stringify(benchReportJson(report), null, 2));
 * ```
 */
export function benchReportJson(report: BenchReport): Record<string, unknown> {
  const backends: Record<string, unknown> = {};
  for (const b of report.backends) {
    const entry: Record<string, unknown> = { available: b.available, reason: b.reason };
    for (const metric of BENCH_METRICS) {
      const m = b.metrics[metric];
      if (m === undefined) continue;
      entry[metric] = {
        single: round1(m.single.imgPerS),
        parallel: round1(m.parallel.imgPerS),
        parallel_threads: m.threads,
        speedup: round3(m.parallel.imgPerS / m.single.imgPerS),
        timed_calls: { single: m.single.calls, parallel: m.parallel.calls },
      };
    }
    if (b.article !== undefined) entry.article_epoch = articleJson(b.article);
    if (b.available) {
      entry.settings = {
        vgg16_image_size: b.settings.vgg16ImageSize,
        train_batch: b.settings.trainBatch,
        forward_batch: b.settings.forwardBatch,
        workers: b.settings.workers,
      };
    }
    backends[b.backend] = entry;
  }
  const anchor = report.pytorch;
  const ratio: Record<string, unknown> = {};
  if (anchor?.found) {
    for (const metric of BENCH_METRICS) {
      const best = bestFigure(report, metric);
      if (best !== null) {
        ratio[metric] = { best: best.label, ratio: round3(best.value / anchor.metrics[metric]) };
      }
    }
  }
  return {
    machine: {
      cores: report.machine.cores,
      load_average_before: report.machine.loadAverageBefore.map(round3),
      load_average_after: report.machine.loadAverageAfter.map(round3),
      deno: report.machine.deno,
      tfjs: report.machine.tfjs,
    },
    vgg16_weights: report.vgg16Weights,
    backends,
    pytorch: anchor?.found
      ? { peer: anchor.peer, threads: anchor.threads, ...anchor.metrics, path: anchor.path }
      : null,
    pytorch_missing: anchor === null ? "not run" : anchor.found ? null : anchor.reason,
    ratio_to_pytorch: anchor?.found ? ratio : null,
    keras: report.keras?.found
      ? {
        peer: report.keras.peer,
        threads: report.keras.threads,
        ...report.keras.metrics,
        article_epoch_s: "medianEpochSeconds" in report.keras.article
          ? report.keras.article.medianEpochSeconds
          : null,
        article_missing: "missing" in report.keras.article ? report.keras.article.missing : null,
        python: report.keras.python,
      }
      : null,
    keras_missing: report.keras === null
      ? "not run"
      : report.keras.found
      ? null
      : report.keras.reason,
    ratio_to_keras: ratiosToKeras(report),
    scale: report.scale?.map((p) => ({
      images: p.images,
      source: p.source,
      backend: p.backend,
      threads: p.threads,
      decode_seconds: round3(p.decodeSeconds),
      decode_img_per_s: round1(p.decodeImgPerS),
      epoch_seconds: round3(p.epochSeconds),
      warmup_seconds: round3(p.warmupSeconds),
      steps: p.steps,
      train_img_per_s: round1(p.trainImgPerS),
      peak_rss_mb: round1(p.peakRssMb),
    })) ?? null,
  };
}

function ratioTable(report: BenchReport): string | null {
  const ratios = ratiosToKeras(report) as
    | Record<string, Record<string, { single: number; parallel: number } | number>>
    | null;
  if (ratios === null) return null;
  const ran = report.backends.filter((b) => b.available);
  const header = ["metric"];
  for (const b of ran) {
    header.push(`${b.backend} 1 thread`, `${b.backend} ${b.settings.workers + 1} threads`);
  }
  if (ratios.pytorch) header.push("PyTorch");
  const rows = [header];
  for (const metric of [...BENCH_METRICS, "article_epoch_time"]) {
    const row = [metric];
    for (const b of ran) {
      const r = ratios[b.backend]?.[metric];
      if (r === undefined) row.push("-", "-");
      else if (typeof r === "number") {
        const threads = b.article && !("missing" in b.article) ? b.article.threads : 1;
        row.push(threads === 1 ? r.toFixed(2) : "-", threads > 1 ? r.toFixed(2) : "-");
      } else row.push(r.single.toFixed(2), r.parallel.toFixed(2));
    }
    if (ratios.pytorch) {
      const r = ratios.pytorch[metric];
      row.push(typeof r === "number" ? r.toFixed(2) : "-");
    }
    rows.push(row);
  }
  return table(rows);
}

function breakdownTable(ran: BenchReport["backends"]): string | null {
  const rows = [["backend", "epoch", "batches", "tensors", "steps", "validation", "kernels/step"]];
  for (const b of ran) {
    if (b.article === undefined || "missing" in b.article) continue;
    const m = b.article.median;
    rows.push([
      `${b.backend} ${b.article.threads} thread${b.article.threads === 1 ? "" : "s"}`,
      m.epochSeconds.toFixed(2),
      m.batchSeconds.toFixed(2),
      m.tensorSeconds.toFixed(2),
      m.stepSeconds.toFixed(2),
      m.validationSeconds.toFixed(2),
      b.article.kernelsPerStep === null ? "-" : String(b.article.kernelsPerStep),
    ]);
  }
  return rows.length > 1 ? table(rows) : null;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) =>
    r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  ")
      .trimEnd()
  ).join("\n");
}

/**
 * The side-by-side table: one row per metric, one column per backend and thread count, the
 * PyTorch figure and the ratio of the best tfjs figure to it, then notes (unavailable
 * backends, few steps on cpu, random VGG16 weights, a busy machine) and the scaling table.
 *
 * @example
 * ```ts
 * console.log(formatBenchTable(report));
 * // metric                    wasm 1 thread  wasm 2 threads  ...  PyTorch (2 threads)  best/PyTorch
 * ```
 */
export function formatBenchTable(report: BenchReport): string {
  const ran = report.backends.filter((b) => b.available);
  const anchor = report.pytorch;
  const header = ["metric (img/s)"];
  for (const b of ran) {
    const threads = b.settings.workers + 1;
    header.push(`${b.backend} 1 thread`, `${b.backend} ${threads} threads`);
  }
  const keras = report.keras?.found ? report.keras : null;
  if (keras) header.push(`Keras (${keras.threads} threads)`);
  if (anchor?.found) header.push(`PyTorch (${anchor.threads} threads)`, "best tfjs / PyTorch");
  const rows = [header];
  for (const metric of BENCH_METRICS) {
    const row: string[] = [metric];
    for (const b of ran) {
      const m = b.metrics[metric];
      row.push(m ? m.single.imgPerS.toFixed(1) : "-", m ? m.parallel.imgPerS.toFixed(1) : "-");
    }
    if (keras) row.push(keras.metrics[metric].toFixed(1));
    if (anchor?.found) {
      const best = bestFigure(report, metric);
      row.push(
        anchor.metrics[metric].toFixed(1),
        best ? `${(best.value / anchor.metrics[metric]).toFixed(2)} (${best.label})` : "-",
      );
    }
    rows.push(row);
  }
  const epochs = ran.some((b) => b.article !== undefined && !("missing" in b.article));
  if (epochs) {
    const row = ["article epoch (s)"];
    for (const b of ran) {
      const a = b.article !== undefined && !("missing" in b.article) ? b.article : null;
      row.push(
        a && a.threads === 1 ? a.median.epochSeconds.toFixed(2) : "-",
        a && a.threads > 1 ? a.median.epochSeconds.toFixed(2) : "-",
      );
    }
    const kerasEpoch = kerasEpochSeconds(report);
    if (keras) row.push(kerasEpoch === null ? "-" : kerasEpoch.toFixed(2));
    if (anchor?.found) row.push("-", "-");
    rows.push(row);
  }
  const notes: string[] = [];
  for (const b of report.backends) {
    if (!b.available) notes.push(`${b.backend}: not run: ${b.reason}`);
    else {
      const m = b.metrics.baseline_train_img_per_s;
      const f = b.metrics.vgg16_forward_img_per_s;
      notes.push(
        `${b.backend}: timed ${m?.single.calls ?? 0}+${m?.parallel.calls ?? 0} training steps ` +
          `after ${b.settings.train.warmupCalls}+${b.settings.train.warmupCalls} warm-up, and ` +
          `${f?.single.calls ?? 0}+${f?.parallel.calls ?? 0} VGG16 batches after ` +
          `${b.settings.forward.warmupCalls}+${b.settings.forward.warmupCalls} warm-up ` +
          `(1 thread + ${b.settings.workers + 1} threads)` +
          (b.backend === "cpu" ? "; cpu is very slow: few steps, rough figures" : ""),
      );
    }
  }
  notes.push(`VGG16 weights: ${report.vgg16Weights}`);
  if (report.keras === null) notes.push("Keras anchor: not run");
  else if (!report.keras.found) notes.push(`Keras anchor: not run: ${report.keras.reason}`);
  else {
    const article = report.keras.article;
    notes.push(
      `Keras anchor: ${report.keras.peer} (${report.keras.python})` +
        ("missing" in article ? `; its article epoch: ${article.missing}` : ""),
    );
  }
  if (anchor === null) notes.push("PyTorch anchor: not run");
  else if (!anchor.found) notes.push(`PyTorch anchor: not run: ${anchor.reason}`);
  else notes.push(`PyTorch anchor: ${anchor.peer} (${anchor.path})`);
  const load = report.machine.loadAverageBefore[0];
  notes.push(
    `machine: ${report.machine.cores} cores, load average ${load?.toFixed(2)} before, ` +
      `${report.machine.loadAverageAfter[0]?.toFixed(2)} after` +
      (load > 0.5 ? " (busy: figures are noisy)" : ""),
  );
  let text = table(rows);
  const ratios = keras ? ratioTable(report) : null;
  if (ratios !== null) {
    text += "\n\nRatio to Keras, same machine, same run (img/s: tfjs / Keras, higher is faster; " +
      "epoch: tfjs time / Keras time, lower is faster)\n" + ratios;
  }
  const breakdown = breakdownTable(ran);
  if (breakdown !== null) {
    text += "\n\nWhere an article epoch goes (seconds, median epoch): batches = augmentation and " +
      "batch assembly in JavaScript, steps = tensors + forward, backward and Adam\n" + breakdown;
  }
  text += "\n\n" + notes.map((n) => `- ${n}`).join("\n");
  if (report.scale && report.scale.length > 0) {
    const scaleRows = [[
      "images",
      "decode s",
      "decoded img/s",
      "epoch s",
      "trained img/s",
      "peak RSS MB",
      "backend",
    ]];
    for (const p of report.scale) {
      scaleRows.push([
        String(p.images),
        p.decodeSeconds.toFixed(2),
        p.decodeImgPerS.toFixed(1),
        p.epochSeconds.toFixed(2),
        p.trainImgPerS.toFixed(1),
        p.peakRssMb.toFixed(0),
        `${p.backend} ${p.threads} thread${p.threads === 1 ? "" : "s"}`,
      ]);
    }
    text += "\n\nScaling: one epoch (batch 32, article's augmentation), each size in a fresh " +
      "process\n" + table(scaleRows);
  }
  return text;
}
