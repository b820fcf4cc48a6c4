import assert from "node:assert/strict";
import { join } from "node:path";
import { Buffer } from "node:buffer";
import sharp from "sharp";
import {
  accuracyChartSpec,
  chartDisplay,
  ChartError,
  comparisonChartSpec,
  epochTicks,
  imageDisplay,
  JUPYTER_DISPLAY,
  lossChartSpec,
  renderPng,
  renderSvg,
  writeChart,
} from "../lib/report/charts.ts";
import type { History } from "../lib/training/history.ts";

function curve(n: number, f: (i: number) => number): number[] {
  return Array.from({ length: n }, (_, i) => f(i));
}

const baseline: History = {
  epoch: curve(12, (i) => i),
  history: {
    loss: curve(12, (i) => 0.69 * Math.exp(-i / 4) + 0.02),
    accuracy: curve(12, (i) => Math.min(0.99, 0.55 + i * 0.04)),
    val_loss: curve(12, (i) => (i < 5 ? 0.7 - i * 0.06 : 0.46 + (i - 5) * 0.08)),
    val_accuracy: curve(12, (i) => Math.min(0.84, 0.55 + i * 0.03)),
  },
};
const transfer: History = {
  epoch: curve(12, (i) => i),
  history: {
    loss: curve(12, (i) => 0.5 * Math.exp(-i / 3) + 0.1),
    accuracy: curve(12, (i) => 0.8 + 0.15 * (1 - Math.exp(-i / 3))),
    val_loss: curve(12, (i) => 0.5 * Math.exp(-i / 3) + 0.15),
    val_accuracy: curve(12, (i) => 0.78 + 0.15 * (1 - Math.exp(-i / 3))),
  },
};

type Row = Record<string, unknown>;
const rows = (spec: unknown) => (spec as { data: { values: Row[] } }).data.values;

Deno.test("the loss chart has a train and a validation line per epoch, numbered from 1", () => {
  const spec = lossChartSpec(baseline);
  assert.equal(spec.$schema, "https://vega.github.io/schema/vega-lite/v5.json");
  assert.equal(spec.title, "Model Loss");
  const values = rows(spec);
  assert.equal(values.length, 24);
  assert.deepEqual(values[0], { epoch: 1, split: "train", loss: baseline.history.loss[0] });
  assert.deepEqual(new Set(values.map((v) => v.split)), new Set(["train", "validation"]));
  const enc = (spec as unknown as { encoding: Record<string, { title?: unknown }> }).encoding;
  assert.equal(enc.x.title, "epoch");
  assert.equal(enc.y.title, "loss");
  assert.match(
    String(spec.usermeta?.summary),
    /validation 0\.700 -> 0\.940 \(min 0\.460 at epoch 5\) over 12 epochs/,
  );
});

Deno.test("the accuracy chart defaults its title and takes a custom one", () => {
  assert.equal(accuracyChartSpec(baseline).title, "Model Accuracy");
  const spec = accuracyChartSpec(baseline, { title: "Baseline accuracy" });
  assert.equal(spec.title, "Baseline accuracy");
  assert.ok(rows(spec).every((v) => typeof v.accuracy === "number"));
});

Deno.test("a history without validation draws train only, and NaN becomes a gap (null)", () => {
  const h: History = { epoch: [0, 1], history: { loss: [0.7, NaN] } };
  const values = rows(lossChartSpec(h));
  assert.deepEqual(values, [
    { epoch: 1, split: "train", loss: 0.7 },
    { epoch: 2, split: "train", loss: null },
  ]);
  assert.throws(
    () => accuracyChartSpec(h),
    (err: unknown) =>
      err instanceof ChartError && /no "accuracy" or "val_accuracy"/.test(err.message),
  );
});

