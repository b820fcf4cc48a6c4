import assert from "node:assert/strict";
import { experimentConfig, isQuickMode, projectPaths, transferConfig } from "../lib/config.ts";

const env = (vars: Record<string, string>) => (name: string) => vars[name];

Deno.test("the default experiment is the article's protocol: 30 epochs of 30 steps of 32 images at 64x64", () => {
  const c = experimentConfig({}, env({}));
  assert.deepEqual(
    [c.epochs, c.stepsPerEpoch, c.batchSize, c.targetSize, c.quick],
    [30, 30, 32, [64, 64], false],
  );
});

Deno.test("NOTEBOOK_QUICK=1 turns on quick mode with a few steps; explicit overrides win", () => {
  assert.equal(isQuickMode(env({ NOTEBOOK_QUICK: "1" })), true);
  assert.equal(isQuickMode(env({ NOTEBOOK_QUICK: "0" })), false);
  assert.equal(isQuickMode(env({ CARPLANE_QUICK: "true" })), true);
  const c = experimentConfig({ epochs: 3 }, env({ NOTEBOOK_QUICK: "1" }));
  assert.equal(c.quick, true);
  assert.equal(c.epochs, 3);
  assert.ok(c.stepsPerEpoch < 30);
});

Deno.test("data and outputs default to the project's folders and follow the env overrides", () => {
  const p = projectPaths(env({}));
  assert.ok(p.data.endsWith("/data"));
  assert.ok(p.outputs.endsWith("/outputs"));
  assert.equal(p.data, `${p.root}/data`);
  const q = projectPaths(env({ CARPLANE_DATA_DIR: "/x/d", CARPLANE_OUTPUTS_DIR: "/x/o" }));
  assert.deepEqual([q.data, q.outputs], ["/x/d", "/x/o"]);
});

Deno.test("transfer settings come from the CARPLANE_* variables, with the article's defaults", () => {
  // no base: the default chain (VGG16 when its weights can be had, else the embedded MobileNet)
  assert.deepEqual(transferConfig(env({})), {
    base: undefined,
    weights: undefined,
    mode: "features",
    preprocessing: "rescale",
    cacheDir: undefined,
  });
  const t = transferConfig(
    env({ CARPLANE_BASE: "mobilenet", CARPLANE_WEIGHTS: "/m", CARPLANE_MODE: "augmented" }),
  );
  assert.deepEqual([t.base, t.weights, t.mode], ["mobilenet", "/m", "augmented"]);
  assert.throws(
    () => transferConfig(env({ CARPLANE_BASE: "resnet" })),
    /CARPLANE_BASE="resnet" is not one of/,
  );
});
