import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { makeArticleLayout, withTempDir } from "./fixtures.ts";
import {
  type BackendResult,
  BENCH_METRICS,
  type BenchReport,
  benchReportJson,
  benchSettings,
  defaultAnchorPath,
  formatBenchTable,
  measureArticleEpoch,
  measureScalePoint,
  ratiosToKeras,
  runBench,
  runKerasAnchor,
  runPytorchAnchor,
  runScalePoint,
  type Throughput,
} from "../tools/bench/mod.ts";
import { EMBEDDED_DATASET_DIR } from "../lib/data/sources.ts";

const PYTHON = "/usr/bin/python3";
/** The embedded sample (215 real CIFAR-10 photos), always in the repository. */
const SMALL_DATA = EMBEDDED_DATASET_DIR;

function throughput(imgPerS: number, calls = 2): Throughput {
  return { imgPerS, images: imgPerS * calls, calls, seconds: calls };
}

function article(seconds: number, threads: number) {
  const part = (f: number) => ({
    epochSeconds: seconds * f,
    batchSeconds: 0.1 * seconds * f,
    tensorSeconds: 0.01 * f,
    stepSeconds: 0.8 * seconds * f,
    validationSeconds: 0.05 * f,
  });
  return {
    backend: "wasm" as const,
    threads,
    epochs: [part(1.5), part(1), part(1)],
    median: part(1),
    trainImgPerS: 960 / seconds,
    kernelsPerStep: threads === 1 ? 300 : null,
    topKernels: [{ kernel: "Conv2D", calls: 2, ms: 12.34 }],
  };
}

function backend(name: "wasm" | "cpu", scale: number): BackendResult {
  return {
    backend: name,
    available: true,
    reason: "test",
    settings: benchSettings(name, false, 1),
    metrics: {
      baseline_train_img_per_s: {
        single: throughput(100 * scale),
        parallel: throughput(180 * scale),
        threads: 2,
      },
      vgg16_forward_img_per_s: {
        single: throughput(12 * scale),
        parallel: throughput(24 * scale),
        threads: 2,
      },
    },
  };
}

function sampleReport(withAnchor: boolean): BenchReport {
  return {
    machine: {
      cores: 2,
      loadAverageBefore: [1.5, 1, 1],
      loadAverageAfter: [1.2, 1, 1],
      deno: "2.9.6",
      tfjs: "4.22.0",
    },
    backends: [
      {
        backend: "node",
        available: false,
        reason: "the native binding did not load",
        settings: benchSettings("node", false, 1),
        metrics: {},
      },
      { ...backend("wasm", 1), article: article(3, 2) },
      backend("cpu", 0.05),
    ],
    keras: withAnchor
      ? {
        found: true,
        python: "/venv/bin/python",
        peer: "keras 3.15.1 / tf 2.21.0",
        threads: 2,
        metrics: { baseline_train_img_per_s: 400, vgg16_forward_img_per_s: 48 },
        article: { medianEpochSeconds: 1.5, epochs: 3 },
      }
      : { found: false, reason: "no venv" },
    pytorch: withAnchor
      ? {
        found: true,
        path: "/x/pytorch_anchor.py",
        peer: "pytorch 1.13.0",
        threads: 2,
        metrics: { baseline_train_img_per_s: 90, vgg16_forward_img_per_s: 12 },
      }
      : { found: false, path: "/x/pytorch_anchor.py", reason: "torch is not installed" },
    vgg16Weights: "random",
    scale: [
      {
        images: 160,
        source: "/d",
        decodeSeconds: 0.2,
        decodeImgPerS: 800,
        epochSeconds: 1.5,
        warmupSeconds: 0.3,
        steps: 5,
        trainImgPerS: 106.7,
        peakRssMb: 420,
        backend: "wasm",
        threads: 2,
      },
    ],
  };
}

