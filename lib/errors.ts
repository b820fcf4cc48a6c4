/**
 * The one base class of this project's errors. Every error the library raises on purpose
 * extends {@linkcode CarplaneError}: its message says what went wrong with which file, flag or
 * value (as Keras' errors name the argument and the value received), and its optional `hint`
 * says what to do. The command-line front ends print both without a stack trace; anything else
 * that escapes is a bug and keeps its stack.
 *
 * @module
 */

/** Options of {@linkcode CarplaneError}. */
export interface CarplaneErrorOptions {
  /** What the user can do about it, shown after the message. */
  hint?: string;
  /** The lower-level error this one explains. */
  cause?: unknown;
}

/**
 * A project error: a message naming what went wrong, an optional hint saying what to do.
 *
 * @example
 * ```ts
 * class DatasetError extends CarplaneError {}
 * throw new DatasetError("data/training_set has no class folders", {
 *   hint: "run `deno task data` first",
 * });
 * ```
 */
export class CarplaneError extends Error {
  /** What the user can do about it, if the raiser knows. */
  readonly hint?: string;
  /**
   * True when the error means that something a step needs cannot be had (a download failed, a
   * weights file is missing or unreadable), so an optional step may be skipped instead of
   * failing the run (`reproduce` skips the default VGG16 transfer step so).
   */
  readonly unavailable: boolean = false;

  constructor(message: string, options: CarplaneErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    if (options.hint !== undefined) this.hint = options.hint;
  }
}

/**
 * The message and hint of an error as one text for a terminal or a notebook.
 *
 * @example
 * ```ts
 * formatError(new CarplaneError("no data", { hint: "run deno task data" }));
 * // "no data\nhint: run deno task data"
 * ```
 */
export function formatError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const hint = error instanceof CarplaneError ? error.hint : undefined;
  return hint ? `${message}\nhint: ${hint}` : message;
}
