/**
 * Flag parsing shared by the command-line entry points (`cli/*.ts`): every value is checked
 * before any work starts (numbers in plain decimal within their range, choices, paths), and
 * unknown flags, stray words and bad values become a {@linkcode UsageError} that prints the
 * usage (exit code 2).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { dirname, resolve } from "node:path";
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

/** Options of {@linkcode parseFlags}. */
export interface ParseFlagsOptions {
  /** Whether words that are not flags are taken (e.g. predict's image paths); default false. */
  positionals?: boolean;
}

/**
 * Parses `args` against `spec`, throwing a {@linkcode UsageError} with `usage` on any problem:
 * an unknown flag, a missing value, or (unless `positionals` is set) a word that is not a flag.
 * A negative number after a flag that takes a value is its value (`--epochs -1` is then refused
 * by the range check, naming the flag, instead of being read as an unknown option).
 *
 * @example
 * ```ts
 * const { flags } = parseFlags(["--epochs", "3"], { epochs: { type: "string" } }, "usage: ...");
 * positiveInt(flags.epochs, "--epochs", "usage"); // 3
 * ```
 */
export function parseFlags(
  args: string[],
  spec: FlagSpec,
  usage: string,
  options: ParseFlagsOptions = {},
): ParsedArgs {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const name = /^--([^=]+)$/.exec(args[i])?.[1];
    if (name && spec[name]?.type === "string" && /^-[\d.]/.test(args[i + 1] ?? "")) {
      joined.push(`${args[i]}=${args[++i]}`);
    } else joined.push(args[i]);
  }
  let parsed: ParsedArgs;
  try {
    const { values, positionals } = parseArgs({
      args: joined,
      options: spec,
      allowPositionals: true,
      strict: true,
    });
    parsed = { flags: values as ParsedArgs["flags"], positionals };
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error), usage);
  }
  if (!options.positionals && parsed.positionals.length > 0) {
    throw new UsageError(
      `Unexpected argument "${parsed.positionals[0]}": this command takes only the flags below.`,
      usage,
    );
  }
  return parsed;
}

/**
 * Reads an optional whole-number flag written in plain decimal digits (no sign, exponent,
 * `0x` or fraction) and checks it lies in `[min, max]`.
 *
 * @example
 * ```ts
 * intInRange("30", "--epochs", "usage", 1, 10_000); // 30
 * intInRange(undefined, "--epochs", "usage", 1, 10_000); // undefined
 * ```
 */
export function intInRange(
  value: string | boolean | undefined,
  name: string,
  usage: string,
  min: number,
  max: number,
): number | undefined {
  if (value === undefined) return undefined;
  const expected = `a whole number from ${min} to ${max}, in plain digits`;
  if (typeof value !== "string" || !/^[0-9]+$/.test(value)) {
    throw new UsageError(`${name} takes ${expected}, got "${value}".`, usage);
  }
  // Compared exactly: 9007199254740993 would round to 2^53 as a Number.
  const big = BigInt(value);
  if (big < BigInt(min) || big > BigInt(max)) {
    throw new UsageError(`${name} takes ${expected}, got ${value}.`, usage);
  }
  return Number(big);
}

/** The largest seed: every integer up to 2^53 is exact in a double. */
export const MAX_SEED = 2 ** 53;

/**
 * Reads an optional positive integer flag up to `max` (default 1,000,000).
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
  max = 1_000_000,
): number | undefined {
  return intInRange(value, name, usage, 1, max);
}

/**
 * Reads an optional non-negative integer flag (seeds may be 0), at most {@link MAX_SEED} unless
 * `max` is given.
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
  max = MAX_SEED,
): number | undefined {
  return intInRange(value, name, usage, 0, max);
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
 * Reads an optional positive number flag (e.g. a learning rate), at most `max` (default 10).
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
  max = 10,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (
    typeof value !== "string" || !/^[0-9.eE+-]+$/.test(value) || !Number.isFinite(n) ||
    n <= 0 || n > max
  ) {
    throw new UsageError(
      `${name} takes a number above 0 and at most ${max}, got "${value}".`,
      usage,
    );
  }
  return n;
}

/** What a path flag must be, for {@linkcode checkPathFlag}. */
export type PathKind =
  /** An existing folder. */
  | "existing-dir"
  /** A folder that exists or can be created (no file in the way, no file as an ancestor). */
  | "dir"
  /** An existing regular file or folder. */
  | "existing";

/**
 * Checks a path flag before any work starts, so a run does not fail after an hour of training
 * on a `--cache-dir` that is a file. Returns the path unchanged.
 *
 * @example
 * ```ts
 * await checkPathFlag("outputs", "--out", "dir", "usage"); // "outputs"
 * ```
 */
export async function checkPathFlag(
  value: string | boolean | undefined,
  name: string,
  kind: PathKind,
  usage: string,
): Promise<string | undefined> {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value === "") {
    throw new UsageError(`${name} takes a path, got "${value}".`, usage);
  }
  const info = await statOrNull(value);
  if (kind === "existing" || kind === "existing-dir") {
    if (!info) throw new UsageError(`${name} ${value}: no such file or folder.`, usage);
    if (kind === "existing-dir" && !info.isDirectory) {
      throw new UsageError(`${name} ${value} is not a folder.`, usage);
    }
    return value;
  }
  if (info) {
    if (!info.isDirectory) {
      throw new UsageError(`${name} ${value} is a file, not a folder: pass a folder.`, usage);
    }
    return value;
  }
  // Missing: it will be created, so the nearest existing ancestor must be a folder.
  let parent = dirname(resolve(value));
  while (true) {
    const p = await statOrNull(parent);
    if (p) {
      if (!p.isDirectory) {
        throw new UsageError(
          `${name} ${value} cannot be created: ${parent} is a file, not a folder.`,
          usage,
        );
      }
      return value;
    }
    if (dirname(parent) === parent) return value;
    parent = dirname(parent);
  }
}

async function statOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    if (error instanceof Deno.errors.NotADirectory) return null;
    throw error;
  }
}
