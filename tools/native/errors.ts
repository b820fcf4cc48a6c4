/**
 * The error `deno task setup-native` raises.
 *
 * @module
 */
import { CarplaneError } from "../../lib/errors.ts";

/**
 * Raised when the native addon cannot be set up: the message names what is missing (compiler,
 * Node headers, libtensorflow, functions) with the file or flag, the hint says what to do.
 *
 * @example
 * ```ts
 * throw new NativeSetupError("No C++ compiler found (tried c++, g++, clang++).",
 *   "Install one (Debian: apt-get install g++) or set CXX.");
 * ```
 */
export class NativeSetupError extends CarplaneError {
  constructor(message: string, hint?: string) {
    super(message, hint === undefined || hint === "" ? {} : { hint });
  }
}
