import * as tf from "@tensorflow/tfjs";
import { createArticleFlows, experimentConfig, initBackend } from "../lib/mod.ts";
import { createBase } from "../lib/models/bases.ts";
import { trainTransfer } from "../lib/training/experiment.ts";
import { topBlockLayers } from "../lib/training/fine_tune.ts";
import { compileClassifier } from "../lib/models/baseline.ts";
import { createTrainStep } from "../lib/training/fit.ts";
import { silentReporter } from "../lib/training/progress.ts";
await initBackend("wasm", { log: null });
const config = experimentConfig({ threads: 1, epochs: 1 });
const flows = await createArticleFlows("data", config, { log: () => {} });
const base = await createBase({ base: "mobilenet", inputShape: [64, 64, 3] });
const t0 = await trainTransfer(base, flows, config, { reporter: silentReporter(), log: () => {} });
const names = topBlockLayers(base);
base.model.trainable = true;
for (const l of base.model.layers) l.trainable = names.includes(l.name);
const model = t0.model;
compileClassifier(model, 2, 1e-5);
const step = createTrainStep(model);
const b = await flows.train.next();
await step(b);
await step(b);
const info = await tf.profile(async () => {
  await step(b);
});
for (const k of info.kernels) {
  if (["Tile", "BatchMatMul", "ResizeBilinear"].includes(k.name)) {
    console.log(
      k.name,
      JSON.stringify(k.inputShapes),
      JSON.stringify(k.outputShapes),
      (k.kernelTimeMs as number).toFixed(1),
    );
  }
}
const agg = new Map<string, [number, number]>();
for (const k of info.kernels) {
  const e = agg.get(k.name) ?? [0, 0];
  e[0] += k.kernelTimeMs as number;
  e[1]++;
  agg.set(k.name, e);
}
const total = [...agg.values()].reduce((a, c) => a + c[0], 0);
for (const [n, [ms, c]] of [...agg].sort((a, c) => c[1][0] - a[1][0]).slice(0, 25)) {
  console.log(n.padEnd(40), ms.toFixed(1), c);
}
console.log("total", total.toFixed(1), "kernels", info.kernels.length);
let t = performance.now();
await step(b);
console.log("step wall", (performance.now() - t).toFixed(0));
t = performance.now();
model.predict(tf.tensor(b.xs, b.shape));
console.log("predict wall", (performance.now() - t).toFixed(0));
