/**
 * Flag parsing shared by the command-line entry points (`cli/*.ts`): numbers are checked, and
 * unknown flags and bad values become a {@linkcode UsageError} that prints the usage.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { CarplaneError } from "../lib/mod.ts";

/** Raised for a bad command line; its message ends with the usage text. */
export class UsageError extends CarplaneError {
  constructor(message: string, usage: string) {
    super(`${message}\n\n${usage}`);
    this.name = "UsageError";
  }
}

/** A flag's definition: a string or a boolean, with an optional short alias. */
export type FlagSpec = Record<string, { type: "string" | "boolean"; short?: string }>;

/** Parsed flags and the positional arguments. */
export interface ParsedArgs {
  flags: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/**
 * Parses `args` against `spec`, throwing a {@linkcode UsageError} with `usage` on any problem.
 *
 * @example
 * ```ts
 * const { flags } = parseFlags(["--epochs", "3"], { epochs: { type: "string" } }, "usage: ...");
 * positiveInt(flags.epochs, "--epochs", "usage"); // 3
 * ```
 */
export function parseFlags(args: string[], spec: FlagSpec, usage: string): ParsedArgs {
  try {
    const { values, positionals } = parseArgs({
      args,
      options: spec,
      allowPositionals: true,
      strict: true,
    });
    return { flags: values as ParsedArgs["flags"], positionals };
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error), usage);
  }
}

/**
 * Reads an optional positive integer flag.
 *
 * @example
 * ```ts
 * positiveInt("30", "--epochs", "usage"); // 30
 * positiveInt(undefined, "--epochs", "usage"); // undefined
 * ```
 */
export function positiveInt(
  value: string | boolean | undefined,
  name: string,
  usage: string,
): number | undefined {
  return numberFlag(
    value,
    name,
    usage,
    "a whole number of at least 1",
    (n) => Number.isInteger(n) && n >= 1,
  );
}

/**
 * Reads an optional integer flag (seeds may be 0).
 *
 * @example
 * ```ts
 * integer("0", "--seed", "usage"); // 0
 * ```
 */
export function integer(
  value: string | boolean | undefined,
  name: string,
  usage: string,
): number | undefined {
  return numberFlag(value, name, usage, "a whole number", Number.isInteger);
}

/**
 * Reads an optional flag restricted to `choices`.
 *
 * @example
 * ```ts
 * oneOf("features", ["features", "augmented"], "--mode", "usage"); // "features"
 * ```
 */
export function oneOf<T extends string>(
  value: string | boolean | undefined,
  choices: readonly T[],
  name: string,
  usage: string,
): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !choices.includes(value as T)) {
    throw new UsageError(`${name} takes one of ${choices.join(", ")}, got "${value}".`, usage);
  }
  return value as T;
}

/**
 * Reads an optional positive number flag (e.g. a learning rate).
 *
 * @example
 * ```ts
 * positiveNumber("1e-4", "--head-lr", "usage"); // 0.0001
 * ```
 */
export function positiveNumber(
  value: string | boolean | undefined,
  name: string,
  usage: string,
): number | undefined {
  return numberFlag(value, name, usage, "a positive number", (n) => Number.isFinite(n) && n > 0);
}

function numberFlag(
  value: string | boolean | undefined,
  name: string,
  usage: string,
  expected: string,
  accept: (n: number) => boolean,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== "string" || value.trim() === "" || !accept(n)) {
    throw new UsageError(`${name} takes ${expected}, got "${value}".`, usage);
  }
  return n;
}
