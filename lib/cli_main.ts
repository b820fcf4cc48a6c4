/**
 * The shared `main` wrapper of the command-line entry points: runs the command, prints a
 * project error as one clear `error: ...` message (no stack trace) and sets the exit code
 * (2 for a bad command line, 1 for anything else).
 *
 * @module
 */
import { UsageError } from "./cli_args.ts";

/**
 * Runs `command` and exits with its code; errors become `error: <message>` on stderr.
 *
 * @example
 * ```ts
 * if (import.meta.main) await runMain(() => main(Deno.args));
 * ```
 */
export async function runMain(command: () => Promise<number | void>): Promise<never> {
  let code = 0;
  try {
    code = (await command()) ?? 0;
  } catch (error) {
    code = error instanceof UsageError ? 2 : 1;
    const message = error instanceof Error ? error.message : String(error);
    console.error(`error: ${message}`);
    if (error instanceof Error && !isProjectError(error) && Deno.env.get("CARPLANE_DEBUG")) {
      console.error(error.stack);
    }
  }
  Deno.exit(code);
}

function isProjectError(error: Error): boolean {
  return error.name !== "Error" && error.name !== "TypeError" && error.name !== "RangeError";
}
