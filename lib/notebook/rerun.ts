/**
 * What a notebook cell made, kept so that running the cell again first disposes it.
 *
 * A notebook's variables outlive its cells: re-running a training cell builds a new model while
 * the old one (its weights, Adam's moments) stays in memory, unreachable but never freed: notebook
 * 02's training cell, run three times before this module, left `tf.memory().numTensors` at 26,
 * 52 and 78. {@linkcode keep} keeps one value per key and disposes the
 * previous one, so a cell that registers what it made leaves memory as it found it when re-run.
 *
 * The registry lives on `globalThis` (under a `Symbol.for` key), so it survives a cell that
 * re-imports this module and belongs to the kernel process, as the variables do.
 *
 * @module
 */

/** One kept value and how to dispose it. */
interface Kept {
  value: unknown;
  dispose: () => unknown;
}

const REGISTRY = Symbol.for("carplane.notebook.rerun");

function registry(): Map<string, Kept> {
  const store = globalThis as Record<symbol, Map<string, Kept> | undefined>;
  return store[REGISTRY] ??= new Map();
}

/**
 * Disposes what was kept under `key` (nothing when nothing was), and forgets it. Call it at the
 * start of a cell's work, so the old model's memory is free before the new one is built.
 *
 * @example
 * ```ts
 * await disposeKept("baseline");
 * ```
 */
export async function disposeKept(key: string): Promise<boolean> {
  const kept = registry().get(key);
  if (!kept) return false;
  registry().delete(key);
  await kept.dispose();
  return true;
}

/**
 * Keeps `value` under `key`, disposing what the key held before (with its own `dispose`).
 * Returns `value`.
 *
 * @example
 * ```ts
 * const model = keep("baseline", createBaselineModel(), (m) => m.dispose());
 * ```
 */
export async function keep<T>(
  key: string,
  value: T,
  dispose: (value: T) => unknown,
): Promise<T> {
  await disposeKept(key);
  registry().set(key, { value, dispose: () => dispose(value) });
  return value;
}

/**
 * The value kept under `key`, or undefined.
 *
 * @example
 * ```ts
 * const model = keptValue<tf.LayersModel>("baseline");
 * ```
 */
export function keptValue<T>(key: string): T | undefined {
  return registry().get(key)?.value as T | undefined;
}

/**
 * The keys kept now (for tests and diagnostics).
 *
 * @example
 * ```ts
 * keptKeys(); // ["baseline"]
 * ```
 */
export function keptKeys(): string[] {
  return [...registry().keys()];
}
