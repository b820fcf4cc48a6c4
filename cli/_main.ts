/**
 * The shared `main` wrapper of the command-line entry points: runs the command, prints a
 * project error (a `CarplaneError`) as one clear `error: ...` message with its hint (no stack
 * trace; `CARPLANE_DEBUG=1` shows the stack of any other error) and sets the exit code
 * (2 for a bad command line, 130 / 143 for a run stopped by SIGINT / SIGTERM, 1 for anything
 * else).
 *
 * @module
 */
import { CarplaneError, formatError, printable, RunInterruptedError } from "../lib/mod.ts";
import { UsageError } from "./_args.ts";

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
    code = error instanceof UsageError
      ? 2
      : error instanceof RunInterruptedError
      ? error.exitCode
      : 1;
    // printable: a file name in the message must not drive the terminal (escape codes).
    console.error(`error: ${printable(formatError(error))}`);
    if (
      error instanceof Error && !(error instanceof CarplaneError) && Deno.env.get("CARPLANE_DEBUG")
    ) {
      console.error(error.stack);
    }
  }
  Deno.exit(code);
}
