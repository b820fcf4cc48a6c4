import assert from "node:assert/strict";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { cacheFileName, DownloadError } from "../lib/data/download.ts";
import {
  buildVgg16Architecture,
  createVgg16Base,
  IMAGENET_BGR_MEAN,
  VGG16_NOTOP_FILE,
  VGG16_PREPROCESS_LAYER,
  vgg16PreprocessLayer,
} from "../lib/models/vgg16.ts";
import { WeightsError } from "../lib/models/keras_h5.ts";
import { resolveBase } from "../lib/models/bases.ts";
import { type LayerSpec, vgg16NotopLayers, writeKerasH5 } from "./keras_h5_fixtures.ts";
import { startServer } from "./data_fixtures.ts";

const quiet = () => {};

/** `keras.applications.VGG16(include_top=False, input_shape=(64, 64, 3)).summary()`. */
const KERAS_SUMMARY: [string, string, number[], number][] = [
  ["input_1", "InputLayer", [64, 64, 3], 0],
  ["block1_conv1", "Conv2D", [64, 64, 64], 1792],
  ["block1_conv2", "Conv2D", [64, 64, 64], 36928],
  ["block1_pool", "MaxPooling2D", [32, 32, 64], 0],
  ["block2_conv1", "Conv2D", [32, 32, 128], 73856],
  ["block2_conv2", "Conv2D", [32, 32, 128], 147584],
  ["block2_pool", "MaxPooling2D", [16, 16, 128], 0],
  ["block3_conv1", "Conv2D", [16, 16, 256], 295168],
  ["block3_conv2", "Conv2D", [16, 16, 256], 590080],
  ["block3_conv3", "Conv2D", [16, 16, 256], 590080],
  ["block3_pool", "MaxPooling2D", [8, 8, 256], 0],
  ["block4_conv1", "Conv2D", [8, 8, 512], 1180160],
  ["block4_conv2", "Conv2D", [8, 8, 512], 2359808],
  ["block4_conv3", "Conv2D", [8, 8, 512], 2359808],
  ["block4_pool", "MaxPooling2D", [4, 4, 512], 0],
  ["block5_conv1", "Conv2D", [4, 4, 512], 2359808],
  ["block5_conv2", "Conv2D", [4, 4, 512], 2359808],
  ["block5_conv3", "Conv2D", [4, 4, 512], 2359808],
  ["block5_pool", "MaxPooling2D", [2, 2, 512], 0],
];

/** One VGG16-notop-shaped weights file with random values, shared by the tests (58 MB). */
const tmp = await Deno.makeTempDir();
const weightsFile = path.join(tmp, VGG16_NOTOP_FILE);
const vggLayers: LayerSpec[] = vgg16NotopLayers();
await writeKerasH5(weightsFile, vggLayers, { reverseDatasets: true });
addEventListener("unload", () => Deno.removeSync(tmp, { recursive: true }));

Deno.test("the VGG16 base has Keras' layers, output shapes and 14,714,688 frozen parameters", async () => {
  const base = await createVgg16Base({ weights: null, log: quiet });
  try {
    const { model } = base;
    assert.equal(base.name, "vgg16");
    assert.deepEqual(base.inputShape, [64, 64, 3]);
    assert.deepEqual(base.preprocessor, []);
    assert.equal(model.layers.length, KERAS_SUMMARY.length);
    model.layers.forEach((layer, i) => {
      const [name, className, shape, params] = KERAS_SUMMARY[i];
      assert.equal(layer.name, name);
      assert.equal(layer.getClassName(), className);
      assert.deepEqual(layer.outputShape, [null, ...shape]);
      assert.equal(layer.countParams(), params, `${name} parameters`);
      assert.equal(layer.trainable, false, `${name} is frozen`);
    });
    for (const layer of model.layers.filter((l) => l.getClassName() === "Conv2D")) {
      const config = layer.getConfig();
      assert.deepEqual(config.kernelSize, [3, 3]);
      assert.equal(config.padding, "same");
      assert.equal(config.activation, "relu");
    }
    for (const layer of model.layers.filter((l) => l.getClassName() === "MaxPooling2D")) {
      assert.deepEqual(layer.getConfig().poolSize, [2, 2]);
      assert.deepEqual(layer.getConfig().strides, [2, 2]);
    }
    assert.deepEqual(model.outputs[0].shape, [null, 2, 2, 512]);
    assert.equal(model.countParams(), 14_714_688);
    assert.equal(model.trainableWeights.length, 0);
    assert.equal(model.nonTrainableWeights.length, 26);
  } finally {
    base.model.dispose();
  }
});

