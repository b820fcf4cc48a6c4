/**
 * Small text helpers shared inside `lib/` (not part of the front door).
 *
 * @module
 */

/**
 * A short random suffix for temporary file and folder names (10 hex digits).
 *
 * @example
 * ```ts
 * const staging = `${dest}.incoming-${randomSuffix()}`;
 * ```
 */
export function randomSuffix(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 10);
}

/**
 * The first line of an error's message (or of any value's text), without a trailing colon, for
 * one-line reports.
 *
 * @example
 * ```ts
 * firstLine(new Error("bad magic\n  at ...")); // "bad magic"
 * ```
 */
export function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0].replace(/:$/, "");
}
