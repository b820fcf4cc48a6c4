import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { loadModel, ModelLoadError, ModelSaveError, saveModel } from "../lib/models/model_io.ts";
import { EMBEDDED_MOBILENET_DIR } from "../lib/models/bases.ts";

await tf.setBackend("cpu");

function smallConvModel(): tf.LayersModel {
  const model = tf.sequential();
  model.add(tf.layers.conv2d({
    inputShape: [8, 8, 3],
    filters: 4,
    kernelSize: 3,
    activation: "relu",
  }));
  model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tf.layers.batchNormalization());
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({ units: 1, activation: "sigmoid" }));
  return model;
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "model_io_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

function predict(model: tf.LayersModel, x: tf.Tensor): Float32Array {
  return tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync() as Float32Array);
}

Deno.test("a saved conv model reloads with identical predictions and its metadata", async () => {
  await withTempDir(async (dir) => {
    const model = smallConvModel();
    const x = tf.randomUniform([3, 8, 8, 3], 0, 1, "float32", 7);
    const metadata = { classNames: ["cars", "planes"], inputShape: [8, 8, 3], note: "test" };
    const info = await saveModel(model, join(dir, "model"), { metadata });
    assert.equal(info.modelJsonPath, join(dir, "model", "model.json"));
    assert.equal(info.weightBytes, model.countParams() * 4);
    assert.deepEqual(await listDir(dir), ["model"]); // no temp dir left beside it
    assert.deepEqual(await listDir(join(dir, "model")), ["model.json", "weights.bin"]);

    const json = JSON.parse(await Deno.readTextFile(info.modelJsonPath));
    assert.equal(json.format, "layers-model");
    assert.equal(json.convertedBy, null);
    assert.match(json.generatedBy, /^TensorFlow\.js tfjs-layers v4\.22\.0$/);
    assert.deepEqual(json.weightsManifest[0].paths, ["weights.bin"]);
    assert.deepEqual(json.userDefinedMetadata, metadata);

    const loaded = await loadModel(join(dir, "model"));
    assert.deepEqual(loaded.metadata, metadata);
    assert.deepEqual(predict(loaded.model, x), predict(model, x));
    const viaJson = await loadModel(info.modelJsonPath);
    assert.deepEqual(predict(viaJson.model, x), predict(model, x));
    x.dispose();
  });
});

Deno.test("saving over an existing model replaces it whole and leaves no temp or old dirs", async () => {
  await withTempDir(async (dir) => {
    const target = join(dir, "model");
    await saveModel(smallConvModel(), target, { metadata: { version: 1 } });
    await Deno.writeTextFile(join(target, "stale.txt"), "from an older save");
    await saveModel(smallConvModel(), target, { metadata: { version: 2 } });
    assert.deepEqual(await listDir(dir), ["model"]);
    assert.deepEqual(await listDir(target), ["model.json", "weights.bin"]);
    assert.deepEqual((await loadModel(target)).metadata, { version: 2 });
  });
});

Deno.test("saving where a directory cannot exist gives ModelSaveError naming the path", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "file");
    await Deno.writeTextFile(file, "");
    const target = join(file, "sub", "model");
    await assert.rejects(
      () => saveModel(smallConvModel(), target),
      (err: unknown) => err instanceof ModelSaveError && err.message.includes(target),
    );
    assert.deepEqual(await listDir(dir), ["file"]);
  });
});

Deno.test("metadata that is not JSON fails the save and leaves nothing behind", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(
      () => saveModel(smallConvModel(), join(dir, "m"), { metadata: { n: 1n } }),
      /not JSON-serialisable/,
    );
    assert.deepEqual(await listDir(dir), []);
  });
});

Deno.test("a directory without model.json gives ModelLoadError naming it and what is expected", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(
      () => loadModel(dir),
      (err: unknown) =>
        err instanceof ModelLoadError && err.message.includes(dir) &&
        /model\.json plus the weight files/.test(err.message),
    );
    await assert.rejects(() => loadModel(join(dir, "nope")), /No model at .*nope/);
  });
});

Deno.test("a missing weight shard is named in the error", async () => {
  await withTempDir(async (dir) => {
    await saveModel(smallConvModel(), dir + "/m");
    await Deno.remove(join(dir, "m", "weights.bin"));
    await assert.rejects(
      () => loadModel(join(dir, "m")),
      (err: unknown) =>
        err instanceof ModelLoadError &&
        err.message.includes(`Weight shard ${join(dir, "m", "weights.bin")}`),
    );
  });
});