Deno.test("VGG16 refuses inputs smaller than 32x32 or without 3 channels", () => {
  assert.throws(() => buildVgg16Architecture([16, 16, 3]), RangeError);
  assert.throws(() => buildVgg16Architecture([64, 64, 1]), RangeError);
});

Deno.test("a VGG16-notop file in Keras' layout loads every weight exactly as written", async () => {
  const base = await createVgg16Base({ weights: weightsFile, inputShape: [32, 32, 3], log: quiet });
  try {
    assert.equal(base.weightsSource, weightsFile);
    let checked = 0;
    for (const spec of vggLayers) {
      const actual = base.model.getLayer(spec.name).getWeights();
      assert.equal(actual.length, spec.weights.length, spec.name);
      spec.weights.forEach((w, i) => {
        assert.deepEqual(actual[i].shape, w.shape, w.name);
        const got = actual[i].dataSync();
        for (let j = 0; j < got.length; j++) {
          if (got[j] !== w.values[j]) assert.fail(`${w.name}[${j}]: ${got[j]} != ${w.values[j]}`);
        }
        checked += got.length;
      });
    }
    assert.equal(checked, 14_714_688);
    const out = tf.tidy(() => (base.model.predict(tf.zeros([1, 32, 32, 3])) as tf.Tensor).shape);
    assert.deepEqual(out, [1, 1, 1, 512]);
  } finally {
    base.model.dispose();
  }
});

