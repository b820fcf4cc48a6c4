import assert from "node:assert/strict";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import h5wasm from "h5wasm/node";
import { loadKerasH5IntoModel, readKerasH5Weights, WeightsError } from "../lib/models/keras_h5.ts";
import { convLayer, type LayerSpec, randomValues, writeKerasH5 } from "./keras_h5_fixtures.ts";

const quiet = () => {};

/** A small model of the same kind as VGG16: two 3x3 convolutions around a pooling layer. */
function smallModel(names: [string, string] = ["conv_a", "conv_b"], filters = 4): tf.LayersModel {
  const input = tf.input({ shape: [8, 8, 3], name: "input_1" });
  let x = tf.layers.conv2d({ name: names[0], filters, kernelSize: 3, padding: "same" })
    .apply(input) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ name: "pool", poolSize: 2 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ name: names[1], filters: 2, kernelSize: 3, padding: "same" })
    .apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: x, name: "small" });
}

function smallLayers(): LayerSpec[] {
  return [
    { name: "input_1", weights: [] },
    convLayer("conv_a", 3, 3, 4, 1),
    { name: "pool", weights: [] },
    convLayer("conv_b", 3, 4, 2, 7),
  ];
}

function assertModelHas(model: tf.LayersModel, layers: LayerSpec[]): void {
  for (const spec of layers) {
    if (spec.weights.length === 0) continue;
    const actual = model.getLayer(spec.name).getWeights();
    assert.equal(actual.length, spec.weights.length);
    spec.weights.forEach((w, i) => {
      assert.deepEqual(actual[i].shape, w.shape, `${w.name} shape`);
      assert.deepEqual(actual[i].dataSync(), w.values, `${w.name} values`);
    });
  }
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a Keras weights file is read in layer_names order, weights in weight_names order", async () => {
  await withTempDir(async (dir) => {
    const file = path.join(dir, "small.h5");
    await writeKerasH5(file, smallLayers(), { kerasVersion: "2.2.4" });
    const read = await readKerasH5Weights(file);
    assert.equal(read.kerasVersion, "2.2.4");
    assert.equal(read.backend, "tensorflow");
    assert.deepEqual(read.layerNames, ["input_1", "conv_a", "pool", "conv_b"]);
    assert.deepEqual(read.layers.map((l) => l.name), ["conv_a", "conv_b"]);
    assert.deepEqual(read.layers[0].weights.map((w) => [w.name, w.shape]), [
      ["conv_a/kernel:0", [3, 3, 3, 4]],
      ["conv_a/bias:0", [4]],
    ]);
    assert.deepEqual(read.layers[1].weights[0].values, smallLayers()[3].weights[0].values);
  });
});

Deno.test("the weight order comes from the weight_names attribute, not from the datasets' names", async () => {
  await withTempDir(async (dir) => {
    const file = path.join(dir, "order.h5");
    const layers: LayerSpec[] = [{
      name: "dense",
      weights: [
        { name: "dense/zeta:0", shape: [2], values: Float32Array.of(1, 2) },
        { name: "dense/alpha:0", shape: [3], values: Float32Array.of(3, 4, 5) },
        { name: "dense/mid:0", shape: [1], values: Float32Array.of(6) },
      ],
    }];
    await writeKerasH5(file, layers, { reverseDatasets: true });
    // The premise: HDF5 lists the datasets in another order than weight_names.
    const module = await h5wasm.ready;
    module.activate_throwing_error_handler();
    const f = new h5wasm.File(file, "r");
    const listed = (f.get("dense/dense") as InstanceType<typeof h5wasm.Group>).keys();
    f.close();
    assert.notDeepEqual(listed, ["zeta:0", "alpha:0", "mid:0"]);

    const read = await readKerasH5Weights(file);
    assert.deepEqual(read.layers[0].weights.map((w) => w.name), [
      "dense/zeta:0",
      "dense/alpha:0",
      "dense/mid:0",
    ]);
    assert.deepEqual([...read.layers[0].weights[1].values], [3, 4, 5]);
  });
});

