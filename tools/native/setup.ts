/**
 * `deno task setup-native`: makes tfjs-node's native addon available in this checkout and says
 * exactly what it did.
 *
 * Sources of libtensorflow, in order: `--libtensorflow DIR`; `--wheel FILE`; the TensorFlow of
 * a Python (`--python PATH`, else `python3`), or the TensorFlow wheel that Python's pip can get
 * (offline from a local wheel mirror where pip is configured with one); else, online, the
 * official libtensorflow C library tarball (hash-checked, cached). The addon is then compiled against it (cached by a key of all
 * its inputs), copied to where tfjs-node loads it, and proved by loading it in a fresh process.
 * A second run with nothing to change takes about as long as that proof.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { defaultCacheDir } from "../../lib/data/download.ts";
import { type NativeAddonPlace, nativeAddonPlace } from "../../lib/training/native.ts";
import {
  type AddonNote,
  buildAddon,
  buildKey,
  findCompiler,
  findNodeHeaders,
  installAddon,
  readAddonNote,
} from "./addon.ts";
import { NativeSetupError } from "./errors.ts";
import {
  ADDON_SYMBOLS,
  checkSymbols,
  findLibtensorflow,
  type Libtensorflow,
  libtensorflowFromTarball,
  libtensorflowFromWheel,
  OFFICIAL_LIBTENSORFLOW,
  type OnlineSource,
  tensorflowOfPython,
  wheelFromPip,
} from "./libtensorflow.ts";

/** Options of {@linkcode setupNative} (the command's flags). */
export interface SetupNativeOptions {
  /** An unpacked libtensorflow (the C library tarball's layout, or a TensorFlow package folder). */
  libtensorflow?: string;
  /** A TensorFlow pip wheel. */
  wheel?: string;
  /** A Python whose TensorFlow to use; default `python3` (skipped when it has none). */
  python?: string;
  /** Do not look for a Python's TensorFlow, nor ask its pip for the wheel. */
  noPython?: boolean;
  /** Allow the online download when no local source is found (default true). */
  online?: boolean;
  /** The tarball to download (default the official one); tests use a local server. */
  onlineSource?: OnlineSource;
  /** Node's C headers folder (default: found). */
  nodeHeaders?: string;
  /** Rebuild and reinstall even when an addon from this setup is in place. */
  force?: boolean;
  /** Cache folder (default `~/.cache/carplane`). */
  cacheDir?: string;
  /** Skip the proof in a fresh process (tests that only install). */
  skipProof?: boolean;
  /** Where the report lines go (default `console.log`). */
  log?: (line: string) => void;
}

/** What {@linkcode setupNative} did. */
export interface SetupNativeResult {
  /** Where the addon is. */
  place: NativeAddonPlace;
  /** The note written beside it. */
  note: AddonNote;
  /** The addon was compiled in this run (not taken from the cache). */
  built: boolean;
  /** The addon file in the package folder changed in this run. */
  installed: boolean;
  /** Nothing needed doing: an addon from an earlier setup was in place and loads. */
  alreadySetUp: boolean;
}

/**
 * Resolves the libtensorflow to build against, from the first source that applies.
 *
 * @example
 * ```ts
 * const tf = await resolveLibtensorflow({ wheel: "tensorflow_cpu-2.21.0-...whl" }, cacheDir, console.log);
 * ```
 */
export async function resolveLibtensorflow(
  options: SetupNativeOptions,
  cacheDir: string,
  log: (line: string) => void,
): Promise<Libtensorflow> {
  if (options.libtensorflow !== undefined) {
    return await findLibtensorflow(
      options.libtensorflow,
      `--libtensorflow ${options.libtensorflow}`,
    );
  }
  if (options.wheel !== undefined) {
    return await libtensorflowFromWheel(options.wheel, cacheDir, log);
  }
  const tried: string[] = [];
  if (!options.noPython) {
    const python = options.python ?? "python3";
    const dir = await tensorflowOfPython(python);
    if (dir !== null) return await findLibtensorflow(dir, `the TensorFlow of ${python} (${dir})`);
    if (options.python !== undefined) {
      throw new NativeSetupError(
        `${options.python} has no TensorFlow (import tensorflow failed).`,
        "Pass a python that has it, or --wheel FILE, or --libtensorflow DIR.",
      );
    }
    tried.push(`${python} has no TensorFlow`);
    const pip = await wheelFromPip(python, cacheDir);
    if ("wheel" in pip) {
      log(`${python} has no TensorFlow; pip got its wheel: ${pip.wheel}`);
      return await libtensorflowFromWheel(pip.wheel, cacheDir, log);
    }
    tried.push(pip.problem);
  }
  if (options.online === false) {
    throw new NativeSetupError(
      `No libtensorflow found (${
        tried.join("; ") || "no local source given"
      }) and --offline was given.`,
      "Pass --libtensorflow DIR (an unpacked libtensorflow), --wheel FILE (a TensorFlow wheel, " +
        "e.g. pip download --no-deps tensorflow_cpu==2.21.0) or --python PATH.",
    );
  }
  const source = options.onlineSource ?? OFFICIAL_LIBTENSORFLOW;
  log(`No local libtensorflow (${tried.join("; ") || "none given"}): downloading ${source.url}`);
  try {
    return await libtensorflowFromTarball(source, cacheDir, log);
  } catch (error) {
    if (error instanceof NativeSetupError) throw error;
    throw new NativeSetupError(
      `No libtensorflow: ${tried.join("; ") || "no local source given"}, and the download ` +
        `failed: ${error instanceof Error ? error.message : error}`,
      "Pass --libtensorflow DIR, --wheel FILE or --python PATH instead.",
    );
  }
}

