/**
 * Peak memory of this process, sampled while work runs (Deno reports the current resident set
 * size only).
 *
 * @module
 */

/** A running sampler; `stop()` ends it and returns the peak RSS in bytes. */
export interface PeakRssTracker {
  /** Peak resident set size seen so far, in bytes. */
  peak(): number;
  /** Stops sampling and returns the peak in bytes. */
  stop(): number;
}

/**
 * Samples `Deno.memoryUsage().rss` every `intervalMs` (default 100 ms) until stopped.
 *
 * @example
 * ```ts
 * const rss = trackPeakRss();
 * await heavyWork();
 * console.log(`peak ${(rss.stop() / 2 ** 20).toFixed(0)} MiB`);
 * ```
 */
export function trackPeakRss(intervalMs = 100): PeakRssTracker {
  let peak = Deno.memoryUsage().rss;
  const sample = () => {
    peak = Math.max(peak, Deno.memoryUsage().rss);
  };
  const timer = setInterval(sample, intervalMs);
  Deno.unrefTimer(timer);
  return {
    peak: () => {
      sample();
      return peak;
    },
    stop: () => {
      clearInterval(timer);
      sample();
      return peak;
    },
  };
}
