/**
 * Finding a libtensorflow for tfjs-node's native addon, from the three sources `deno task
 * setup-native` knows, and checking that it exports every C function the addon calls.
 *
 * - a folder: the official C library tarball's layout (`include/`, `lib/libtensorflow.so.2`,
 *   `lib/libtensorflow_framework.so.2`), or a TensorFlow Python package's folder
 *   (`tf.sysconfig.get_lib()`: `libtensorflow_cc.so.2`, `libtensorflow_framework.so.2` and
 *   `include/` side by side);
 * - a TensorFlow pip wheel (`tensorflow_cpu-*.whl`), of which only the two libraries and the C
 *   headers are unpacked into the cache, or the TensorFlow of a Python the user has;
 * - online, the official libtensorflow tarball that tfjs-node's own installer fetches, through the
 *   project's cached, hash-checked {@linkcode download}.
 *
 * @module
 */
import { join, resolve } from "node:path";
import { download } from "../../lib/data/download.ts";
import { readArchiveEntries } from "../../lib/data/archive.ts";
import { NativeSetupError } from "./errors.ts";
import { exists, writeFileAtomic } from "./_files.ts";

/** A libtensorflow the addon can be compiled and linked against. */
export interface Libtensorflow {
  /** Folder holding `tensorflow/c/c_api.h`. */
  includeDir: string;
  /** The library that exports the `TFE_*` functions (`libtensorflow.so.2` or `libtensorflow_cc.so.2`). */
  library: string;
  /** `libtensorflow_framework.so.2` beside it. */
  framework: string;
  /** Where it came from, in words (for the setup's report). */
  origin: string;
}

/**
 * The C functions tfjs-node 4.22's addon (`binding/*.cc`) calls: the undefined `TF_`/`TFE_`
 * symbols of a built `tfjs_binding.node` (`nm -D --undefined-only`, version suffixes `@...`
 * stripped). TensorFlow 2.21's `libtensorflow_cc.so.2` and the official 2.9.1 C library both
 * export all of them.
 */
export const ADDON_SYMBOLS: readonly string[] = [
  "TFE_ContextListDevices",
  "TFE_DeleteContext",
  "TFE_DeleteContextOptions",
  "TFE_DeleteOp",
  "TFE_DeleteTensorHandle",
  "TFE_Execute",
  "TFE_NewContext",
  "TFE_NewContextOptions",
  "TFE_NewOp",
  "TFE_NewTensorHandle",
  "TFE_OpAddInput",
  "TFE_OpSetAttrBool",
  "TFE_OpSetAttrBoolList",
  "TFE_OpSetAttrFloat",
  "TFE_OpSetAttrFloatList",
  "TFE_OpSetAttrInt",
  "TFE_OpSetAttrIntList",
  "TFE_OpSetAttrShape",
  "TFE_OpSetAttrString",
  "TFE_OpSetAttrType",
  "TFE_TensorHandleCopyToDevice",
  "TFE_TensorHandleDataType",
  "TFE_TensorHandleDim",
  "TFE_TensorHandleNumDims",
  "TFE_TensorHandleResolve",
  "TF_AllocateTensor",
  "TF_DataTypeSize",
  "TF_DeleteBuffer",
  "TF_DeleteDeviceList",
  "TF_DeleteGraph",
  "TF_DeleteSession",
  "TF_DeleteSessionOptions",
  "TF_DeleteStatus",
  "TF_DeleteTensor",
  "TF_DeviceListCount",
  "TF_DeviceListName",
  "TF_DeviceListType",
  "TF_Dim",
  "TF_GetCode",
  "TF_GraphOperationByName",
  "TF_LoadSessionFromSavedModel",
  "TF_Message",
  "TF_NewBuffer",
  "TF_NewBufferFromString",
  "TF_NewGraph",
  "TF_NewSessionOptions",
  "TF_NewStatus",
  "TF_NewTensor",
  "TF_NumDims",
  "TF_SessionRun",
  "TF_TensorByteSize",
  "TF_TensorData",
  "TF_TensorElementCount",
  "TF_TensorType",
  "TF_Version",
];

/**
 * The official libtensorflow C library that tfjs-node 4.22's installer downloads
 * (`scripts/deps-constants.js`: LIBTENSORFLOW_VERSION 2.9.1), with its published SHA-256.
 */
export const OFFICIAL_LIBTENSORFLOW = Object.freeze({
  url:
    "https://storage.googleapis.com/tensorflow/libtensorflow/libtensorflow-cpu-linux-x86_64-2.9.1.tar.gz",
  sha256: "7f510d2546e3db5e10b1d119463689003d587842892ad3c95bca51cf82820173",
});

