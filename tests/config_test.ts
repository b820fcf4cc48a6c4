import assert from "node:assert/strict";
import {
  BASE_NAMES,
  ConfigError,
  experimentConfig,
  FINE_TUNE_EPOCHS,
  FINE_TUNE_LEARNING_RATE,
  parseExperimentConfig,
  parsePerClassList,
  parseSeedList,
  PREPROCESSINGS,
  projectPaths,
  SETTINGS,
  TRANSFER_MODES,
} from "../lib/config.ts";

const env = (vars: Record<string, string>) => (name: string) => vars[name];

Deno.test("the default experiment is the article's protocol: 30 epochs of 30 steps of 32 images at 64x64", () => {
  const c = experimentConfig({}, env({}));
  assert.deepEqual(
    [c.epochs, c.stepsPerEpoch, c.batchSize, c.targetSize, c.quick, c.seed, c.threads, c.strict],
    [30, 30, 32, [64, 64], false, 42, 2, false],
  );
  // no base: the default chain (VGG16 when its weights can be had, else the embedded MobileNet)
  assert.deepEqual(c.transfer, {
    base: undefined,
    weights: undefined,
    mode: "features",
    preprocessing: "rescale",
    headLearningRate: undefined,
  });
});

Deno.test("NOTEBOOK_QUICK=1 turns on quick mode with a few steps; explicit overrides win", () => {
  assert.equal(experimentConfig({}, env({ NOTEBOOK_QUICK: "1" })).quick, true);
  assert.equal(experimentConfig({}, env({ NOTEBOOK_QUICK: "0" })).quick, false);
  assert.equal(experimentConfig({}, env({ CARPLANE_QUICK: "true" })).quick, true);
  const c = experimentConfig({ epochs: 3 }, env({ NOTEBOOK_QUICK: "1" }));
  assert.equal(c.quick, true);
  assert.equal(c.epochs, 3);
  assert.ok(c.stepsPerEpoch < 30);
  const forced = experimentConfig({ quick: true }, env({}));
  assert.deepEqual([forced.quick, forced.epochs, forced.stepsPerEpoch], [true, 2, 2]);
});

Deno.test("flags and environment variables fill the same config; flags win", () => {
  const fromFlags = parseExperimentConfig({
    flags: {
      epochs: "5",
      steps: "7",
      batch: "8",
      seed: "0",
      base: "mobilenet",
      weights: "/m",
      mode: "augmented",
      "head-lr": "0.001",
      threads: "1",
      strict: true,
    },
  });
  const fromEnv = parseExperimentConfig({
    env: env({
      CARPLANE_EPOCHS: "5",
      CARPLANE_STEPS: "7",
      CARPLANE_BATCH: "8",
      CARPLANE_SEED: "0",
      CARPLANE_BASE: "mobilenet",
      CARPLANE_WEIGHTS: "/m",
      CARPLANE_MODE: "augmented",
      CARPLANE_HEAD_LR: "0.001",
      CARPLANE_THREADS: "1",
      CARPLANE_STRICT: "1",
    }),
  });
  assert.deepEqual(fromFlags, fromEnv);
  assert.deepEqual(
    [fromFlags.epochs, fromFlags.stepsPerEpoch, fromFlags.batchSize, fromFlags.seed],
    [5, 7, 8, 0],
  );
  assert.deepEqual(fromFlags.transfer, {
    base: "mobilenet",
    weights: "/m",
    mode: "augmented",
    preprocessing: "rescale",
    headLearningRate: 0.001,
  });
  assert.equal(fromFlags.threads, 1);
  const both = parseExperimentConfig({
    flags: { epochs: "3" },
    env: env({ CARPLANE_EPOCHS: "9", CARPLANE_SEED: "5" }),
  });
  assert.deepEqual([both.epochs, both.seed], [3, 5]);
  assert.equal(parseExperimentConfig({ flags: { seed: "9007199254740992" } }).seed, 2 ** 53);
});

Deno.test("--base none means no transfer step; no base means the default chain", () => {
  assert.equal(parseExperimentConfig({ flags: { base: "none" } }).transfer, null);
  assert.equal(parseExperimentConfig({ env: env({ CARPLANE_BASE: "none" }) }).transfer, null);
  assert.equal(parseExperimentConfig({ flags: {} }).transfer?.base, undefined);
  assert.equal(parseExperimentConfig({ flags: { base: "vgg16" } }).transfer?.base, "vgg16");
  assert.throws(
    () => parseExperimentConfig({ flags: { base: "none", weights: "w.h5" } }),
    /--weights w\.h5 is for a pretrained base, but --base none trains no transfer model/,
  );
});

