/**
 * The committed notebooks: their form (no outputs, the Deno kernelspec), their code (type
 * checks and lints), and a quick-mode run of all of them through the real Deno Jupyter kernel
 * with `jupyter nbconvert --execute`, checked for errors and for charts shown as vega-lite and
 * PNG. Without Jupyter the run fails with the install commands (CI installs them).
 *
 * Data: the shared car/plane dataset when it is beside the repository (`../shared`), else a
 * small drawn one. Transfer base: the shared MobileNet when present, else VGG16 with random
 * weights (a smoke test of the pipeline only).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  cellSource,
  CHART_MIME_TYPES,
  checkCommittedNotebook,
  formatProblem,
  listNotebooks,
  type Notebook,
  readNotebook,
  runNotebooks,
} from "../tools/notebook_runner.ts";
import { makeArticleLayout } from "./fixtures.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const NOTEBOOKS = join(ROOT, "notebooks");
const SHARED_DATA = fileURLToPath(new URL("../../shared/datasets/car-plane", import.meta.url));
const SHARED_MOBILENET = fileURLToPath(
  new URL("../../shared/models/mobilenet_v1_0.25_224", import.meta.url),
);
const EXPECTED = [
  "01_data.ipynb",
  "02_baseline.ipynb",
  "03_overfitting.ipynb",
  "04_transfer.ipynb",
  "05_predictions.ipynb",
];

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Every text a notebook's outputs show: streams and text/plain or text/markdown. */
function outputText(nb: Notebook): string {
  return nb.cells.flatMap((c) => c.outputs ?? []).map((o) => {
    if (o.output_type === "stream") return Array.isArray(o.text) ? o.text.join("") : o.text ?? "";
    const data = o.data ?? {};
    const text = data["text/markdown"] ?? data["text/plain"] ?? "";
    return Array.isArray(text) ? text.join("") : String(text);
  }).join("\n");
}

Deno.test("the committed notebooks walk through the article in order, on the Deno kernel, without outputs", async () => {
  const paths = await listNotebooks(NOTEBOOKS);
  assert.deepEqual(paths.map((p) => p.slice(NOTEBOOKS.length + 1)), EXPECTED);
  for (const [i, path] of paths.entries()) {
    const name = EXPECTED[i];
    const nb = await readNotebook(path);
    assert.deepEqual(checkCommittedNotebook(nb, name).map(formatProblem), []);
    assert.deepEqual(nb.metadata.kernelspec, {
      display_name: "Deno",
      language: "typescript",
      name: "deno",
    });
    const ids = nb.cells.map((c) => c.id);
    assert.ok(ids.every((id) => typeof id === "string" && /^[a-z0-9-]+$/.test(id)), name);
    assert.equal(new Set(ids).size, ids.length, `${name}: cell ids are unique`);
    assert.equal(nb.cells[0].cell_type, "markdown");
    assert.match(cellSource(nb.cells[0]), new RegExp(`^# ${i + 1}\\. `), `${name} title`);
    const firstCode = nb.cells.find((c) => c.cell_type === "code")!;
    assert.match(cellSource(firstCode), /^settleCellOutputs\(\);/m, `${name} settles outputs`);
    assert.ok(nb.cells.some((c) => c.cell_type === "markdown" && cellSource(c).length > 400));
  }
});