Deno.test("a VGG16 file missing a layer or with a wrong shape is a WeightsError naming it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const missing = path.join(dir, "missing.h5");
    await writeKerasH5(missing, vggLayers.filter((l) => l.name !== "block5_conv3"));
    await assert.rejects(
      createVgg16Base({ weights: missing, log: quiet }),
      (e: unknown) => {
        assert.ok(e instanceof WeightsError);
        assert.match(e.message, /Missing from the file: block5_conv3/);
        assert.ok(e.message.includes(VGG16_NOTOP_FILE), "says which file to get");
        return true;
      },
    );
    const wrong = path.join(dir, "wrong.h5");
    const layers = vggLayers.map((l) =>
      l.name === "block2_conv1"
        ? { ...l, weights: [{ ...l.weights[0], shape: [3, 3, 128, 64] }, l.weights[1]] }
        : l
    );
    await writeKerasH5(wrong, layers);
    await assert.rejects(
      createVgg16Base({ weights: wrong, log: quiet }),
      (e: unknown) =>
        e instanceof WeightsError &&
        e.message.includes(`"block2_conv1/kernel:0" of layer "block2_conv1"`) &&
        e.message.includes("[3, 3, 128, 64]") && e.message.includes("[3, 3, 64, 128]"),
    );
    const text = path.join(dir, "text.h5");
    await Deno.writeTextFile(text, "404: Not Found");
    await assert.rejects(
      createVgg16Base({ weights: text, log: quiet }),
      (e: unknown) =>
        e instanceof WeightsError && /not a valid HDF5 \/ Keras weights file/.test(e.message) &&
        e.message.includes("storage.googleapis.com"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("VGG16 weights from a URL go through the cache with Keras' size and MD5 checks", async () => {
  const bytes = await Deno.readFile(weightsFile);
  const server = startServer({ [`/models/${VGG16_NOTOP_FILE}`]: bytes });
  const cacheDir = await Deno.makeTempDir();
  try {
    const url = server.url(`/models/${VGG16_NOTOP_FILE}`);
    // Our stand-in is not Keras' file: the size check refuses it, then the MD5 check.
    await assert.rejects(
      createVgg16Base({ weights: url, cacheDir, log: quiet }),
      (e: unknown) => e instanceof DownloadError && /expected 58889256/.test(e.message),
    );
    await assert.rejects(
      createVgg16Base({ weights: url, cacheDir, weightsSize: null, log: quiet }),
      (e: unknown) =>
        e instanceof DownloadError &&
        /MD5 is [0-9a-f]{32}, expected 6d6bbae143d832006294945121d1f1fc/.test(e.message),
    );
    assert.deepEqual([...Deno.readDirSync(cacheDir)], [], "nothing bad is kept");

    const opts = { weights: url, cacheDir, weightsSize: null, weightsMd5: null, log: quiet };
    const base = await createVgg16Base(opts);
    base.model.dispose();
    const hits = server.totalHits();
    const again = await createVgg16Base(opts);
    again.model.dispose();
    assert.equal(server.totalHits(), hits, "the cached file is used without a request");
    // Not Keras' MD5-checked file, so it is cached under a key of its URL.
    assert.ok(Deno.statSync(path.join(cacheDir, cacheFileName([url]))).isFile);
  } finally {
    await server.close();
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("the vgg16 preprocessor layer computes Keras' caffe preprocess_input on rescaled pixels", () => {
  const pixels = [[0, 0, 0], [1, 1, 1], [0.2, 0.5, 0.9], [1, 0, 0.25]];
  const layer = vgg16PreprocessLayer();
  assert.equal(layer.name, VGG16_PREPROCESS_LAYER);
  const input = tf.tensor4d(pixels.flat(), [1, 2, 2, 3]);
  const out = layer.apply(input) as tf.Tensor;
  const got = out.dataSync();
  pixels.forEach(([r, g, b], p) => {
    // caffe mode: x * 255, RGB -> BGR, minus the ImageNet mean (BGR order).
    const expected = [
      b * 255 - IMAGENET_BGR_MEAN[0],
      g * 255 - IMAGENET_BGR_MEAN[1],
      r * 255 - IMAGENET_BGR_MEAN[2],
    ];
    for (let c = 0; c < 3; c++) {
      assert.ok(
        Math.abs(got[p * 3 + c] - expected[c]) < 1e-3,
        `pixel ${p} channel ${c}: ${got[p * 3 + c]} vs ${expected[c]}`,
      );
    }
  });
  assert.equal(layer.trainable, false);
  tf.dispose([input, out]);
});

Deno.test("a model with the vgg16 preprocessor survives saving and loading", async () => {
  const base = await createVgg16Base({
    weights: null,
    preprocessing: "vgg16",
    inputShape: [32, 32, 3],
    log: quiet,
  });
  try {
    assert.equal(base.preprocessor.length, 1);
    assert.match(base.preprocessing, /preprocess_input/);
    const input = tf.input({ shape: [4, 4, 3] });
    const output = base.preprocessor[0].apply(input) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: output });
    let saved: tf.io.ModelArtifacts | undefined;
    await model.save(tf.io.withSaveHandler((artifacts) => {
      saved = artifacts;
      return Promise.resolve({
        modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" },
      });
    }));
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved!));
    const x = tf.randomUniform([2, 4, 4, 3]);
    const a = model.predict(x) as tf.Tensor;
    const b = loaded.predict(x) as tf.Tensor;
    assert.deepEqual(a.dataSync(), b.dataSync());
    assert.equal(loaded.layers[1].name, VGG16_PREPROCESS_LAYER);
    tf.dispose([x, a, b]);
    model.dispose();
    loaded.dispose();
  } finally {
    base.model.dispose();
  }
});

Deno.test("a downloaded weight file that does not load is moved aside and fetched again next time", async () => {
  const server = startServer({ "/v1/w.h5": new TextEncoder().encode("<html>not HDF5</html>") });
  const cacheDir = await Deno.makeTempDir();
  try {
    const url = server.url("/v1/w.h5");
    const opts = { weights: url, cacheDir, weightsSize: null, weightsMd5: null, log: quiet };
    await assert.rejects(createVgg16Base(opts), (e: unknown) => {
      assert.ok(e instanceof WeightsError, String(e));
      assert.match(e.message, /moved aside to .*w\.h5\.unusable; the next run downloads it again/);
      return true;
    });
    const cached = path.join(cacheDir, cacheFileName([url]));
    assert.ok(!(await Deno.stat(cached).then(() => true, () => false)));
    await assert.rejects(createVgg16Base(opts), WeightsError);
    assert.equal(server.hits("/v1/w.h5"), 2, "fetched again instead of reusing the bad file");
  } finally {
    await server.close();
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("the default base is VGG16 when its weights file can be had", async () => {
  const lines: string[] = [];
  const { base, choice } = await resolveBase({
    defaultVgg16Weights: weightsFile,
    log: (l) => lines.push(l),
  });
  try {
    assert.equal(base.name, "vgg16");
    assert.deepEqual(
      [choice.requested, choice.used, choice.weights, choice.fallbackReason],
      ["default", "vgg16", weightsFile, undefined],
    );
    assert.match(choice.summary, /^vgg16 \(the article's base\), Keras' ImageNet weights from /);
    assert.doesNotMatch(lines.join("\n"), /MobileNet/);
  } finally {
    base.model.dispose();
  }
});