Deno.test("the comparison chart puts models' validation loss and accuracy side by side", () => {
  const spec = comparisonChartSpec({ baseline, transfer });
  const hconcat = (spec as unknown as { hconcat: { encoding: { y: { title: string } } }[] })
    .hconcat;
  assert.deepEqual(hconcat.map((p) => p.encoding.y.title), ["val_loss", "val_accuracy"]);
  assert.deepEqual(spec.title, { text: "Validation loss and accuracy by model", anchor: "middle" });
  assert.equal(rows(spec).length, 2 * 2 * 12);
  assert.match(String(spec.usermeta?.summary), /^baseline: val_loss min 0\.460 \(epoch 5\)/);
  const one = comparisonChartSpec({ baseline, transfer }, {
    metric: "accuracy",
    includeTrain: true,
  });
  assert.equal(one.title, "Train and validation accuracy by model");
  assert.equal(
    comparisonChartSpec({ baseline }, { metric: "loss" }).title,
    "Validation loss by model",
  );
  assert.equal(rows(one).length, 2 * 2 * 12);
  assert.throws(() => comparisonChartSpec({}), ChartError);
  // Fine-tuning goes on from the transfer model: its curve starts after the head's 12 epochs.
  const shifted = comparisonChartSpec({ transfer, tuned: baseline }, {
    epochOffsets: { tuned: 12 },
  });
  const epochs = rows(shifted).filter((r) => r.model === "tuned").map((r) => r.epoch as number);
  assert.deepEqual([Math.min(...epochs), Math.max(...epochs)], [13, 24]);
  assert.match(String(shifted.usermeta?.summary), /tuned: val_loss min 0\.460 \(epoch 17\)/);
});

Deno.test("renderSvg draws axes, title and legend text headless", async () => {
  const svg = await renderSvg(lossChartSpec(baseline));
  assert.ok(svg.startsWith("<svg"));
  for (const text of ["Model Loss", "epoch", "loss", "train", "validation"]) {
    assert.ok(svg.includes(`>${text}</text>`), `SVG lacks the text "${text}"`);
  }
  const cmp = await renderSvg(comparisonChartSpec({ baseline, transfer }));
  for (const text of ["val_loss", "val_accuracy", "model", "baseline", "transfer"]) {
    assert.ok(cmp.includes(`>${text}</text>`), `SVG lacks the text "${text}"`);
  }
});

Deno.test("renderPng scales the SVG size and renders dark text pixels", async () => {
  const spec = accuracyChartSpec(baseline);
  const png = await renderPng(spec, { scale: 2 });
  const svg = await renderSvg(spec);
  const svgWidth = Number(/width="(\d+)"/.exec(svg)?.[1]);
  const meta = await sharp(png).metadata();
  assert.equal(meta.format, "png");
  assert.equal(meta.width, svgWidth * 2);
  // The title strip (top 40 px) holds the black title text: some pixels must be dark.
  const { data, info } = await sharp(png).extract({
    left: 0,
    top: 0,
    width: meta.width!,
    height: 40,
  })
    .greyscale().raw().toBuffer({ resolveWithObject: true });
  let dark = 0;
  for (let i = 0; i < info.width * info.height; i++) if (data[i] < 100) dark++;
  assert.ok(dark > 50, `only ${dark} dark pixels in the title strip: is text rendering?`);
  await assert.rejects(() => renderPng(spec, { scale: 0 }), ChartError);
});

