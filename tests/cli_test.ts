/** The command-line entry points as a user runs them: exit codes and messages. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { makeArticleLayout, withTempDir } from "./fixtures.ts";

const ROOT = new URL("..", import.meta.url).pathname;

async function run(script: string, args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "cli", script), ...args],
    env: { ...env, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("a bad flag exits 2 with the usage; --help exits 0", async () => {
  const bad = await run("reproduce.ts", ["--epochs", "zero"]);
  assert.equal(bad.code, 2);
  assert.match(
    bad.stderr,
    /error: --epochs takes a whole number from 1 to 10000, in plain digits, got "zero"/,
  );
  const env = await run("reproduce.ts", ["--quick"], { CARPLANE_THREADS: "64" });
  assert.equal(env.code, 1, "a bad variable is not a bad command line");
  assert.match(
    env.stderr,
    /error: CARPLANE_THREADS takes a whole number from 1 to 2, in plain digits, got 64/,
  );
  assert.match(bad.stderr, /usage: deno task reproduce/);
  const help = await run("predict.ts", ["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /usage: deno task predict --model DIR/);
});

Deno.test("data, reproduce and predict work end to end on a fixture dataset", async () => {
  await withTempDir(async (dir) => {
    const source = await makeArticleLayout(join(dir, "src"), {
      train: { cars: 4, planes: 4 },
      val: { cars: 2, planes: 2 },
      test: { cars: 1, planes: 1 },
    });
    const data = join(dir, "data");
    const copied = await run("data.ts", ["--source", source, "--dest", data]);
    assert.equal(copied.code, 0, copied.stderr);
    assert.match(copied.stdout, /training_set: Found 8 images belonging to 2 classes\./);
    const again = await run("data.ts", ["--source", source, "--dest", data]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already holds training_set\/.*--force/);

    const out = join(dir, "out");
    const reproduced = await run("reproduce.ts", [
      "--quick",
      "--data",
      data,
      "--out",
      out,
      "--base",
      "none",
      "--threads",
      "1",
      "--batch",
      "4",
    ]);
    assert.equal(reproduced.code, 0, reproduced.stderr);
    assert.match(reproduced.stdout, /Epoch 2\/2/);
    assert.match(reproduced.stdout, /correctly predicted \d out of 2 images/);

    const predicted = await run("predict.ts", [
      "--model",
      join(out, "models", "baseline"),
      "--json",
      join(data, "test"),
    ]);
    assert.equal(predicted.code, 0, predicted.stderr);
    const rows = predicted.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(rows.length, 2);
    assert.deepEqual(Object.keys(rows[0]), [
      "file",
      "probability",
      "probabilities",
      "predicted_class",
      "predicted_label",
      "top_probability",
      "true_class",
      "true_label",
    ]);
    assert.deepEqual(Object.keys(rows[0].probabilities), ["cars", "planes"]);
    assert.equal(rows[0].probabilities.planes, rows[0].probability);
    assert.deepEqual(rows.map((r) => r.true_class).sort(), [0, 1]);

    const missing = await run("predict.ts", ["--model", join(dir, "nope"), join(data, "test")]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /error: No model at .*nope.*model\.json/);
  });
});
