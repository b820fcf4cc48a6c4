/**
 * The notebooks' one-line steps outside the kernel (the live kernel is tests/notebook_live_test.ts):
 * setup lines, training twice with the same figures and no leaked tensors, saving and loading
 * for the next notebook, predictions paired with their files, and the line after an interrupt.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { ConfigError } from "../lib/config.ts";
import { interruptedLine, openNotebook } from "../lib/notebook/session.ts";
import { makeArticleLayout } from "./fixtures.ts";

Deno.test("openNotebook's steps: train twice with the same figures and memory, save, load, predict", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "session-" });
  try {
    const data = await makeArticleLayout(join(tmp, "data"), {
      train: { cars: 12, planes: 12 },
      val: { cars: 4, planes: 4 },
      test: { cars: 2, planes: 3 },
    });
    const lines: string[] = [];
    const nb = await openNotebook({
      paths: { data, outputs: join(tmp, "outputs") },
      config: { quick: true, epochs: 2, stepsPerEpoch: 2, batchSize: 8 },
      log: (line) => lines.push(line),
    });
    assert.match(lines[0], /^protocol: 2 epochs x 2 steps x batch 8 at 64x64, seed 42 \(QUICK/);
    assert.ok(lines.some((l) => l.startsWith(`dataset: ${data}: `)), lines.join("\n"));
    assert.ok(
      lines.some((l) => /^Training (on the CPU|with the native TensorFlow engine)/.test(l)),
    );
    assert.deepEqual(lines.slice(-2), [
      "Found 24 images belonging to 2 classes.",
      "Found 8 images belonging to 2 classes.",
    ]);

    const first = await nb.trainBaseline();
    const tensors = tf.memory().numTensors;
    const second = await nb.trainBaseline();
    assert.equal(tf.memory().numTensors, tensors, "the re-run disposed the first model");
    assert.deepEqual(second.history, first.history, "same seed, same figures");
    assert.equal(second.interrupted, false);
    assert.equal(second.history.epoch.length, 2);
    assert.throws(() => first.model.predict(tf.zeros([1, 64, 64, 3])), /disposed/);

    await nb.save(second);
    const loaded = await nb.savedHistory("baseline");
    assert.deepEqual(loaded.history.loss, second.history.history.loss);
    assert.ok(lines.some((l) => l.startsWith("Loaded the baseline history (2 epochs)")));

    const resumed = await nb.resume("baseline");
    assert.equal(resumed, second, "a finished run has nothing to resume");
    assert.ok(lines.includes("The baseline trained all its 2 epochs: nothing to resume."));
    await assert.rejects(nb.resume("transfer"), /Nothing to resume: no transfer was trained/);

    const { rows, files } = await nb.predictTest(second.model, second.inputSpec);
    assert.equal(rows.length, 5);
    rows.forEach((row, i) => assert.ok(files[i].endsWith(row.file), `${files[i]} / ${row.file}`));
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a notebook opened without generators says how to train", async () => {
  const nb = await openNotebook({ flows: false, log: () => {} });
  assert.throws(
    () => nb.flows,
    (e) => e instanceof ConfigError && /openNotebook\(\)/.test(e.message),
  );
});

Deno.test("the line after an interrupt says where it stopped, what is kept and how to go on", () => {
  assert.equal(
    interruptedLine({ epochIndex: 4, epochs: 30, step: 12, steps: 30 }, 4, "baseline"),
    'Interrupted in epoch 5/30, batch 12: 4 epochs kept. Go on: await nb.resume("baseline")',
  );
  assert.equal(
    interruptedLine({ epochIndex: 0, epochs: 30, step: 3, steps: 30 }, 0),
    "Interrupted in epoch 1/30, batch 3: no epoch finished. Run the cell again to start over.",
  );
  assert.match(
    interruptedLine({ epochIndex: 1, epochs: 2, step: 0, steps: 2 }, 1, "transfer"),
    /epoch 2\/2: 1 epoch kept\. Go on: await nb\.resume\("transfer"\)$/,
  );
  const widest = interruptedLine(
    { epochIndex: 299, epochs: 300, step: 299, steps: 300 },
    299,
    "transfer",
  );
  assert.ok(widest.length <= 100, `${widest.length}: ${widest}`);
});
