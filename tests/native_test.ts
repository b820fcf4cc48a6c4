/**
 * tfjs-node under Deno (lib/training/native.ts): the util shim, TensorFlow's thread defaults,
 * the plain-words reasons, and, when `deno task setup-native` has installed the addon, that
 * `initBackend("node")` works and that `auto` says why it passed node over when it cannot use it.
 */
import assert from "node:assert/strict";
import util from "node:util";
import { join } from "node:path";
import {
  explainNativeLoadError,
  installNodeUtilShim,
  nativeAddonPlace,
  nativeAddonProblem,
  setNativeThreadDefaults,
} from "../lib/training/native.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const place = nativeAddonPlace();
const haveAddon = await Deno.stat(place.addonPath).then(() => true, () => false);
if (!haveAddon) {
  console.log(
    `native_test: two tests ignored, no tfjs-node addon at ${place.addonPath} ` +
      "(`deno task setup-native` builds it)",
  );
}

Deno.test("the shim defines util.isNullOrUndefined as Node <= 22 did, and keeps one already there", () => {
  installNodeUtilShim();
  const f = (util as unknown as { isNullOrUndefined: (v: unknown) => boolean }).isNullOrUndefined;
  assert.equal(typeof f, "function");
  assert.deepEqual([null, undefined, 0, "", false, NaN].map(f), [
    true,
    true,
    false,
    false,
    false,
    false,
  ]);
  installNodeUtilShim();
  assert.equal((util as unknown as { isNullOrUndefined: unknown }).isNullOrUndefined, f);
});

Deno.test("TensorFlow's thread defaults: one inter-op thread, every core intra-op, user values kept", () => {
  const names = ["TF_NUM_INTEROP_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_CPP_MIN_LOG_LEVEL"];
  const saved = names.map((n) => Deno.env.get(n));
  try {
    for (const n of names) Deno.env.delete(n);
    Deno.env.set("TF_NUM_INTRAOP_THREADS", "3");
    setNativeThreadDefaults(2);
    assert.equal(Deno.env.get("TF_NUM_INTEROP_THREADS"), "1");
    assert.equal(Deno.env.get("TF_NUM_INTRAOP_THREADS"), "3");
    assert.equal(Deno.env.get("TF_CPP_MIN_LOG_LEVEL"), "2");
  } finally {
    names.forEach((n, i) =>
      saved[i] === undefined ? Deno.env.delete(n) : Deno.env.set(n, saved[i]!)
    );
  }
});

Deno.test("the addon's place is where node-pre-gyp looks: lib/napi-v<highest supported>/", () => {
  assert.match(place.addonPath, /@tensorflow\/tfjs-node\/lib\/napi-v\d+\/tfjs_binding\.node$/);
  assert.ok(place.napiVersion >= 3 && place.napiVersion <= 8, String(place.napiVersion));
  const missing = { ...place, addonPath: join(ROOT, "no-such-dir", "tfjs_binding.node") };
  const problem = nativeAddonProblem(missing);
  assert.match(problem ?? "", /not set up in this checkout: run deno task setup-native/);
  assert.match(problem ?? "", /no-such-dir\/tfjs_binding\.node/);
});

Deno.test("load errors become one plain line with the fix", () => {
  assert.match(
    explainNativeLoadError(
      new Error("libtensorflow_cc.so.2: cannot open shared object file: No such file\n at x"),
    ),
    /cannot find its libtensorflow .*run deno task setup-native again$/,
  );
  assert.match(
    explainNativeLoadError(new Error("tfjs_binding.node: undefined symbol: TFE_Execute")),
    /does not match its libtensorflow .*setup-native --force$/,
  );
  assert.match(
    explainNativeLoadError(new TypeError("(0 , util_1.isNullOrUndefined) is not a function")),
    /Deno's node:util lacks/,
  );
  assert.equal(explainNativeLoadError(new Error("first\nsecond")), "first");
});

Deno.test({
  name: "initBackend('node') trains when the addon is set up",
  ignore: !haveAddon,
  fn: async () => {
    const { initBackend } = await import("../lib/training/runtime.ts");
    const choice = await initBackend("node", { log: null });
    assert.equal(choice.name, "node");
    assert.equal(choice.tfName, "tensorflow");
    assert.match(choice.reason, /native libtensorflow/);
  },
});

async function autoInFreshProcess(env: Record<string, string>): Promise<string> {
  const code = 'import { initBackend } from "./lib/training/runtime.ts";\n' +
    'const c = await initBackend("auto", { log: null }); console.log(JSON.stringify(c));';
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", code],
    cwd: ROOT,
    env: { ...env, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
}

Deno.test("auto says in plain words why it did not pick node, then trains on wasm", async () => {
  const choice = JSON.parse(await autoInFreshProcess({ CARPLANE_NATIVE: "off" }));
  assert.equal(choice.name, "wasm");
  assert.match(
    choice.reason,
    /tried first: node: tfjs-node is switched off here \(CARPLANE_NATIVE=off\)/,
  );
  assert.match(choice.reason, /passed a training probe/);
});

Deno.test({
  name: "auto picks node when the addon is set up",
  ignore: !haveAddon,
  fn: async () => {
    const choice = JSON.parse(await autoInFreshProcess({}));
    assert.equal(choice.name, "node");
    assert.match(choice.reason, /\(auto\)$/);
  },
});