Deno.test("the table puts each backend's 1-thread and 2-thread figures beside Keras and PyTorch", () => {
  const text = formatBenchTable(sampleReport(true));
  const lines = text.split("\n");
  assert.match(
    lines[0],
    /^metric \(img\/s\)\s+wasm 1 thread\s+wasm 2 threads\s+cpu 1 thread\s+cpu 2 threads\s+Keras \(2 threads\)\s+PyTorch \(2 threads\)\s+best tfjs \/ PyTorch$/,
  );
  assert.match(
    lines[1],
    /^baseline_train_img_per_s\s+100\.0\s+180\.0\s+5\.0\s+9\.0\s+400\.0\s+90\.0\s+2\.00 \(wasm 2 threads\)$/,
  );
  assert.match(
    lines[2],
    /^vgg16_forward_img_per_s\s+12\.0\s+24\.0\s+0\.6\s+1\.2\s+48\.0\s+12\.0\s+2\.00 \(wasm 2 threads\)$/,
  );
  assert.match(lines[3], /^article epoch \(s\)\s+-\s+3\.00\s+-\s+-\s+1\.50\s+-\s+-$/);
  assert.match(text, /Ratio to Keras, same machine, same run/);
  assert.match(text, /^baseline_train_img_per_s\s+0\.25\s+0\.45\s+0\.01\s+0\.02\s+0\.23$/m);
  assert.match(text, /^article_epoch_time\s+-\s+2\.00\s+-\s+-\s+-$/m);
  assert.match(text, /^wasm 2 threads\s+3\.00\s+0\.30\s+0\.01\s+2\.40\s+0\.05\s+-$/m);
  assert.match(text, /- Keras anchor: keras 3\.15\.1 \/ tf 2\.21\.0 \(\/venv\/bin\/python\)/);
  assert.equal(lines[0].length, lines[1].length, "columns are aligned");
  assert.match(text, /- node: not run: the native binding did not load/);
  assert.match(text, /- cpu: timed 2\+2 training steps after 0\+0 warm-up, .*cpu is very slow/);
  assert.match(text, /load average 1\.50 before, 1\.20 after \(busy: figures are noisy\)/);
  assert.match(text, /Scaling: one epoch/);
  assert.match(text, /^160\s+0\.20\s+800\.0\s+1\.50\s+106\.7\s+420\s+wasm 2 threads$/m);
});

Deno.test("without the PyTorch anchor the table shows only ours and says why", () => {
  const text = formatBenchTable(sampleReport(false));
  assert.doesNotMatch(text.split("\n")[0], /PyTorch|Keras/);
  assert.doesNotMatch(text, /Ratio to Keras/);
  assert.match(text, /PyTorch anchor: not run: torch is not installed/);
  assert.match(text, /Keras anchor: not run: no venv/);
});

Deno.test("the JSON report has per-backend figures, PyTorch's and the ratios", () => {
  const json = benchReportJson(sampleReport(true));
  assert.deepEqual(Object.keys(json), [
    "machine",
    "vgg16_weights",
    "backends",
    "pytorch",
    "pytorch_missing",
    "ratio_to_pytorch",
    "keras",
    "keras_missing",
    "ratio_to_keras",
    "scale",
  ]);
  const backends = json.backends as Record<string, Record<string, unknown>>;
  assert.deepEqual(Object.keys(backends), ["node", "wasm", "cpu"]);
  assert.deepEqual(backends.node, { available: false, reason: "the native binding did not load" });
  assert.deepEqual(backends.wasm.baseline_train_img_per_s, {
    single: 100,
    parallel: 180,
    parallel_threads: 2,
    speedup: 1.8,
    timed_calls: { single: 2, parallel: 2 },
  });
  assert.deepEqual(json.pytorch, {
    peer: "pytorch 1.13.0",
    threads: 2,
    baseline_train_img_per_s: 90,
    vgg16_forward_img_per_s: 12,
    path: "/x/pytorch_anchor.py",
  });
  assert.equal(json.pytorch_missing, null);
  assert.deepEqual(json.ratio_to_pytorch, {
    baseline_train_img_per_s: { best: "wasm 2 threads", ratio: 2 },
    vgg16_forward_img_per_s: { best: "wasm 2 threads", ratio: 2 },
  });
  assert.deepEqual(json.keras, {
    peer: "keras 3.15.1 / tf 2.21.0",
    threads: 2,
    baseline_train_img_per_s: 400,
    vgg16_forward_img_per_s: 48,
    article_epoch_s: 1.5,
    article_missing: null,
    python: "/venv/bin/python",
  });
  assert.deepEqual(json.ratio_to_keras, {
    wasm: {
      baseline_train_img_per_s: { single: 0.25, parallel: 0.45 },
      vgg16_forward_img_per_s: { single: 0.25, parallel: 0.5 },
      article_epoch_time: 2,
    },
    cpu: {
      baseline_train_img_per_s: { single: 0.013, parallel: 0.023 },
      vgg16_forward_img_per_s: { single: 0.013, parallel: 0.025 },
    },
    pytorch: { baseline_train_img_per_s: 0.225, vgg16_forward_img_per_s: 0.25 },
  });
  const wasmEpoch = backends.wasm.article_epoch as Record<string, unknown>;
  assert.equal(wasmEpoch.seconds, 3);
  assert.deepEqual(wasmEpoch.breakdown_s, {
    batches: 0.3,
    tensors: 0.01,
    steps: 2.4,
    validation: 0.05,
  });
  assert.deepEqual(wasmEpoch.epochs_s, [4.5, 3, 3]);
  assert.equal(ratiosToKeras(sampleReport(false)), null);
  const [point] = json.scale as Array<Record<string, unknown>>;
  assert.equal(point.images, 160);
  assert.equal(point.peak_rss_mb, 420);
  assert.equal(JSON.parse(JSON.stringify(json)).backends.wasm.vgg16_forward_img_per_s.single, 12);
});

