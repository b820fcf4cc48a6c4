/**
 * `deno task train` and `deno task predict` end to end on a 3-class dataset the project draws
 * (circles, squares, triangles), as a user runs them; and the layouts `train` reads.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import sharp from "sharp";
import { drawShapesDataset } from "../lib/data/shapes.ts";
import { resolveTrainLayout, TrainLayoutError } from "../lib/experiment/train.ts";
import { withTempDir } from "./fixtures.ts";

const ROOT = new URL("..", import.meta.url).pathname;

async function run(script: string, args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "cli", script), ...args],
    env: { NO_COLOR: "1", CARPLANE_BACKEND: "cpu" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("a 3-class dataset trains, reports and predicts through train and predict, with Grad-CAM sheets", async () => {
  await withTempDir(async (dir) => {
    const data = join(dir, "shapes");
    await drawShapesDataset(data, {
      counts: { training_set: 8, val_set: 3, test: 2 },
      size: 32,
      seed: 3,
    });
    const out = join(dir, "out");
    const t = await run("train.ts", [
      "--data",
      data,
      "--out",
      out,
      "--epochs",
      "2",
      "--steps",
      "2",
      "--batch",
      "8",
      "--size",
      "32",
      "--threads",
      "1",
      "--class-weight",
      "balanced",
    ]);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /Found 24 images belonging to 3 classes\./);
    assert.match(t.stdout, /Found 9 images belonging to 3 classes\./);
    assert.match(t.stdout, /class_mode "categorical", softmax over 3/);
    assert.match(
      t.stdout,
      /class_weight balanced: circles 1\.000, squares 1\.000, triangles 1\.000/,
    );
    assert.match(t.stdout, /dense_1 \(Dense\)\s+\(None, 3\)/);
    assert.match(t.stdout, /## Predictions on the 6 test images/);

    const metrics = JSON.parse(await Deno.readTextFile(join(out, "metrics.json")));
    assert.deepEqual(metrics.dataset.classNames, ["circles", "squares", "triangles"]);
    assert.equal(metrics.dataset.classMode, "categorical");
    assert.equal(metrics.model.history.history.val_accuracy.length, 2);
    assert.equal(metrics.model.confusionMatrix.length, 3);
    assert.equal(metrics.model.confusionMatrix.flat().reduce((a: number, b: number) => a + b), 6);
    assert.equal(metrics.classScores.length, 3);
    const report = await Deno.readTextFile(join(out, "report.md"));
    assert.match(report, /\| \| circles \| squares \| triangles \| precision \| recall \|/);
    assert.match(report, /!\[Grad-CAM\]\(gradcam\.png\)/);
    const predictions = JSON.parse(await Deno.readTextFile(join(out, "predictions.json")));
    assert.equal(predictions.rows.length, 6);
    assert.equal(predictions.rows[0].probabilities.length, 3);
    for (const png of ["gradcam.png", "predictions.png", "loss.png", "accuracy.png"]) {
      assert.equal((await sharp(join(out, png)).metadata()).format, "png", png);
    }
    const saved = JSON.parse(await Deno.readTextFile(join(out, "model", "model.json")));
    assert.deepEqual(saved.userDefinedMetadata.classNames, ["circles", "squares", "triangles"]);
    assert.equal(saved.userDefinedMetadata.classMode, "categorical");

    const p = await run("predict.ts", ["--model", join(out, "model"), join(data, "test")]);
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stdout, /P\(circles\)\s+P\(squares\)\s+P\(triangles\)/);
    assert.match(p.stdout, /true \\ predicted\s+circles\s+squares\s+triangles/);
    assert.match(p.stdout, /class\s+precision\s+recall\s+images/);
    assert.match(p.stdout, /correctly predicted \d out of 6 images/);

    const sheet = join(dir, "cam.png");
    const j = await run("predict.ts", [
      "--model",
      join(out, "model"),
      "--json",
      "--explain",
      "--explain-out",
      sheet,
      join(data, "test", "circles"),
    ]);
    assert.equal(j.code, 0, j.stderr);
    const lines = j.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(lines.length, 2);
    assert.deepEqual(Object.keys(lines[0].probabilities), ["circles", "squares", "triangles"]);
    const sum = Object.values(lines[0].probabilities as Record<string, number>)
      .reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 1) < 1e-5);
    assert.match(j.stderr, /Grad-CAM sheet of 2 images/);
    assert.equal((await sharp(sheet).metadata()).format, "png");
  });
});

Deno.test("train: one folder of class folders with --validation-split; bad layouts and flags are refused", async () => {
  await withTempDir(async (dir) => {
    const flat = join(dir, "flat");
    await drawShapesDataset(flat, {
      counts: { all: 5 },
      size: 16,
      classes: ["circles", "crosses"],
    });
    const layout = await resolveTrainLayout(flat, 0.2);
    assert.equal(layout.validationSplit, 0.2);
    assert.equal(layout.testDir, null);
    await assert.rejects(
      resolveTrainLayout(flat),
      (e) => e instanceof TrainLayoutError && /pass --validation-split 0\.2/.test(e.message),
    );
    const noFlag = await run("train.ts", ["--data", flat, "--out", join(dir, "o1")]);
    assert.equal(noFlag.code, 1);
    assert.match(noFlag.stderr, /--validation-split 0\.2/);
    const split = await run("train.ts", ["--data", flat, "--validation-split", "1.5"]);
    assert.equal(split.code, 2);
    assert.match(split.stderr, /--validation-split takes a number above 0 and at most 0\.99/);
    const missing = await run("train.ts", ["--epochs", "1"]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--data DIR is required/);
    const weights = await run("train.ts", ["--data", flat, "--weights", "x"]);
    assert.equal(weights.code, 2);
    assert.match(weights.stderr, /--base none trains the baseline CNN/);

    const article = join(dir, "article");
    await drawShapesDataset(article, { counts: { training_set: 3, val_set: 1 }, size: 16 });
    await assert.rejects(
      resolveTrainLayout(article, 0.2),
      (e) => e instanceof TrainLayoutError && /use one/.test(e.message),
    );
    const ok = await resolveTrainLayout(article);
    assert.equal(ok.testDir, null);
    assert.equal(ok.validationSplit, undefined);
  });
});