Deno.test("weights load into a two-conv model exactly as written, even with datasets created in reverse", async () => {
  await withTempDir(async (dir) => {
    const file = path.join(dir, "small.h5");
    const layers = smallLayers();
    await writeKerasH5(file, layers, { reverseDatasets: true });
    const model = smallModel();
    const report = await loadKerasH5IntoModel(model, file);
    assert.deepEqual(report.loaded.map((l) => l.layer), ["conv_a", "conv_b"]);
    assertModelHas(model, layers);
    model.dispose();
  });
});

Deno.test("a Keras 1 file like the real VGG16 notop file (weights named conv_W_1:0 in the layer group) loads", async () => {
  await withTempDir(async (dir) => {
    const file = path.join(dir, "keras1.h5");
    const layers = smallLayers().map((l) => ({
      name: l.name,
      weights: l.weights.map((w, i) => ({ ...w, name: `${l.name}_${i === 0 ? "W" : "b"}_1:0` })),
    }));
    await writeKerasH5(file, layers, { noVersionAttrs: true });
    const read = await readKerasH5Weights(file);
    assert.equal(read.kerasVersion, undefined);
    assert.deepEqual(read.layers[0].weights.map((w) => w.name), ["conv_a_W_1:0", "conv_a_b_1:0"]);
    const model = smallModel();
    await loadKerasH5IntoModel(model, file);
    assertModelHas(model, layers);
    model.dispose();
  });
});

Deno.test("a file saved with the Theano backend is refused", async () => {
  await withTempDir(async (dir) => {
    const file = path.join(dir, "theano.h5");
    await writeKerasH5(file, smallLayers(), { backend: "theano" });
    const model = smallModel();
    await assert.rejects(loadKerasH5IntoModel(model, file), /"theano" Keras backend/);
    model.dispose();
  });
});

Deno.test("chunked layer_names and a whole-model file's model_weights group are understood", async () => {
  await withTempDir(async (dir) => {
    const layers = smallLayers();
    const chunked = path.join(dir, "chunked.h5");
    await writeKerasH5(chunked, layers, { chunkLayerNames: true });
    const whole = path.join(dir, "whole.h5");
    await writeKerasH5(whole, layers, { underModelWeights: true });
    for (const file of [chunked, whole]) {
      const model = smallModel();
      await loadKerasH5IntoModel(model, file);
      assertModelHas(model, layers);
      model.dispose();
    }
  });
});

Deno.test("a layer missing from the file is a WeightsError naming it, and the model is untouched", async () => {
  await withTempDir(async (dir) => {
    const file = path.join(dir, "missing.h5");
    await writeKerasH5(file, smallLayers().slice(0, 2));
    const model = smallModel();
    const before = model.getLayer("conv_a").getWeights()[0].dataSync().slice();
    await assert.rejects(loadKerasH5IntoModel(model, file), (e: unknown) => {
      assert.ok(e instanceof WeightsError);
      assert.match(e.message, /Layer count mismatch/);
      assert.match(e.message, /Missing from the file: conv_b/);
      assert.ok(e.message.includes(file));
      return true;
    });
    assert.deepEqual(model.getLayer("conv_a").getWeights()[0].dataSync(), before);
    await assert.rejects(
      loadKerasH5IntoModel(model, file, { byName: true }),
      (e: unknown) =>
        e instanceof WeightsError && /Layer conv_b of the model is not in/.test(e.message),
    );
    model.dispose();
  });
});

Deno.test("a wrong shape is a WeightsError naming the layer, the weight and both shapes", async () => {
  await withTempDir(async (dir) => {
    const file = path.join(dir, "shape.h5");
    await writeKerasH5(file, smallLayers());
    const model = smallModel(["conv_a", "conv_b"], 5);
    await assert.rejects(loadKerasH5IntoModel(model, file), (e: unknown) => {
      assert.ok(e instanceof WeightsError);
      assert.ok(e.message.includes(`weight "conv_a/kernel:0" of layer "conv_a"`), e.message);
      assert.ok(e.message.includes("[3, 3, 3, 4]"));
      assert.ok(e.message.includes("[3, 3, 3, 5]"));
      return true;
    });
    model.dispose();
  });
});

