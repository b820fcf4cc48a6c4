/**
 * Batches from arrays already in memory (e.g. features a frozen base computed once), with the
 * same contract as the image iterators: endless, reshuffled with a seed on every pass, and a
 * smaller last batch, like Keras' `NumpyArrayIterator`.
 *
 * @module
 */
import { createRng } from "./augment.ts";
import type { BatchSource, LabeledBatch } from "../training/fit.ts";

/** Options for {@linkcode createArraySource}. */
export interface ArraySourceOptions {
  /** Images per batch (default 32). */
  batchSize?: number;
  /** Reshuffle at the start of every pass (default true). */
  shuffle?: boolean;
  /** Seed for the shuffles (default 0). */
  seed?: number;
}

/**
 * An endless batch source over `count` samples of `sampleShape`, stored flat in `xs`.
 *
 * @example
 * ```ts
 * const train = createArraySource(features, labels, [2, 2, 512], { batchSize: 32, seed: 1 });
 * const batch = await train.next(); // batch.shape = [32, 2, 2, 512]
 * ```
 */
export function createArraySource(
  xs: Float32Array,
  ys: Float32Array | null,
  sampleShape: number[],
  options: ArraySourceOptions = {},
): BatchSource & { readonly samples: number } {
  const sampleSize = sampleShape.reduce((a, b) => a * b, 1);
  const samples = xs.length / sampleSize;
  if (!Number.isInteger(samples) || samples < 1) {
    throw new RangeError(
      `createArraySource: ${xs.length} values do not split into samples of shape [${sampleShape}].`,
    );
  }
  const labelSize = ys === null ? 0 : ys.length / samples;
  if (ys !== null && !Number.isInteger(labelSize)) {
    throw new RangeError(`createArraySource: ${ys.length} labels do not match ${samples} samples.`);
  }
  const batchSize = options.batchSize ?? 32;
  const shuffle = options.shuffle ?? true;
  const rng = createRng(options.seed ?? 0);
  let order = Array.from({ length: samples }, (_, i) => i);
  let position = samples; // forces a (re)shuffle before the first batch
  return {
    samples,
    stepsPerPass: Math.ceil(samples / batchSize),
    next(): Promise<LabeledBatch> {
      if (position >= samples) {
        position = 0;
        if (shuffle) order = rng.permutation(samples);
      }
      const n = Math.min(batchSize, samples - position);
      const bx = new Float32Array(n * sampleSize);
      const by = ys === null ? null : new Float32Array(n * labelSize);
      for (let k = 0; k < n; k++) {
        const i = order[position + k];
        bx.set(xs.subarray(i * sampleSize, (i + 1) * sampleSize), k * sampleSize);
        by?.set(ys!.subarray(i * labelSize, (i + 1) * labelSize), k * labelSize);
      }
      position += n;
      return Promise.resolve({ xs: bx, ys: by, size: n, shape: [n, ...sampleShape] });
    },
  };
}
