/**
 * Building tfjs-node's native addon (`tfjs_binding.node`) against a {@linkcode Libtensorflow}
 * and putting it where tfjs-node looks for it, without touching any file the package shipped.
 *
 * tfjs-node loads `lib/napi-v{N}/tfjs_binding.node` inside its package folder (node-pre-gyp's
 * `binary.module_path`, N the highest of `binary.napi_versions` the runtime supports: 8 under
 * Deno, whose Node-API is 10). Its own installer (`scripts/install.js`) would download a
 * prebuilt addon there, but it also rewrites `package.json` and deletes `deps/`, and in Deno's
 * `node_modules` the package's files are hard links into Deno's global cache, shared by every
 * project: so it is never run. This module compiles the package's own `binding/*.cc` with the
 * system C++ compiler and Node's C headers (`node_api.h`), the same flags node-gyp would use,
 * linking the libraries by absolute path with an rpath to their folder, and only ADDS files to
 * the package folder: `lib/napi-v{N}/tfjs_binding.node` and a note beside it saying where it came
 * from. The build itself is cached in `~/.cache/carplane/native/`, keyed by everything that goes
 * into it, so a second setup (or a fresh clone on the same machine) only copies it.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import type { NativeAddonPlace } from "../../lib/training/native.ts";
import type { Libtensorflow } from "./libtensorflow.ts";
import { NativeSetupError } from "./errors.ts";
import { exists } from "./_files.ts";

/** A C++ compiler and the version line it printed. */
export interface Compiler {
  command: string;
  version: string;
}

/**
 * The first C++ compiler that runs: `$CXX`, then `c++`, `g++`, `clang++`.
 *
 * @example
 * ```ts
 * const cxx = await findCompiler(); // { command: "c++", version: "c++ (Debian 12.2.0-14) 12.2.0" }
 * ```
 */
export async function findCompiler(
  candidates: string[] = [Deno.env.get("CXX") ?? "", "c++", "g++", "clang++"],
): Promise<Compiler> {
  const tried = candidates.filter((c) => c !== "");
  for (const command of tried) {
    try {
      const out = await new Deno.Command(command, {
        args: ["--version"],
        stdout: "piped",
        stderr: "null",
      }).output();
      if (out.success) {
        return { command, version: new TextDecoder().decode(out.stdout).split("\n")[0].trim() };
      }
    } catch {
      // not installed
    }
  }
  throw new NativeSetupError(
    `No C++ compiler found (tried ${tried.join(", ")}): tfjs-node's addon is compiled here.`,
    "Install one (Debian: apt-get install g++) or set CXX.",
  );
}

/**
 * The first folder holding Node's C headers (`node_api.h`): `explicit`, then Debian's
 * `/usr/include/node`, `/usr/local/include/node`, node-gyp's caches.
 *
 * @example
 * ```ts
 * await findNodeHeaders(); // "/usr/include/node"
 * ```
 */
export async function findNodeHeaders(explicit?: string): Promise<string> {
  const home = Deno.env.get("HOME") ?? "";
  const candidates = explicit !== undefined ? [explicit] : [
    "/usr/include/node",
    "/usr/local/include/node",
    ...await nodeGypCaches([join(home, ".cache", "node-gyp"), join(home, ".node-gyp")]),
  ];
  for (const dir of candidates) {
    if (await exists(join(dir, "node_api.h"))) return dir;
  }
  throw new NativeSetupError(
    `No Node-API headers (node_api.h) in ${candidates.join(", ")}.`,
    explicit !== undefined
      ? "Pass --node-headers with a folder holding node_api.h and js_native_api.h."
      : "Install Node's headers (Debian: apt-get install nodejs, which ships /usr/include/node) " +
        "or pass --node-headers DIR.",
  );
}

async function nodeGypCaches(roots: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const root of roots) {
    try {
      for await (const e of Deno.readDir(root)) {
        if (e.isDirectory) found.push(join(root, e.name, "include", "node"));
      }
    } catch {
      // no cache there
    }
  }
  return found.sort().reverse();
}

/** What goes into a build; its hash names the cached addon. */
export interface BuildInputs {
  pkg: NativeAddonPlace;
  tf: Libtensorflow;
  compiler: Compiler;
  nodeHeaders: string;
}

async function fileFacts(path: string): Promise<string> {
  const real = await Deno.realPath(path);
  const { size, mtime } = await Deno.stat(real);
  return `${real}:${size}:${mtime?.getTime() ?? 0}`;
}

/**
 * A hash of everything the addon depends on: the binding's sources, the libraries (real path,
 * size, time), the headers' folder, the compiler, the Node-API version.
 *
 * @example
 * ```ts
 * const key = await buildKey(inputs); // "3f2a9c..."
 * ```
 */
export async function buildKey(inputs: BuildInputs): Promise<string> {
  const hash = createHash("sha256");
  const bindingDir = join(inputs.pkg.packageDir, "binding");
  const names: string[] = [];
  for await (const e of Deno.readDir(bindingDir)) names.push(e.name);
  for (const name of names.sort()) {
    hash.update(name).update(await Deno.readFile(join(bindingDir, name)));
  }
  hash.update(await fileFacts(inputs.tf.library));
  hash.update(await fileFacts(inputs.tf.framework));
  hash.update(await Deno.realPath(inputs.tf.includeDir));
  hash.update(inputs.nodeHeaders).update(inputs.compiler.version);
  hash.update(`napi ${inputs.pkg.napiVersion} tfjs-node ${inputs.pkg.version}`);
  return hash.digest("hex").slice(0, 20);
}