/**
 * Loads tfjs-node in a fresh Deno process (as `deno task reproduce` would) and returns
 * TensorFlow's version, or throws with what the process printed.
 *
 * @example
 * ```ts
 * await proveAddon(); // "2.21.0"
 * ```
 */
export async function proveAddon(): Promise<string> {
  const probe = fromFileUrl(new URL("./probe.ts", import.meta.url));
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", probe],
    cwd: fromFileUrl(new URL("../..", import.meta.url)),
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
  if (out.success && stdout.startsWith("{")) {
    return (JSON.parse(stdout) as { tensorflow: string }).tensorflow;
  }
  const stderr = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-4).join("\n");
  throw new NativeSetupError(
    `The addon was installed but does not load in a fresh process:\n${stderr || stdout}`,
    "Run deno task setup-native --force; if it fails again, try another libtensorflow source.",
  );
}

/**
 * Sets up tfjs-node's native addon and reports each step through `log`.
 *
 * @example
 * ```ts
 * const result = await setupNative({ wheel: "tensorflow_cpu-2.21.0-...whl" });
 * console.log(result.note.tensorflow); // "2.21.0"
 * ```
 */
export async function setupNative(options: SetupNativeOptions = {}): Promise<SetupNativeResult> {
  const log = options.log ?? console.log;
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const place = nativeAddonPlace();
  const explicit = options.libtensorflow !== undefined || options.wheel !== undefined ||
    options.python !== undefined || options.onlineSource !== undefined;
  const previous = readAddonNote(place);
  if (previous !== null && !options.force && !explicit) {
    try {
      const version = await proveAddon();
      log(
        `tfjs-node's addon is already set up: ${place.addonPath}\n` +
          `  TensorFlow ${version} from ${previous.origin}; it loads. ` +
          "(--force rebuilds; --wheel/--libtensorflow/--python choose another source.)",
      );
      return { place, note: previous, built: false, installed: false, alreadySetUp: true };
    } catch {
      log("The addon from an earlier setup no longer loads: setting it up again.");
    }
  }
  const tf = await resolveLibtensorflow(options, cacheDir, log);
  log(`libtensorflow: ${tf.library} (from ${tf.origin})`);
  const { version, missing } = checkSymbols(tf);
  if (missing.length > 0) {
    throw new NativeSetupError(
      `${tf.library} (TensorFlow ${version}) lacks ${missing.length} function(s) tfjs-node's ` +
        `addon calls: ${missing.join(", ")}.`,
      "Use TensorFlow 2.9 or later: the official C library, or a tensorflow/tensorflow_cpu wheel.",
    );
  }
  log(`  TensorFlow ${version}, exports all ${ADDON_SYMBOLS.length} functions the addon calls`);
  const compiler = await findCompiler();
  const nodeHeaders = await findNodeHeaders(options.nodeHeaders);
  if (options.force) {
    // A forced setup rebuilds: drop the cached build of exactly these inputs.
    const key = await buildKey({ pkg: place, tf, compiler, nodeHeaders });
    await Deno.remove(join(cacheDir, "native", `addon-${key}`), { recursive: true }).catch(
      () => {},
    );
  }
  const start = performance.now();
  const built = await buildAddon({ pkg: place, tf, compiler, nodeHeaders }, cacheDir, log);
  log(
    built.built
      ? `  compiled in ${((performance.now() - start) / 1000).toFixed(1)} s: ${built.path}`
      : `  compiled earlier (cached): ${built.path}`,
  );
  const note: AddonNote = {
    key: built.key,
    origin: tf.origin,
    library: tf.library,
    framework: tf.framework,
    tensorflow: version,
    builtAddon: built.path,
  };
  const installed = await installAddon(place, built.path, note);
  log(`${installed ? "Installed" : "Already in place"}: ${place.addonPath}`);
  if (!options.skipProof) {
    const proved = await proveAddon();
    log(`tfjs-node loads in a fresh process with TensorFlow ${proved}: --backend node works.`);
  }
  return { place, note, built: built.built, installed, alreadySetUp: false };
}
