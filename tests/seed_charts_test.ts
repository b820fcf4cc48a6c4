import assert from "node:assert/strict";
import { dataSizeChartSpec, seedBandChartSpec } from "../lib/report/seed_charts.ts";
import { ChartError, epochTicks, renderSvg } from "../lib/report/charts.ts";
import { fineTuneOffsets, seedCurves, type SeedRun } from "../lib/report/seeds.ts";
import { overfitHistory } from "./history_fixtures.ts";

function runs(): SeedRun[] {
  return [1, 2, 3].map((seed) => {
    const h = overfitHistory();
    h.history.val_loss = h.history.val_loss.map((v) => v + seed / 100);
    const t = overfitHistory();
    t.history.val_loss = t.history.val_loss.map((v) => v / 3);
    return { seed, models: { baseline: { history: h }, transfer: { history: t } } };
  });
}

Deno.test("seedBandChartSpec: mean line over a min-max band per model, whole-epoch ticks", async () => {
  const r = runs();
  const spec = seedBandChartSpec({
    val_loss: seedCurves(r, "val_loss"),
    val_accuracy: seedCurves(r, "val_accuracy"),
  }, 3) as unknown as Record<string, unknown> & {
    data: { values: Array<Record<string, unknown>> };
    hconcat: Array<{ layer: Array<{ mark: { type: string }; encoding: Record<string, unknown> }> }>;
    usermeta: { summary: string };
  };
  assert.equal(spec.hconcat.length, 2);
  assert.deepEqual(spec.hconcat[0].layer.map((l) => l.mark.type), ["area", "line"]);
  const x = spec.hconcat[0].layer[1].encoding.x as {
    axis: { values: number[]; format: string };
  };
  // Whole epochs only, as the article's charts (a 3-epoch axis once read "1 2 2 3 3").
  assert.deepEqual(x.axis, { values: epochTicks(7), format: "d" });
  const first = spec.data.values.find((v) =>
    v.metric === "val_loss" && v.model === "baseline" && v.epoch === 1
  )!;
  assert.ok(Math.abs((first.mean as number) - 0.70) < 1e-9);
  assert.ok(Math.abs((first.min as number) - 0.69) < 1e-9);
  assert.ok(Math.abs((first.max as number) - 0.71) < 1e-9);
  assert.match(
    spec.usermeta.summary,
    /baseline val_loss final mean 0\.770 \(min 0\.760, max 0\.780\)/,
  );
  const svg = await renderSvg(spec as never);
  assert.match(svg, /over 3 seeds/);
  assert.throws(() => seedBandChartSpec({}, 3), ChartError);
});

Deno.test("dataSizeChartSpec: mean and band of val accuracy per size and model", async () => {
  const spec = dataSizeChartSpec([
    { model: "baseline", perClass: 20, seed: 1, valAccuracy: 0.6 },
    { model: "baseline", perClass: 20, seed: 2, valAccuracy: 0.7 },
    { model: "baseline", perClass: 80, seed: 1, valAccuracy: 0.8 },
    { model: "transfer", perClass: 20, seed: 1, valAccuracy: 0.85 },
    { model: "transfer", perClass: 80, seed: 1, valAccuracy: 0.9 },
  ]) as unknown as {
    data: { values: Array<Record<string, unknown>> };
    usermeta: { summary: string };
  };
  const b20 = spec.data.values.find((v) => v.model === "baseline" && v.perClass === 20)!;
  assert.ok(Math.abs((b20.mean as number) - 0.65) < 1e-12);
  assert.equal(b20.min, 0.6);
  assert.equal(b20.max, 0.7);
  assert.equal(b20.n, 2);
  assert.match(spec.usermeta.summary, /baseline 20: 0\.650, 80: 0\.800; transfer 20: 0\.850/);
  assert.match(await renderSvg(spec as never), /training images per class/);
  assert.throws(() => dataSizeChartSpec([]), /needs at least one run/);
});

Deno.test("fine-tuning's curves go on after the head's epochs (fineTuneOffsets, epochOffsets)", () => {
  const r = runs();
  assert.deepEqual(fineTuneOffsets(r), {});
  const withTuned: SeedRun[] = r.map((run) => ({
    ...run,
    models: { ...run.models, "fine-tuned": { history: overfitHistory() } },
  }));
  const head = withTuned[0].models.transfer.history.epoch.length;
  assert.deepEqual(fineTuneOffsets(withTuned), { "fine-tuned": head });
  const spec = seedBandChartSpec(
    { val_loss: seedCurves(withTuned, "val_loss") },
    3,
    { epochOffsets: fineTuneOffsets(withTuned) },
  ) as unknown as {
    data: { values: Array<Record<string, unknown>> };
    hconcat: Array<{ layer: Array<{ encoding: { x: { scale: { domain: number[] } } } }> }>;
  };
  const epochs = (model: string) =>
    spec.data.values.filter((v) => v.model === model).map((v) => v.epoch as number);
  assert.equal(Math.min(...epochs("baseline")), 1);
  assert.equal(Math.min(...epochs("fine-tuned")), head + 1);
  assert.deepEqual(spec.hconcat[0].layer[1].encoding.x.scale.domain, [1, 2 * head]);
});