async function run(command: string, args: string[], what: string): Promise<void> {
  const out = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    const stderr = new TextDecoder().decode(out.stderr).trim().split("\n");
    throw new NativeSetupError(
      `${what} failed (${command} exited with ${out.code}):\n${stderr.slice(-12).join("\n")}`,
      "Check that the libtensorflow's C headers match its libraries.",
    );
  }
}

/**
 * Compiles the addon into `cacheDir/native/addon-<key>/tfjs_binding.node` unless it is there
 * already; returns its path and whether it was built now. The two sources compile in parallel
 * (about 25 s on 2 cores), with node-gyp's release flags.
 *
 * @example
 * ```ts
 * const { path, built } = await buildAddon(inputs, "/root/.cache/carplane");
 * ```
 */
export async function buildAddon(
  inputs: BuildInputs,
  cacheDir: string,
  log: (line: string) => void = () => {},
): Promise<{ path: string; built: boolean; key: string }> {
  const key = await buildKey(inputs);
  const outDir = join(cacheDir, "native", `addon-${key}`);
  const path = join(outDir, "tfjs_binding.node");
  if (await exists(path)) return { path, built: false, key };
  const tmp = `${outDir}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.mkdir(tmp, { recursive: true });
  const bindingDir = join(inputs.pkg.packageDir, "binding");
  const flags = [
    "-fPIC",
    "-pthread",
    "-O3",
    "-std=gnu++17",
    "-fno-rtti",
    "-fno-exceptions",
    `-DNAPI_VERSION=${inputs.pkg.napiVersion}`,
    "-DBUILDING_NODE_EXTENSION",
    `-I${bindingDir}`,
    `-I${inputs.nodeHeaders}`,
    `-I${inputs.tf.includeDir}`,
  ];
  const sources = ["tfjs_backend.cc", "tfjs_binding.cc"];
  try {
    log(
      `Compiling tfjs-node ${inputs.pkg.version}'s addon (${sources.join(", ")}) with ` +
        `${inputs.compiler.command} against ${inputs.tf.library} ...`,
    );
    await Promise.all(sources.map((source) =>
      run(
        inputs.compiler.command,
        [...flags, "-c", join(bindingDir, source), "-o", join(tmp, `${source}.o`)],
        `Compiling ${source}`,
      )
    ));
    const libDir = dirname(await Deno.realPath(inputs.tf.library));
    const frameworkDir = dirname(await Deno.realPath(inputs.tf.framework));
    await run(inputs.compiler.command, [
      "-shared",
      "-pthread",
      "-o",
      join(tmp, "tfjs_binding.node"),
      ...sources.map((s) => join(tmp, `${s}.o`)),
      // Absolute rpaths: the libraries stay where the source put them (the wheel's unpacked
      // copy in the cache, a Python's site-packages, the tarball's lib/).
      `-Wl,-rpath,${libDir}`,
      ...(frameworkDir === libDir ? [] : [`-Wl,-rpath,${frameworkDir}`]),
      await Deno.realPath(inputs.tf.library),
      await Deno.realPath(inputs.tf.framework),
    ], "Linking tfjs_binding.node");
    for (const s of sources) await Deno.remove(join(tmp, `${s}.o`));
    await Deno.remove(outDir, { recursive: true }).catch(() => {});
    await Deno.rename(tmp, outDir);
  } catch (error) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw error;
  }
  return { path, built: true, key };
}

/** The note written beside an addon this setup installed. */
export interface AddonNote {
  /** The build key ({@linkcode buildKey}). */
  key: string;
  /** Where the libtensorflow came from, in words. */
  origin: string;
  library: string;
  framework: string;
  /** TensorFlow's version (`TF_Version()`). */
  tensorflow: string;
  /** The cached build that was copied. */
  builtAddon: string;
}

/**
 * Reads the note beside an installed addon, or `null` (no addon from this setup).
 *
 * @example
 * ```ts
 * readAddonNote(nativeAddonPlace())?.tensorflow; // "2.21.0"
 * ```
 */
export function readAddonNote(pkg: NativeAddonPlace): AddonNote | null {
  try {
    return JSON.parse(Deno.readTextFileSync(pkg.notePath)) as AddonNote;
  } catch {
    return null;
  }
}

/**
 * Copies a built addon to where tfjs-node loads it (only adding files: the package ships no
 * `lib/` folder) and writes the note beside it. Returns false when the same file was there.
 *
 * @example
 * ```ts
 * await installAddon(pkg, built.path, note);
 * ```
 */
export async function installAddon(
  pkg: NativeAddonPlace,
  builtAddon: string,
  note: AddonNote,
): Promise<boolean> {
  const same = await sameBytes(builtAddon, pkg.addonPath);
  if (!same) {
    await Deno.mkdir(dirname(pkg.addonPath), { recursive: true });
    const tmp = `${pkg.addonPath}.tmp-${crypto.randomUUID().slice(0, 8)}`;
    await Deno.copyFile(builtAddon, tmp);
    // rename, never write in place: a hard-linked file would change in Deno's global cache too.
    await Deno.rename(tmp, pkg.addonPath);
  }
  await Deno.writeTextFile(pkg.notePath, JSON.stringify(note, null, 2) + "\n");
  return !same;
}

async function sameBytes(a: string, b: string): Promise<boolean> {
  try {
    const [x, y] = await Promise.all([Deno.readFile(a), Deno.readFile(b)]);
    return x.length === y.length && x.every((v, i) => v === y[i]);
  } catch {
    return false;
  }
}
