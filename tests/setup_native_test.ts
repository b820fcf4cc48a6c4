/**
 * `deno task setup-native` (tools/native/): the three libtensorflow sources (a folder, a wheel,
 * the online tarball from a local 127.0.0.1 server), the symbol check against stub libraries
 * compiled here, and the errors that name what is missing.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { gzip, makeTar, makeZip, startServer } from "./data_fixtures.ts";
import { withTempDir } from "./fixtures.ts";
import { NativeSetupError } from "../tools/native/errors.ts";
import {
  ADDON_SYMBOLS,
  checkSymbols,
  findLibtensorflow,
  libtensorflowFromTarball,
  libtensorflowFromWheel,
  wheelFromPip,
} from "../tools/native/libtensorflow.ts";
import { findCompiler, findNodeHeaders } from "../tools/native/addon.ts";
import { resolveLibtensorflow, setupNative } from "../tools/native/setup.ts";

const haveCc = await new Deno.Command("cc", { args: ["--version"], stdout: "null", stderr: "null" })
  .output().then((o) => o.success, () => false);
if (!haveCc) console.log("setup_native_test: two tests ignored, no C compiler (cc) to build stubs");

/** Compiles a shared library exporting `symbols` as empty functions (TF_Version returns a string). */
async function stubLibrary(path: string, symbols: readonly string[]): Promise<Uint8Array> {
  const source = symbols.map((s) =>
    s === "TF_Version"
      ? 'const char* TF_Version(void) { return "0.0-stub"; }'
      : `void ${s}(void) {}`
  ).join("\n");
  const c = `${path}.c`;
  await Deno.writeTextFile(c, source + "\n");
  const out = await new Deno.Command("cc", { args: ["-shared", "-fPIC", "-o", path, c] }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  await Deno.remove(c);
  return await Deno.readFile(path);
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes.slice());
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("a libtensorflow folder is recognised in the tarball's and in a Python package's layout", async () => {
  await withTempDir(async (dir) => {
    const tarLayout = join(dir, "c");
    await Deno.mkdir(join(tarLayout, "include", "tensorflow", "c"), { recursive: true });
    await Deno.mkdir(join(tarLayout, "lib"));
    await Deno.writeTextFile(join(tarLayout, "include", "tensorflow", "c", "c_api.h"), "");
    await Deno.writeTextFile(join(tarLayout, "lib", "libtensorflow.so.2"), "");
    await Deno.writeTextFile(join(tarLayout, "lib", "libtensorflow_framework.so.2"), "");
    const a = await findLibtensorflow(tarLayout);
    assert.equal(a.library, join(tarLayout, "lib", "libtensorflow.so.2"));
    assert.equal(a.includeDir, join(tarLayout, "include"));

    const pyLayout = join(dir, "site-packages", "tensorflow");
    await Deno.mkdir(join(pyLayout, "include", "tensorflow", "c"), { recursive: true });
    await Deno.writeTextFile(join(pyLayout, "include", "tensorflow", "c", "c_api.h"), "");
    await Deno.writeTextFile(join(pyLayout, "libtensorflow_cc.so.2"), "");
    await Deno.writeTextFile(join(pyLayout, "libtensorflow_framework.so.2"), "");
    const b = await findLibtensorflow(pyLayout);
    assert.equal(b.library, join(pyLayout, "libtensorflow_cc.so.2"));
    assert.equal(b.framework, join(pyLayout, "libtensorflow_framework.so.2"));

    await Deno.remove(join(pyLayout, "include"), { recursive: true });
    await assert.rejects(findLibtensorflow(pyLayout), /no C headers .*c_api\.h/);
    await assert.rejects(
      findLibtensorflow(join(dir, "nowhere")),
      (e: unknown) =>
        e instanceof NativeSetupError && /does not exist/.test(e.message) &&
        /--libtensorflow/.test(e.hint ?? ""),
    );
    await assert.rejects(findLibtensorflow(dir), /No libtensorflow in .*libtensorflow\.so\.2/);
  });
});

Deno.test("a wheel gives up only its two libraries and C headers, once", async () => {
  await withTempDir(async (dir) => {
    const wheel = join(dir, "tensorflow_cpu-2.99.0-cp311-cp311-linux_x86_64.whl");
    await Deno.writeFile(
      wheel,
      await makeZip([
        { name: "tensorflow/__init__.py", data: "# python" },
        { name: "tensorflow/libtensorflow_cc.so.2", data: "cc" },
        { name: "tensorflow/libtensorflow_framework.so.2", data: "fw" },
        { name: "tensorflow/include/tensorflow/c/c_api.h", data: "/* c api */" },
        { name: "tensorflow/include/tensorflow/core/framework/op.h", data: "/* C++ */" },
        { name: "tensorflow/include/tsl/platform/ctstring_internal.h", data: "/* tstring */" },
      ]),
    );
    const cache = join(dir, "cache");
    const tf = await libtensorflowFromWheel(wheel, cache);
    assert.match(
      tf.library,
      /native\/libtensorflow-tensorflow_cpu-2\.99\.0-.*\/lib\/libtensorflow_cc\.so\.2$/,
    );
    assert.equal(await Deno.readTextFile(tf.library), "cc");
    assert.equal(
      await Deno.readTextFile(join(tf.includeDir, "tsl/platform/ctstring_internal.h")),
      "/* tstring */",
    );
    const unpacked = join(tf.includeDir, "..");
    await assert.rejects(Deno.stat(join(tf.includeDir, "tensorflow/core/framework/op.h")));
    await assert.rejects(Deno.stat(join(unpacked, "__init__.py")));
    const before = (await Deno.stat(tf.library)).mtime?.getTime();
    const again = await libtensorflowFromWheel(wheel, cache);
    assert.equal(again.library, tf.library);
    assert.equal((await Deno.stat(again.library)).mtime?.getTime(), before, "not unpacked again");

    const empty = join(dir, "not_tensorflow-1.0-py3-none-any.whl");
    await Deno.writeFile(empty, await makeZip([{ name: "pkg/__init__.py", data: "" }]));
    await assert.rejects(
      libtensorflowFromWheel(empty, cache),
      /has no tensorflow\/libtensorflow_cc\.so\.2/,
    );
    await assert.rejects(libtensorflowFromWheel(join(dir, "missing.whl"), cache), /does not exist/);
  });
});

Deno.test({
  name: "the symbol check names every function the library lacks, and a non-library fails to load",
  ignore: !haveCc,
  fn: async () => {
    await withTempDir(async (dir) => {
      const lib = join(dir, "lib", "libtensorflow.so.2");
      await Deno.mkdir(join(dir, "lib"));
      await Deno.mkdir(join(dir, "include", "tensorflow", "c"), { recursive: true });
      await Deno.writeTextFile(join(dir, "include", "tensorflow", "c", "c_api.h"), "");
      await Deno.writeTextFile(join(dir, "lib", "libtensorflow_framework.so.2"), "");
      const lacking = ["TFE_Execute", "TF_SessionRun"];
      await stubLibrary(lib, ADDON_SYMBOLS.filter((s) => !lacking.includes(s)));
      const check = checkSymbols(await findLibtensorflow(dir));
      assert.equal(check.version, "0.0-stub");
      assert.deepEqual(check.missing, lacking);

      // Another file: overwriting a loaded library would pull it from under this process.
      const notLib = join(dir, "lib", "libtensorflow_cc.so.2");
      await Deno.writeTextFile(notLib, "not an ELF file");
      assert.throws(
        () => checkSymbols({ includeDir: "", library: notLib, framework: "", origin: "a test" }),
        (e: unknown) =>
          e instanceof NativeSetupError && /Cannot load .*libtensorflow_cc\.so\.2/.test(e.message),
      );
    });
  },
});

Deno.test({
  name: "online: the tarball comes from the server once, hash-checked, with its library links",
  ignore: !haveCc,
  fn: async () => {
    await withTempDir(async (dir) => {
      const full = await stubLibrary(join(dir, "full.so"), ADDON_SYMBOLS);
      const partial = await stubLibrary(
        join(dir, "partial.so"),
        ADDON_SYMBOLS.filter((s) => s !== "TFE_NewOp"),
      );
      const tarball = async (lib: Uint8Array) =>
        await gzip(makeTar([
          { name: "./include/tensorflow/c/c_api.h", data: "/* c api */" },
          { name: "./lib/libtensorflow.so.2.9.1", data: lib, mode: 0o755 },
          { name: "./lib/libtensorflow.so.2", type: "2", linkName: "libtensorflow.so.2.9.1" },
          { name: "./lib/libtensorflow_framework.so.2", data: full, mode: 0o755 },
          { name: "./LICENSE", data: "license" },
        ]));
      const good = await tarball(full);
      const bad = await tarball(partial);
      const server = startServer({ "/good.tar.gz": good, "/bad.tar.gz": bad });
      try {
        const cache = join(dir, "cache");
        const source = { url: server.url("/good.tar.gz"), sha256: await sha256(good) };
        const tf = await libtensorflowFromTarball(source, cache);
        assert.equal((await Deno.lstat(tf.library)).isSymlink, true);
        assert.equal(await Deno.readLink(tf.library), "libtensorflow.so.2.9.1");
        assert.deepEqual(checkSymbols(tf), { version: "0.0-stub", missing: [] });
        await libtensorflowFromTarball(source, cache);
        assert.equal(server.hits("/good.tar.gz"), 1, "the second setup uses the cache");

        await assert.rejects(
          libtensorflowFromTarball(
            { url: server.url("/bad.tar.gz"), sha256: source.sha256 },
            join(dir, "another-cache"),
          ),
          /SHA-256 is [0-9a-f]+, expected/,
        );
        // Through the whole setup: no local source, online, a library lacking one function.
        await assert.rejects(
          setupNative({
            noPython: true,
            onlineSource: { url: server.url("/bad.tar.gz"), sha256: await sha256(bad) },
            cacheDir: cache,
            skipProof: true,
            log: () => {},
          }),
          (e: unknown) =>
            e instanceof NativeSetupError &&
            /lacks 1 function\(s\) tfjs-node's addon calls: TFE_NewOp\./.test(e.message),
        );
      } finally {
        await server.close();
      }
    });
  },
});

Deno.test("without a local source and with --offline, the error says which flags to pass", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(
      resolveLibtensorflow({ noPython: true, online: false }, dir, () => {}),
      (e: unknown) =>
        e instanceof NativeSetupError && /--offline/.test(e.message) &&
        /--libtensorflow DIR .*--wheel FILE/.test(e.hint ?? ""),
    );
    await assert.rejects(
      resolveLibtensorflow({ python: "/bin/false" }, dir, () => {}),
      /\/bin\/false has no TensorFlow/,
    );
  });
});