const LIBRARY_NAMES = ["libtensorflow.so.2", "libtensorflow_cc.so.2", "libtensorflow.so"];
const FRAMEWORK_NAMES = ["libtensorflow_framework.so.2", "libtensorflow_framework.so"];

async function firstExisting(dir: string, names: string[]): Promise<string | null> {
  for (const name of names) {
    if (await exists(join(dir, name))) return join(dir, name);
  }
  return null;
}

/**
 * Recognises a libtensorflow folder: the C library tarball's layout (`include/`, `lib/`) or a
 * TensorFlow Python package folder (libraries and `include/` side by side). Throws a
 * {@linkcode NativeSetupError} naming what is missing.
 *
 * @example
 * ```ts
 * const tf = await findLibtensorflow("/opt/libtensorflow");
 * console.log(tf.library); // "/opt/libtensorflow/lib/libtensorflow.so.2"
 * ```
 */
export async function findLibtensorflow(dir: string, origin = dir): Promise<Libtensorflow> {
  const root = resolve(dir);
  if (!(await exists(root))) {
    throw new NativeSetupError(
      `The libtensorflow folder ${root} does not exist.`,
      "Pass --libtensorflow with an unpacked libtensorflow (the official C library tarball's " +
        "folder, holding include/ and lib/), or --wheel with a TensorFlow wheel.",
    );
  }
  const includeDir = join(root, "include");
  for (const libDir of [join(root, "lib"), root]) {
    const library = await firstExisting(libDir, LIBRARY_NAMES);
    const framework = await firstExisting(libDir, FRAMEWORK_NAMES);
    if (library === null || framework === null) continue;
    if (!(await exists(join(includeDir, "tensorflow", "c", "c_api.h")))) {
      throw new NativeSetupError(
        `${root} has ${library} but no C headers (${includeDir}/tensorflow/c/c_api.h).`,
        "Use the whole unpacked libtensorflow folder (include/ and lib/), or a TensorFlow " +
          "wheel with --wheel.",
      );
    }
    return { includeDir, library, framework, origin };
  }
  throw new NativeSetupError(
    `No libtensorflow in ${root}: expected lib/libtensorflow.so.2 and ` +
      "lib/libtensorflow_framework.so.2 (the C library tarball) or libtensorflow_cc.so.2 and " +
      "libtensorflow_framework.so.2 (a TensorFlow Python package).",
    "Pass the folder the libtensorflow tarball unpacked into, or a TensorFlow wheel with --wheel.",
  );
}

/** The parts of a TensorFlow wheel the addon needs: the two libraries and the C headers. */
function wheelMember(name: string): string | null {
  const prefix = "tensorflow/";
  if (!name.startsWith(prefix)) return null;
  const rest = name.slice(prefix.length);
  if (rest === "libtensorflow_cc.so.2" || rest === "libtensorflow_framework.so.2") {
    return join("lib", rest);
  }
  // c_api.h and what it includes (g++ -M on binding/*.cc against TensorFlow 2.21's headers).
  const headers = [
    "include/tensorflow/c/",
    "include/tensorflow/core/platform/ctstring",
    "include/tsl/platform/ctstring",
    "include/xla/tsl/c/",
  ];
  if (headers.some((h) => rest.startsWith(h)) && rest.endsWith(".h")) return rest;
  return null;
}

/**
 * Unpacks the libtensorflow of a TensorFlow pip wheel (`tensorflow_cpu-2.21.0-...whl`) into
 * `cacheDir/native/`, once: a second call with the same wheel (same name and size) reuses it.
 *
 * @example
 * ```ts
 * const tf = await libtensorflowFromWheel("tensorflow_cpu-2.21.0-cp311-cp311-manylinux_2_27_x86_64.whl",
 *   "/root/.cache/carplane");
 * ```
 */