Deno.test("the notebooks' code type-checks and lints (each notebook as one module)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "notebook-code-" });
  try {
    const files: string[] = [];
    for (const name of EXPECTED) {
      const nb = await readNotebook(join(NOTEBOOKS, name));
      const code = nb.cells.filter((c) => c.cell_type === "code").map(cellSource).join("\n\n")
        .replaceAll('"../lib/', `"${new URL("../lib/", import.meta.url).href}`);
      const file = join(dir, name.replace(/\.ipynb$/, ".ts"));
      await Deno.writeTextFile(file, code + "\n");
      files.push(file);
    }
    for (const command of ["check", "lint"]) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [command, "--config", join(ROOT, "deno.json"), ...files],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
      assert.equal(out.code, 0, `deno ${command} of the notebooks' code:\n${text}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("every notebook runs headless through the Deno kernel in quick mode", async () => {
  const started = performance.now();
  const tmp = await Deno.makeTempDir({ prefix: "notebooks-run-" });
  try {
    const realData = await exists(join(SHARED_DATA, "training_set"));
    const dataDir = realData ? SHARED_DATA : await makeArticleLayout(join(tmp, "data"), {
      train: { cars: 20, planes: 20 },
      val: { cars: 5, planes: 5 },
      test: { cars: 3, planes: 3 },
    });
    const realBase = await exists(join(SHARED_MOBILENET, "model.json"));
    const outputs = join(tmp, "outputs");
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(Deno.env.toObject())) {
      if (!/^(CARPLANE_|NOTEBOOK_QUICK$)/.test(key)) env[key] = value;
    }
    Object.assign(env, {
      CARPLANE_DATA_DIR: dataDir,
      CARPLANE_OUTPUTS_DIR: outputs,
      CARPLANE_BASE: realBase ? "mobilenet" : "vgg16",
      CARPLANE_WEIGHTS: realBase ? SHARED_MOBILENET : "none",
    });
    console.log(
      `notebooks quick run: data ${realData ? SHARED_DATA : "drawn fixture"}; transfer base ` +
        (realBase ? `mobilenet (${SHARED_MOBILENET})` : "vgg16 with random weights (smoke test)"),
    );
    const result = await runNotebooks({
      notebooksDir: NOTEBOOKS,
      outputDir: join(outputs, "notebooks"),
      quick: true,
      env,
      keepGoing: true,
      log: (line) => console.log(`  ${line}`),
    });
    assert.deepEqual(
      result.problems.map(formatProblem),
      [],
      "every notebook runs without errors and shows its charts",
    );
    assert.ok(result.ok);
    assert.deepEqual(result.runs.map((r) => r.name), EXPECTED);

    const executed: Record<string, Notebook> = {};
    for (const run of result.runs) executed[run.name] = await readNotebook(run.executed!);
    const charts = (nb: Notebook) =>
      nb.cells.flatMap((c) => c.outputs ?? []).filter((o) =>
        CHART_MIME_TYPES.every((m) => o.data?.[m] !== undefined)
      ).length;
    const images = (nb: Notebook) =>
      nb.cells.flatMap((c) => c.outputs ?? []).filter((o) =>
        o.data?.["image/png"] !== undefined &&
        o.data?.["application/vnd.vegalite.v5+json"] === undefined
      ).length;
    assert.deepEqual(EXPECTED.map((n) => charts(executed[n])), [0, 2, 2, 3, 0]);
    assert.deepEqual(EXPECTED.map((n) => images(executed[n])), [2, 0, 0, 0, 1]);

    const text = Object.fromEntries(EXPECTED.map((n) => [n, outputText(executed[n])]));
    assert.match(text["01_data.ipynb"], /Found \d+ images belonging to 2 classes\./);
    assert.match(text["01_data.ipynb"], /QUICK MODE/);
    assert.match(text["02_baseline.ipynb"], /Total params: 813,217/);
    assert.match(text["02_baseline.ipynb"], /Epoch 2\/2/);
    assert.match(text["02_baseline.ipynb"], /val accuracy after 2 epochs: \d\.\d{3}/);
    assert.match(text["03_overfitting.ipynb"], /Loaded the baseline history \(2 epochs\)/);
    assert.match(text["03_overfitting.ipynb"], /EarlyStopping\(monitor="val_loss", patience=3/);
    assert.match(
      text["04_transfer.ipynb"],
      new RegExp(`base: ${realBase ? "mobilenet" : "vgg16"}`),
    );
    assert.match(
      text["04_transfer.ipynb"],
      realBase ? new RegExp(`weights: ${SHARED_MOBILENET}`) : /RANDOM WEIGHTS/,
    );
    if (!realBase) assert.match(text["04_transfer.ipynb"], /14,714,688 parameters/);
    assert.match(text["05_predictions.ipynb"], /Loaded the transfer model/);
    assert.match(text["05_predictions.ipynb"], /correctly predicted \d+ out of \d+ images/);
    for (
      const file of ["models/baseline/model.json", "models/transfer/model.json", "history.csv"]
    ) {
      assert.ok(await exists(join(outputs, file)), `${file} written`);
    }
    console.log(`notebooks quick run: ${((performance.now() - started) / 1000).toFixed(1)}s`);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