Deno.test("a missing compiler or missing Node headers is named, with what to install", async () => {
  await assert.rejects(
    findCompiler(["no-such-c++", "no-such-g++"]),
    (e: unknown) =>
      e instanceof NativeSetupError &&
      /No C\+\+ compiler found \(tried no-such-c\+\+, no-such-g\+\+\)/
        .test(e.message) &&
      /apt-get install g\+\+/.test(e.hint ?? ""),
  );
  await assert.rejects(
    findNodeHeaders("/no/such/headers"),
    (e: unknown) =>
      e instanceof NativeSetupError && /No Node-API headers \(node_api\.h\) in \/no\/such\/headers/
        .test(e.message) &&
      /--node-headers/.test(e.hint ?? ""),
  );
});

Deno.test("pip's configured index gives the TensorFlow wheel; pip's failure is reported", async () => {
  await withTempDir(async (dir) => {
    // A stand-in python whose pip answers like pip (config get, download -d DIR ...).
    const fake = join(dir, "python");
    await Deno.writeTextFile(
      fake,
      `#!/bin/sh
if [ "$3" = config ]; then echo "file:///mirror/simple file:///more/simple"; exit 0; fi
echo "$@" > "${dir}/args"
[ -n "$FAIL" ] && { echo "ERROR: No matching distribution found" >&2; exit 1; }
while [ "$1" != -d ]; do shift; done
mkdir -p "$2" && touch "$2/tensorflow_cpu-2.21.0-cp311-cp311-manylinux_2_27_x86_64.whl"
`,
      { mode: 0o755 },
    );
    const got = await wheelFromPip(fake, join(dir, "cache"));
    assert.deepEqual(got, {
      wheel: join(
        dir,
        "cache",
        "wheels",
        "tensorflow_cpu-2.21.0-cp311-cp311-manylinux_2_27_x86_64.whl",
      ),
    });
    const args = await Deno.readTextFile(join(dir, "args"));
    assert.match(
      args,
      /download -q --no-deps --only-binary=:all: -d .* --index-url file:\/\/\/mirror\/simple tensorflow_cpu==2\.21\.0/,
    );

    Deno.env.set("FAIL", "1");
    try {
      const failed = await wheelFromPip(fake, join(dir, "other"));
      assert.deepEqual(failed, {
        problem: "pip could not get tensorflow_cpu==2.21.0 (ERROR: No matching distribution found)",
      });
    } finally {
      Deno.env.delete("FAIL");
    }
  });
});