export async function libtensorflowFromWheel(
  wheel: string,
  cacheDir: string,
  log: (line: string) => void = () => {},
): Promise<Libtensorflow> {
  const file = resolve(wheel);
  let size: number;
  try {
    size = (await Deno.stat(file)).size;
  } catch {
    throw new NativeSetupError(
      `The wheel ${file} does not exist.`,
      "Pass --wheel with a TensorFlow wheel file (pip download --no-deps tensorflow_cpu==2.21.0 " +
        "fetches one).",
    );
  }
  const base = file.split("/").pop()!.replace(/\.whl$/, "");
  const target = join(cacheDir, "native", `libtensorflow-${base}-${size}`);
  const done = join(target, ".complete");
  const origin = `the TensorFlow wheel ${file}`;
  if (await exists(done)) return await findLibtensorflow(target, origin);
  log(`Unpacking libtensorflow and its C headers from ${file} into ${target} ...`);
  const tmp = `${target}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  let found = 0;
  try {
    const entries = readArchiveEntries(file, {
      wantData: (entry) => wheelMember(entry.name) !== null,
    });
    for await (const entry of entries) {
      const member = wheelMember(entry.name);
      if (member === null || entry.data === undefined) continue;
      await writeFileAtomic(
        join(tmp, member),
        entry.data,
        member.startsWith("lib/") ? 0o755 : 0o644,
      );
      if (member.startsWith("lib/")) found++;
    }
  } catch (error) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    if (error instanceof NativeSetupError) throw error;
    throw new NativeSetupError(
      `Cannot read the wheel ${file}: ${error instanceof Error ? error.message : error}`,
      "Pass a complete TensorFlow wheel (.whl is a zip archive).",
    );
  }
  if (found < 2) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw new NativeSetupError(
      `The wheel ${file} has no tensorflow/libtensorflow_cc.so.2 and ` +
        "tensorflow/libtensorflow_framework.so.2.",
      "Pass a TensorFlow 2.x CPU wheel for Linux (tensorflow_cpu or tensorflow).",
    );
  }
  await Deno.writeTextFile(join(tmp, ".complete"), `${file}\n`);
  await Deno.remove(target, { recursive: true }).catch(() => {});
  await Deno.rename(tmp, target);
  return await findLibtensorflow(target, origin);
}

/**
 * The folder of the TensorFlow that `python` imports (`tf.sysconfig.get_lib()`), or `null` when
 * that python has no TensorFlow (or cannot run).
 *
 * @example
 * ```ts
 * await tensorflowOfPython("python3"); // "/usr/lib/python3/dist-packages/tensorflow" or null
 * ```
 */
export async function tensorflowOfPython(python: string): Promise<string | null> {
  try {
    const out = await new Deno.Command(python, {
      args: ["-c", "import tensorflow as tf; print(tf.sysconfig.get_lib())"],
      env: { TF_CPP_MIN_LOG_LEVEL: "3" },
      stdout: "piped",
      stderr: "null",
      stdin: "null",
    }).output();
    if (!out.success) return null;
    const line = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
    return line === "" ? null : line;
  } catch {
    return null;
  }
}

/** The TensorFlow wheel {@linkcode wheelFromPip} asks pip for. */
export const PIP_TENSORFLOW = "tensorflow_cpu==2.21.0";

/**
 * Asks `python`'s pip for the TensorFlow CPU wheel (`pip download --no-deps`, binary only) into
 * `cacheDir/wheels/`, through the first index pip is configured with (on machines with a local
 * wheel mirror this is offline); returns the wheel's path, or `null` with pip's last line.
 *
 * @example
 * ```ts
 * const got = await wheelFromPip("python3", "/root/.cache/carplane");
 * if ("wheel" in got) console.log(got.wheel);
 * ```
 */
export async function wheelFromPip(
  python: string,
  cacheDir: string,
): Promise<{ wheel: string } | { problem: string }> {
  const dir = join(cacheDir, "wheels");
  const run = async (args: string[]) => {
    try {
      const out = await new Deno.Command(python, {
        args,
        stdout: "piped",
        stderr: "piped",
        stdin: "null",
      }).output();
      const text = new TextDecoder().decode(out.success ? out.stdout : out.stderr).trim();
      return { ok: out.success, text };
    } catch (error) {
      return { ok: false, text: `${python} could not be started (${error})` };
    }
  };
  // The configured extra index first (a local mirror), as ../shared/bench/keras_env.sh does:
  // pip would otherwise also wait on an unreachable default index.
  const config = await run(["-m", "pip", "config", "get", "global.extra-index-url"]);
  const index = config.ok ? config.text.split(/\s+/)[0] : "";
  const got = await run([
    "-m",
    "pip",
    "download",
    "-q",
    "--no-deps",
    "--only-binary=:all:",
    "-d",
    dir,
    ...(index !== "" ? ["--index-url", index] : []),
    PIP_TENSORFLOW,
  ]);
  if (!got.ok) {
    return { problem: `pip could not get ${PIP_TENSORFLOW} (${got.text.split("\n").at(-1)})` };
  }
  try {
    for await (const e of Deno.readDir(dir)) {
      if (/^tensorflow_cpu-2\.21\.0-.*\.whl$/.test(e.name)) return { wheel: join(dir, e.name) };
    }
  } catch {
    // no folder: pip wrote nothing
  }
  return { problem: `pip reported success but left no ${PIP_TENSORFLOW} wheel in ${dir}` };
}

/** Where the online libtensorflow comes from (a test passes a local server and its hash). */
export interface OnlineSource {
  url: string;
  sha256: string;
}

/**
 * Downloads (once, hash-checked, cached) the libtensorflow C library tarball and unpacks its
 * `include/` and `lib/` (with the tarball's `libtensorflow.so.2 -> libtensorflow.so.2.9.1` links)
 * into `cacheDir/native/`.
 *
 * @example
 * ```ts
 * const tf = await libtensorflowFromTarball(OFFICIAL_LIBTENSORFLOW, "/root/.cache/carplane");
 * ```
 */
export async function libtensorflowFromTarball(
  source: OnlineSource,
  cacheDir: string,
  log: (line: string) => void = () => {},
): Promise<Libtensorflow> {
  const target = join(cacheDir, "native", `libtensorflow-${source.sha256.slice(0, 16)}`);
  const origin = `${source.url} (SHA-256 ${source.sha256.slice(0, 12)}...)`;
  if (await exists(join(target, ".complete"))) return await findLibtensorflow(target, origin);
  const archive = await download(source.url, {
    cacheDir,
    sha256: source.sha256,
    log,
  });
  log(`Unpacking ${archive} into ${target} ...`);
  const tmp = `${target}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  try {
    for await (const entry of readArchiveEntries(archive, { wantData: () => true })) {
      const name = entry.name.replace(/^\.\//, "");
      if (!/^(include|lib)\//.test(name) || name.split("/").includes("..")) continue;
      const path = join(tmp, name);
      if (entry.type === "file" && entry.data !== undefined) {
        await writeFileAtomic(path, entry.data, name.startsWith("lib/") ? 0o755 : 0o644);
      } else if (entry.type === "symlink" && entry.linkName && !/[\\/]/.test(entry.linkName)) {
        // The tarball links libtensorflow.so.2 -> libtensorflow.so.2.9.1 in the same folder.
        await Deno.mkdir(join(path, ".."), { recursive: true });
        await Deno.symlink(entry.linkName, path);
      }
    }
  } catch (error) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw new NativeSetupError(
      `Cannot unpack ${archive}: ${error instanceof Error ? error.message : error}`,
      `Delete ${archive} and run deno task setup-native again.`,
    );
  }
  await Deno.writeTextFile(join(tmp, ".complete"), `${source.url}\n`);
  await Deno.remove(target, { recursive: true }).catch(() => {});
  await Deno.rename(tmp, target);
  return await findLibtensorflow(target, origin);
}

/** What a symbol check found. */
export interface SymbolCheck {
  /** TensorFlow's version (`TF_Version()`). */
  version: string;
  /** Needed functions the library does not export (empty when all are there). */
  missing: string[];
}

/**
 * Loads `tf.library` (and through it the framework library) and checks that it exports every
 * function in `symbols`; returns TensorFlow's version and the missing names. Throws when the
 * library cannot be loaded at all (wrong architecture, a missing dependency, not a library).
 *
 * @example
 * ```ts
 * const { version, missing } = checkSymbols(tf);
 * if (missing.length > 0) throw new Error(`missing ${missing.join(", ")}`);
 * ```
 */
export function checkSymbols(
  tf: Libtensorflow,
  symbols: readonly string[] = ADDON_SYMBOLS,
): SymbolCheck {
  if (Deno.env.get("TF_CPP_MIN_LOG_LEVEL") === undefined) {
    Deno.env.set("TF_CPP_MIN_LOG_LEVEL", "2");
  }
  let version = "unknown";
  try {
    const lib = Deno.dlopen(tf.library, { TF_Version: { parameters: [], result: "pointer" } });
    const p = lib.symbols.TF_Version();
    if (p !== null) version = Deno.UnsafePointerView.getCString(p);
    // Closing would run TensorFlow's static destructors: keep it loaded (the process ends soon).
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (!/TF_Version/.test(message) || /cannot open|invalid ELF|wrong ELF/.test(message)) {
      throw new NativeSetupError(
        `Cannot load ${tf.library} (from ${tf.origin}): ${message}`,
        "Use a libtensorflow built for this machine (Linux x86-64 CPU), with " +
          "libtensorflow_framework.so.2 beside it.",
      );
    }
  }
  const missing: string[] = [];
  for (const name of symbols) {
    try {
      Deno.dlopen(tf.library, { [name]: { parameters: [], result: "void" } });
    } catch {
      missing.push(name);
    }
  }
  return { version, missing };
}
