/**
 * `deno task setup-native`: makes tfjs-node's native addon (libtensorflow) available, so that
 * `--backend node` (and `auto`) can train on it.
 *
 * ```
 * deno task setup-native [--libtensorflow DIR | --wheel FILE | --python PATH] [--offline]
 *                        [--node-headers DIR] [--force]
 * ```
 *
 * @module
 */
import { parseFlags } from "./_args.ts";
import { runMain } from "./_main.ts";
import { setupNative } from "../tools/native/setup.ts";

const USAGE = `Usage: deno task setup-native [options]

Builds tfjs-node's native addon against a libtensorflow and installs it into this checkout's
node_modules (only adding files). Sources, the first that applies:
  --libtensorflow DIR  an unpacked libtensorflow: the official C library tarball's folder
                       (include/, lib/) or a TensorFlow Python package folder
  --wheel FILE         a TensorFlow pip wheel (e.g. pip download --no-deps tensorflow_cpu==2.21.0)
  --python PATH        a python whose TensorFlow to use (default: python3, when it has one;
                       else its pip is asked for the tensorflow_cpu 2.21 wheel, offline from a
                       local mirror where pip is configured with one)
  (online)             else the official libtensorflow 2.9.1 C library, downloaded once,
                       SHA-256 checked, cached in ~/.cache/carplane
Options:
  --offline            never download; fail with what to pass instead
  --no-python          do not look for a Python's TensorFlow or ask its pip
  --node-headers DIR   folder with node_api.h (default: /usr/include/node, node-gyp's cache)
  --force              rebuild and reinstall even when set up already`;

async function main(args: string[]): Promise<void> {
  const { flags } = parseFlags(args, {
    libtensorflow: { type: "string" },
    wheel: { type: "string" },
    python: { type: "string" },
    offline: { type: "boolean" },
    "no-python": { type: "boolean" },
    "node-headers": { type: "string" },
    force: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  }, USAGE);
  if (flags.help) {
    console.log(USAGE);
    return;
  }
  await setupNative({
    libtensorflow: flags.libtensorflow as string | undefined,
    wheel: flags.wheel as string | undefined,
    python: flags.python as string | undefined,
    noPython: flags["no-python"] === true,
    online: flags.offline !== true,
    nodeHeaders: flags["node-headers"] as string | undefined,
    force: flags.force === true,
  });
}

if (import.meta.main) await runMain(() => main(Deno.args));
