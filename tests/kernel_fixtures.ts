/** Shared by the wasm kernel tests: seeded inputs and the error measure they compare with. */
import assert from "node:assert/strict";

/** Deterministic pseudo-random numbers (mulberry32), so both backends see identical inputs. */
export function randomArray(size: number, seed: number, scale = 1): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

/** Number of elements of a shape. */
export const sizeOf = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/** max |a - b| / max |b| (with a tiny floor so an all-zero reference still compares). */
export function relativeError(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length, "result sizes differ");
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / Math.max(scale, 1e-12);
}