Deno.test("a truncated shard or a corrupt model.json gives ModelLoadError", async () => {
  await withTempDir(async (dir) => {
    const m = join(dir, "m");
    await saveModel(smallConvModel(), m);
    const bytes = await Deno.readFile(join(m, "weights.bin"));
    await Deno.writeFile(join(m, "weights.bin"), bytes.subarray(0, bytes.length - 8));
    await assert.rejects(() => loadModel(m), /hold \d+ bytes but its weightsManifest describes/);

    const text = await Deno.readTextFile(join(m, "model.json"));
    await Deno.writeTextFile(join(m, "model.json"), text.slice(0, text.length / 2));
    await assert.rejects(
      () => loadModel(m),
      (err: unknown) =>
        err instanceof ModelLoadError && /model\.json is not valid JSON/.test(err.message),
    );
    await Deno.writeTextFile(join(m, "model.json"), '{"weightsManifest": []}');
    await assert.rejects(() => loadModel(m), /has no modelTopology/);
  });
});

Deno.test("a model with many weight groups and shards loads in manifest order", async () => {
  await withTempDir(async (dir) => {
    const model = smallConvModel();
    const x = tf.randomUniform([2, 8, 8, 3], 0, 1, "float32", 3);
    const m = join(dir, "m");
    await saveModel(model, m);
    // Re-shard like the tensorflowjs converter: one group per weight, big ones split in two.
    const json = JSON.parse(await Deno.readTextFile(join(m, "model.json")));
    const data = await Deno.readFile(join(m, "weights.bin"));
    const groups = [];
    let offset = 0;
    for (const [g, spec] of json.weightsManifest[0].weights.entries()) {
      const n = spec.shape.reduce((a: number, b: number) => a * b, 1) * 4;
      const chunk = data.subarray(offset, offset + n);
      offset += n;
      const parts = n > 64 ? [chunk.subarray(0, 64), chunk.subarray(64)] : [chunk];
      const paths = parts.map((_, s) => `group${g + 1}-shard${s + 1}of${parts.length}`);
      for (const [s, part] of parts.entries()) await Deno.writeFile(join(m, paths[s]), part);
      groups.push({ paths, weights: [spec] });
    }
    json.weightsManifest = groups;
    await Deno.writeTextFile(join(m, "model.json"), JSON.stringify(json));
    await Deno.remove(join(m, "weights.bin"));
    const loaded = await loadModel(m);
    assert.deepEqual(predict(loaded.model, x), predict(model, x));
    x.dispose();
  });
});

Deno.test("a model loads over http from its folder URL or model.json URL", async () => {
  await withTempDir(async (dir) => {
    const model = smallConvModel();
    await saveModel(model, join(dir, "m"), { metadata: { served: true } });
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      const path = new URL(req.url).pathname;
      try {
        return new Response(await Deno.readFile(join(dir, path)));
      } catch {
        return new Response("not found", { status: 404 });
      }
    });
    try {
      const base = `http://127.0.0.1:${server.addr.port}`;
      const x = tf.randomUniform([1, 8, 8, 3]);
      const a = await loadModel(`${base}/m/`);
      assert.deepEqual(a.metadata, { served: true });
      assert.equal(a.modelJsonPath, `${base}/m/model.json`);
      assert.deepEqual(predict(a.model, x), predict(model, x));
      const b = await loadModel(`${base}/m/model.json`);
      assert.deepEqual(predict(b.model, x), predict(model, x));
      await assert.rejects(() => loadModel(`${base}/missing`), /HTTP 404/);
      x.dispose();
    } finally {
      await server.shutdown();
    }
  });
});

Deno.test({
  name: "the embedded MobileNet v1 0.25 loads from its 55 shards and classifies a batch",
  fn: async () => {
    const { model } = await loadModel(EMBEDDED_MOBILENET_DIR);
    assert.equal(model.layers.length, 88);
    assert.equal(model.countParams(), 475544);
    const probs = tf.tidy(() =>
      model.predict(tf.randomUniform([1, 224, 224, 3], -1, 1, "float32", 1)) as tf.Tensor
    );
    assert.deepEqual(probs.shape, [1, 1000]);
    const sum = probs.sum().dataSync()[0];
    assert.ok(Math.abs(sum - 1) < 1e-3, `softmax sums to ${sum}`);
    probs.dispose();
  },
});