Deno.test("writeChart writes the spec, SVG and PNG and nothing else", async () => {
  const dir = await Deno.makeTempDir({ prefix: "charts_test_" });
  try {
    const out = join(dir, "run");
    const files = await writeChart(lossChartSpec(baseline), out, "loss");
    assert.deepEqual(files, {
      spec: join(out, "loss.vl.json"),
      svg: join(out, "loss.svg"),
      png: join(out, "loss.png"),
    });
    const names: string[] = [];
    for await (const e of Deno.readDir(out)) names.push(e.name);
    assert.deepEqual(names.sort(), ["loss.png", "loss.svg", "loss.vl.json"]);
    const spec = JSON.parse(await Deno.readTextFile(files.spec));
    assert.equal(spec.title, "Model Loss");
    assert.equal(spec.data.values.length, 24);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("chartDisplay returns the Jupyter bundle: vega-lite spec, base64 PNG and a text line", async () => {
  const spec = lossChartSpec(baseline);
  const shown = await chartDisplay(spec);
  assert.equal(JUPYTER_DISPLAY, Symbol.for("Jupyter.display"));
  const bundle = shown[Symbol.for("Jupyter.display") as typeof JUPYTER_DISPLAY]();
  assert.deepEqual(Object.keys(bundle).sort(), [
    "application/vnd.vegalite.v5+json",
    "image/png",
    "text/plain",
  ]);
  assert.equal(bundle["application/vnd.vegalite.v5+json"], spec);
  const png = Buffer.from(bundle["image/png"] as string, "base64");
  assert.deepEqual([...png.subarray(1, 4)], [80, 78, 71]); // "PNG"
  assert.match(bundle["text/plain"] as string, /^Model Loss: train 0\.710 -> /);
  assert.equal(shown.bundle, bundle);
});

Deno.test("imageDisplay wraps PNG bytes with a caption, and refuses non-PNG bytes", async () => {
  const png = new Uint8Array(
    await sharp({ create: { width: 3, height: 2, channels: 3, background: "red" } }).png()
      .toBuffer(),
  );
  const bundle = imageDisplay(png)[JUPYTER_DISPLAY]();
  assert.equal(bundle["text/plain"], "PNG image 3x2");
  assert.equal(bundle["image/png"], Buffer.from(png).toString("base64"));
  assert.equal(imageDisplay(png, "Contact sheet").bundle["text/plain"], "Contact sheet");
  assert.throws(() => imageDisplay(new Uint8Array([0xff, 0xd8, 0xff])), /needs PNG bytes/);
});

Deno.test("epoch axes tick whole epochs only", () => {
  assert.deepEqual(epochTicks(1), [1]);
  assert.deepEqual(epochTicks(2), [1, 2]);
  assert.deepEqual(epochTicks(12), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  assert.deepEqual(epochTicks(30), [1, 5, 10, 15, 20, 25, 30]);
  assert.deepEqual(epochTicks(15), [1, 2, 4, 6, 8, 10, 12, 14]);
  for (const n of [1, 2, 3, 7, 13, 30, 99, 250]) {
    const ticks = epochTicks(n);
    assert.ok(ticks.every((t) => Number.isInteger(t) && t >= 1 && t <= n), `${n}: ${ticks}`);
    assert.ok(ticks.length <= 12, `${n}: ${ticks.length} ticks`);
  }
});

Deno.test("a two-epoch run (quick mode) labels its epoch axis 1 and 2, on every chart", async () => {
  const two: History = {
    epoch: [0, 1],
    history: {
      loss: [0.7, 0.6],
      accuracy: [0.5, 0.6],
      val_loss: [0.69, 0.65],
      val_accuracy: [0.5, 0.55],
    },
  };
  const specs = [
    lossChartSpec(two),
    accuracyChartSpec(two),
    comparisonChartSpec({ baseline: two, transfer: two }),
  ];
  for (const spec of specs) {
    const svg = await renderSvg(spec);
    // Vega draws each axis' labels as <text> in a group with role-axis-label.
    const labels = [...svg.matchAll(/role-axis-label"[^>]*>([\s\S]*?)<\/g>/g)]
      .map((group) => [...group[1].matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]));
    const epochAxes = labels.filter((texts) => texts.includes("1") && texts.includes("2"));
    assert.ok(epochAxes.length >= 1, `an epoch axis in ${JSON.stringify(labels)}`);
    for (const texts of epochAxes) assert.deepEqual(texts, ["1", "2"]);
  }
});