Deno.test("bad values name the flag or variable, the value and what it takes", () => {
  const bad: [Record<string, string>, RegExp][] = [
    [{ epochs: "0" }, /--epochs takes a whole number from 1 to 10000, in plain digits, got 0\./],
    [{ epochs: "1e3" }, /--epochs takes a whole number .* got "1e3"/],
    [{ epochs: "-1" }, /--epochs takes a whole number .* got "-1"/],
    [{ steps: "99999999999" }, /--steps takes a whole number from 1 to 100000, .* got 99999999999/],
    [{ seed: "0x10" }, /--seed takes a whole number from 0 to 9007199254740992, .* got "0x10"/],
    [{ seed: "9007199254740993" }, /--seed takes a whole number .* got 9007199254740993/],
    [{ threads: "64" }, /--threads takes a whole number from 1 to 2, in plain digits, got 64/],
    [{ base: "resnet" }, /--base takes one of vgg16, mobilenet, none, got "resnet"/],
    [{ "head-lr": "-1" }, /--head-lr takes a number above 0 and at most 10, got "-1"/],
    [{ mode: "Features" }, /--mode takes one of features, augmented, got "Features"/],
  ];
  for (const [flags, message] of bad) {
    assert.throws(
      () => parseExperimentConfig({ flags }),
      (e: unknown) =>
        e instanceof ConfigError && message.test(e.message) && e.setting.startsWith("--"),
      JSON.stringify(flags),
    );
  }
  assert.throws(
    () => parseExperimentConfig({ env: env({ CARPLANE_BASE: "resnet" }) }),
    (e: unknown) =>
      e instanceof ConfigError && e.setting === "CARPLANE_BASE" &&
      /CARPLANE_BASE takes one of vgg16, mobilenet, none, got "resnet"/.test(
        e.message,
      ),
  );
});

Deno.test("the choice lists are the ones the settings take", () => {
  assert.deepEqual(SETTINGS.base.kind.choices, [...BASE_NAMES, "none"]);
  assert.deepEqual(SETTINGS.mode.kind.choices, TRANSFER_MODES);
  assert.deepEqual(SETTINGS.preprocessing.kind.choices, PREPROCESSINGS);
  const flags = Object.values(SETTINGS).map((s) => s.flag);
  assert.equal(new Set(flags).size, flags.length, "one flag per setting");
});

Deno.test("data and outputs default to the project's folders and follow the env overrides", () => {
  const p = projectPaths(env({}));
  assert.ok(p.data.endsWith("/data"));
  assert.ok(p.outputs.endsWith("/outputs"));
  assert.equal(p.data, `${p.root}/data`);
  const q = projectPaths(env({ CARPLANE_DATA_DIR: "/x/d", CARPLANE_OUTPUTS_DIR: "/x/o" }));
  assert.deepEqual([q.data, q.outputs], ["/x/d", "/x/o"]);
});

Deno.test("beyond the article: --seeds, --fine-tune (-lr, -epochs), --train-per-class", () => {
  const plain = parseExperimentConfig({ flags: {} });
  assert.equal(plain.seeds, undefined);
  assert.equal(plain.fineTune, null);
  assert.equal(plain.trainPerClass, undefined);
  const c = parseExperimentConfig({
    flags: { seeds: "3", seed: "7", "fine-tune": true, "train-per-class": "80,20,40,20" },
  });
  assert.deepEqual(c.seeds, [7, 8, 9]);
  assert.deepEqual(c.fineTune, { epochs: FINE_TUNE_EPOCHS, learningRate: FINE_TUNE_LEARNING_RATE });
  assert.deepEqual(c.trainPerClass, [20, 40, 80]);
  const e = parseExperimentConfig({
    env: env({
      CARPLANE_SEEDS: "1,2,7",
      CARPLANE_FINE_TUNE: "1",
      CARPLANE_FINE_TUNE_LR: "0.0001",
      CARPLANE_FINE_TUNE_EPOCHS: "4",
    }),
  });
  assert.deepEqual(e.seeds, [1, 2, 7]);
  assert.deepEqual(e.fineTune, { epochs: 4, learningRate: 1e-4 });
  const bad: [Record<string, string | boolean>, RegExp][] = [
    [{ seeds: "0" }, /--seeds takes a number of seeds from 1 to 100 .* got "0"/],
    [{ seeds: "101" }, /--seeds takes .* got "101"/],
    [{ seeds: "1,1" }, /got "1,1" \(a seed twice\)/],
    [{ seeds: "1,,2" }, /--seeds takes .* got "1,,2"/],
    [{ seeds: "1,-2" }, /--seeds takes .* got "1,-2"/],
    [{ seeds: "2", seed: "9007199254740992" }, /passes 2\^53/],
    [
      { "fine-tune-epochs": "3" },
      /--fine-tune-epochs sets how fine-tuning runs, .* add --fine-tune/,
    ],
    [{ "fine-tune": true, "fine-tune-lr": "0" }, /--fine-tune-lr takes a number above 0/],
    [{ "fine-tune": true, base: "none" }, /--fine-tune fine-tunes .* but --base is none/],
    [{ "train-per-class": "20,x" }, /--train-per-class takes .* got "20,x"; e\.g\. 20,40,80/],
    [{ "train-per-class": "0" }, /--train-per-class takes/],
    [{ "train-per-class": "2.5" }, /--train-per-class takes/],
  ];
  for (const [flags, message] of bad) {
    assert.throws(
      () => parseExperimentConfig({ flags }),
      (err: unknown) =>
        err instanceof ConfigError && message.test(err.message) && err.setting.startsWith("--"),
      JSON.stringify(flags),
    );
  }
  assert.throws(
    () => parseExperimentConfig({ env: env({ CARPLANE_FINE_TUNE_LR: "0.001" }) }),
    (err: unknown) =>
      err instanceof ConfigError && err.setting === "CARPLANE_FINE_TUNE_LR" &&
      /add CARPLANE_FINE_TUNE=1/.test(err.message),
  );
  assert.deepEqual(parseSeedList(" 7 , 1 ", 42), [7, 1]);
  assert.deepEqual(parseSeedList("1", 42), [42]);
  assert.deepEqual(parsePerClassList("5"), [5]);
});