Deno.test("a quick run on cpu with tiny images fills every figure of the JSON", async () => {
  const report = await runBench({
    backends: ["cpu"],
    quick: true,
    workers: 1,
    anchor: null,
    scale: null,
    settings: {
      vgg16ImageSize: 32,
      trainBatch: 2,
      forwardBatch: 2,
      train: { warmupCalls: 0, minCalls: 1, minSeconds: 0 },
      forward: { warmupCalls: 0, minCalls: 1, minSeconds: 0 },
    },
  });
  const json = benchReportJson(report);
  const cpu = (json.backends as Record<string, Record<string, Record<string, number>>>).cpu;
  for (const metric of BENCH_METRICS) {
    assert.ok(cpu[metric].single > 0, `${metric} single`);
    assert.ok(cpu[metric].parallel > 0, `${metric} parallel`);
    assert.equal(cpu[metric].parallel_threads, 2);
  }
  assert.equal(json.pytorch, null);
  assert.equal(json.pytorch_missing, "not run");
  assert.equal(json.keras_missing, "not run");
  assert.match(formatBenchTable(report), /^baseline_train_img_per_s\s+[\d.]+\s+[\d.]+$/m);
});

Deno.test(
  "the anchor's JSON is read; a missing script or torch is reported, not thrown" +
    (existsSync(PYTHON) ? "" : ` (IGNORED: no ${PYTHON} to run the fake anchor scripts)`),
  { ignore: !existsSync(PYTHON) },
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      const fake = join(dir, "anchor.py");
      await Deno.writeTextFile(
        fake,
        "import json, sys\nprint('warming up')\nprint(json.dumps({'peer': 'pytorch 9', " +
          "'threads': 2, 'baseline_train_img_per_s': 50.5, 'vgg16_forward_img_per_s': 7.25, " +
          "'seconds': sys.argv[sys.argv.index('--seconds') + 1]}))\n",
      );
      const found = await runPytorchAnchor({ path: fake, python: PYTHON, seconds: 1 });
      assert.deepEqual(found, {
        found: true,
        path: fake,
        peer: "pytorch 9",
        threads: 2,
        metrics: { baseline_train_img_per_s: 50.5, vgg16_forward_img_per_s: 7.25 },
      });

      const noTorch = join(dir, "no_torch.py");
      await Deno.writeTextFile(noTorch, "raise ModuleNotFoundError(\"No module named 'torch'\")\n");
      const missingTorch = await runPytorchAnchor({ path: noTorch, python: PYTHON });
      assert.equal(missingTorch.found, false);
      assert.match(
        (missingTorch as { reason: string }).reason,
        /torch is not installed .*python3-torch/,
      );

      const missing = await runPytorchAnchor({ path: join(dir, "nope.py"), python: PYTHON });
      assert.match((missing as { reason: string }).reason, /does not exist \(pass --anchor PATH\)/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "the Keras anchor reads keras_bench.py and keras_article.py; a failure is reported, not thrown" +
    (existsSync(PYTHON) ? "" : ` (IGNORED: no ${PYTHON} to run the fake anchor scripts)`),
  { ignore: !existsSync(PYTHON) },
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(
        join(dir, "keras_bench.py"),
        "import json, sys\nprint(json.dumps({'keras': '3.9', 'tf': '2.9', " +
          "'keras_baseline_train_img_per_s': 400.5, 'keras_vgg16_forward_img_per_s': 50.0, " +
          "'threads': int(sys.argv[sys.argv.index('--threads') + 1])}))\n",
      );
      await Deno.writeTextFile(
        join(dir, "keras_article.py"),
        "import json, sys\nassert sys.argv[1] == 'DATA'\nprint('Found 160 images')\n" +
          "print(json.dumps({'median_epoch_s': 1.25, " +
          "'epochs': int(sys.argv[sys.argv.index('--epochs') + 1])}))\n",
      );
      const found = await runKerasAnchor({ dir, python: PYTHON, data: "DATA", epochs: 3 });
      assert.deepEqual(found, {
        found: true,
        python: PYTHON,
        peer: "keras 3.9 / tf 2.9",
        threads: 2,
        metrics: { baseline_train_img_per_s: 400.5, vgg16_forward_img_per_s: 50 },
        article: { medianEpochSeconds: 1.25, epochs: 3 },
      });
      await Deno.writeTextFile(join(dir, "keras_article.py"), "raise SystemExit('no data here')\n");
      const noArticle = await runKerasAnchor({ dir, python: PYTHON, data: "DATA" });
      assert.ok(noArticle.found);
      assert.match(JSON.stringify(noArticle.article), /keras_article\.py failed: no data here/);

      await Deno.writeTextFile(join(dir, "keras_bench.py"), "print('no json')\n");
      const broken = await runKerasAnchor({ dir, python: PYTHON, data: null });
      assert.deepEqual(broken, {
        found: false,
        reason: `${join(dir, "keras_bench.py")} printed no JSON: no json`,
      });
      const noEnv = await runKerasAnchor({ dir: join(dir, "nowhere"), data: null });
      assert.equal(noEnv.found, false);
      assert.match((noEnv as { reason: string }).reason, /keras_env\.sh does not exist/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("the default anchor sits in ../shared/bench beside the project", () => {
  assert.equal(defaultAnchorPath("/work/main"), "/work/shared/bench/pytorch_anchor.py");
});

Deno.test("a scaling point is read from the last line its process prints", async () => {
  const point = await runScalePoint({
    command: Deno.execPath(),
    args: ["eval", "console.log('noise'); console.log(JSON.stringify({ images: 3 }))"],
  });
  assert.equal(point.images, 3);
  await assert.rejects(
    () => runScalePoint({ command: Deno.execPath(), args: ["eval", "Deno.exit(3)"] }),
    /A scaling point failed/,
  );
});

Deno.test(
  "a tiny scaling point decodes, trains one pass and reports its peak memory",
  async () => {
    const point = await measureScalePoint({
      data: SMALL_DATA,
      images: 8,
      backend: "cpu",
      workers: 1,
      batchSize: 4,
      imageSize: 16,
    });
    assert.equal(point.images, 8);
    assert.equal(point.steps, 2);
    assert.equal(point.threads, 2);
    assert.ok(point.peakRssMb > 0);
    assert.ok(point.decodeImgPerS > 0);
    assert.match(point.source, /training_set$/);
  },
);

Deno.test("the article's epoch is timed and taken apart: batches, tensors, steps, validation", async () => {
  await withTempDir(async (dir) => {
    const data = await makeArticleLayout(join(dir, "data"), {
      train: { cars: 4, planes: 4 },
      val: { cars: 2, planes: 2 },
      test: { cars: 1, planes: 1 },
    });
    const r = await measureArticleEpoch({ data, backend: "wasm", epochs: 2, stepsPerEpoch: 2 });
    assert.equal(r.epochs.length, 2);
    assert.equal(r.threads, 1);
    assert.deepEqual(r.median, r.epochs[1], "the median of the one epoch after the warm-up");
    const m = r.median;
    const parts = m.batchSeconds + m.tensorSeconds + m.stepSeconds + m.validationSeconds;
    assert.ok(
      parts <= m.epochSeconds + 1e-9 && parts > 0.5 * m.epochSeconds,
      `${parts} vs ${m.epochSeconds}`,
    );
    assert.ok(m.stepSeconds > 0 && m.validationSeconds > 0 && m.batchSeconds > 0);
    assert.ok((r.kernelsPerStep ?? 0) > 20, `${r.kernelsPerStep} kernels in a step`);
    assert.ok(r.topKernels.length > 0 && r.topKernels.every((k) => k.calls > 0));
    assert.equal(r.trainImgPerS, (2 * 8) / m.epochSeconds, "2 steps of the 8 training images");
  });
});