Deno.test("layers are matched by order and names checked, or matched by name on request", async () => {
  await withTempDir(async (dir) => {
    const renamed = path.join(dir, "renamed.h5");
    const layers = smallLayers();
    await writeKerasH5(renamed, layers);
    const model = smallModel(["first", "second"]);
    await assert.rejects(
      loadKerasH5IntoModel(model, renamed),
      /Layer #0 is "first" in the model but "conv_a" in/,
    );
    await loadKerasH5IntoModel(model, renamed, { checkNames: false }); // Keras' own behaviour
    assert.deepEqual(
      model.getLayer("second").getWeights()[0].dataSync(),
      layers[3].weights[0].values,
    );
    model.dispose();

    // By name: file order and extra layers do not matter.
    const shuffled = path.join(dir, "shuffled.h5");
    await writeKerasH5(shuffled, [layers[3], convLayer("unused", 1, 1, 1, 9), layers[1]]);
    const byName = smallModel();
    const report = await loadKerasH5IntoModel(byName, shuffled, { byName: true });
    assert.deepEqual(report.loaded.map((l) => l.layer).sort(), ["conv_a", "conv_b"]);
    assertModelHas(byName, layers);
    byName.dispose();
  });
});

Deno.test("skipMismatch skips the weights that do not fit and loads the rest", async () => {
  await withTempDir(async (dir) => {
    const file = path.join(dir, "partial.h5");
    const layers = smallLayers();
    layers[3] = convLayer("conv_b", 3, 4, 3, 7); // 3 filters where the model has 2
    await writeKerasH5(file, layers);
    const model = smallModel();
    const report = await loadKerasH5IntoModel(model, file, { skipMismatch: true, log: quiet });
    assert.equal(report.skipped.length, 2);
    assert.ok(report.skipped.every((s) => s.layer === "conv_b"));
    assert.deepEqual(
      model.getLayer("conv_a").getWeights()[0].dataSync(),
      layers[1].weights[0].values,
    );
    model.dispose();
  });
});

Deno.test("a truncated file, a text file and a non-Keras HDF5 file are WeightsErrors saying so", async () => {
  await withTempDir(async (dir) => {
    const good = path.join(dir, "good.h5");
    await writeKerasH5(good, [convLayer("conv_a", 3, 3, 64, 1), convLayer("conv_b", 3, 64, 64, 2)]);
    const bytes = await Deno.readFile(good);
    for (const keep of [Math.floor(bytes.length / 2), 4000, 100]) {
      const cut = path.join(dir, `cut-${keep}.h5`);
      await Deno.writeFile(cut, bytes.subarray(0, keep));
      await assert.rejects(
        readKerasH5Weights(cut, { hint: "Get it from example.org." }),
        (e: unknown) => {
          assert.ok(e instanceof WeightsError, String(e));
          assert.match(e.message, /not a valid HDF5 \/ Keras weights file|truncated or damaged/);
          assert.ok(e.message.includes(cut));
          assert.ok(e.message.includes("Get it from example.org."));
          return true;
        },
      );
    }

    const text = path.join(dir, "page.h5");
    await Deno.writeTextFile(text, "<html><body>Not Found</body></html>\n");
    await assert.rejects(
      readKerasH5Weights(text),
      (e: unknown) =>
        e instanceof WeightsError && /not a valid HDF5 \/ Keras weights file/.test(e.message),
    );

    const plain = path.join(dir, "plain.h5");
    const module = await h5wasm.ready;
    module.activate_throwing_error_handler();
    const f = new h5wasm.File(plain, "w");
    f.create_dataset({ name: "x", data: randomValues(4, 1), shape: [4], dtype: "<f" });
    f.close();
    await assert.rejects(
      readKerasH5Weights(plain),
      (e: unknown) => e instanceof WeightsError && /not a Keras weights file/.test(e.message),
    );

    await assert.rejects(readKerasH5Weights(path.join(dir, "none.h5")), /does not exist/);
  });
});
