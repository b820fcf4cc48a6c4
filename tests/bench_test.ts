import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  type BackendResult,
  BENCH_METRICS,
  type BenchReport,
  benchReportJson,
  benchSettings,
  defaultAnchorPath,
  formatBenchTable,
  measureScalePoint,
  runBench,
  runPytorchAnchor,
  runScalePoint,
  type Throughput,
} from "../tools/bench/bench.ts";

const PYTHON = "/usr/bin/python3";
const SMALL_DATA = join(import.meta.dirname ?? ".", "..", "..", "shared", "datasets", "car-plane");

function throughput(imgPerS: number, calls = 2): Throughput {
  return { imgPerS, images: imgPerS * calls, calls, seconds: calls };
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
      backend("wasm", 1),
      backend("cpu", 0.05),
    ],
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

Deno.test("the table puts each backend's 1-thread and 2-thread figures beside PyTorch", () => {
  const text = formatBenchTable(sampleReport(true));
  const lines = text.split("\n");
  assert.match(
    lines[0],
    /^metric \(img\/s\)\s+wasm 1 thread\s+wasm 2 threads\s+cpu 1 thread\s+cpu 2 threads\s+PyTorch \(2 threads\)\s+best tfjs \/ PyTorch$/,
  );
  assert.match(
    lines[1],
    /^baseline_train_img_per_s\s+100\.0\s+180\.0\s+5\.0\s+9\.0\s+90\.0\s+2\.00 \(wasm 2 threads\)$/,
  );
  assert.match(
    lines[2],
    /^vgg16_forward_img_per_s\s+12\.0\s+24\.0\s+0\.6\s+1\.2\s+12\.0\s+2\.00 \(wasm 2 threads\)$/,
  );
  assert.equal(lines[0].length, lines[1].length, "columns are aligned");
  assert.match(text, /- node: not run: the native binding did not load/);
  assert.match(text, /- cpu: timed 2\+2 training steps after 0\+0 warm-up, .*cpu is very slow/);
  assert.match(text, /load average 1\.50 before, 1\.20 after \(busy: figures are noisy\)/);
  assert.match(text, /Scaling: one epoch/);
  assert.match(text, /^160\s+0\.20\s+800\.0\s+1\.50\s+106\.7\s+420\s+wasm 2 threads$/m);
});

Deno.test("without the PyTorch anchor the table shows only ours and says why", () => {
  const text = formatBenchTable(sampleReport(false));
  assert.doesNotMatch(text.split("\n")[0], /PyTorch/);
  assert.match(text, /PyTorch anchor: not run: torch is not installed/);
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
  assert.match(formatBenchTable(report), /^baseline_train_img_per_s\s+[\d.]+\s+[\d.]+$/m);
});

Deno.test(
  "the anchor's JSON is read; a missing script or torch is reported, not thrown",
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
  { ignore: !existsSync(SMALL_DATA) },
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
