/**
 * The committed notebooks: their form (no outputs, the Deno kernelspec), their code (type
 * checks and lints), and a quick-mode run of all of them through the real Deno Jupyter kernel
 * with `jupyter nbconvert --execute`, checked for errors and for charts shown as vega-lite and
 * PNG. The Deno kernel is registered for the run in a temporary folder (the user's Jupyter is
 * neither needed nor touched). Without Jupyter itself the run is ignored, saying how to install
 * it, except under `CI=true`, where it fails.
 *
 * Data: the sample embedded in the repository. Transfer base: the embedded MobileNet v1 0.25
 * (`CARPLANE_BASE=mobilenet` without weights), so that the run never downloads VGG16's 58 MB.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  cellSource,
  CHART_MIME_TYPES,
  checkCommittedNotebook,
  checkNbconvert,
  formatProblem,
  JUPYTER_INSTALL_HINT,
  JupyterMissingError,
  listNotebooks,
  type Notebook,
  readNotebook,
  runNotebooks,
} from "../tools/notebook_runner.ts";
import { EMBEDDED_DATASET_DIR } from "../lib/data/sources.ts";
import { EMBEDDED_MOBILENET_DIR } from "../lib/models/bases.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const NOTEBOOKS = join(ROOT, "notebooks");

/** Why the quick run cannot run here (no Jupyter), or null. */
const noJupyter = await checkNbconvert().then(
  () => null,
  (e) => {
    if (e instanceof JupyterMissingError) return e.message.split("\n")[0].replace(/\.$/, "");
    throw e;
  },
);
const inCi = Deno.env.get("CI") === "true";
if (noJupyter && !inCi) {
  console.log(`notebooks_test: the quick run is ignored: ${noJupyter}\n${JUPYTER_INSTALL_HINT}`);
}
const EXPECTED = [
  "01_data.ipynb",
  "02_baseline.ipynb",
  "03_overfitting.ipynb",
  "04_transfer.ipynb",
  "05_predictions.ipynb",
  "06_your_images.ipynb",
  "07_beyond.ipynb",
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
    // openNotebook() settles the kernel's outputs and installs the Stop button's handler.
    if (i < 5) {
      assert.match(cellSource(firstCode), /^const nb = await openNotebook\(/m, `${name} opens`);
    }
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

Deno.test({
  name: noJupyter && !inCi
    ? `every notebook runs headless through the Deno kernel in quick mode (IGNORED: ${noJupyter}; ` +
      "apt-get install -y jupyter-nbconvert python3-nbclient)"
    : "every notebook runs headless through the Deno kernel in quick mode",
  ignore: noJupyter !== null && !inCi,
  fn: quickRun,
});

async function quickRun(): Promise<void> {
  const started = performance.now();
  const tmp = await Deno.makeTempDir({ prefix: "notebooks-run-" });
  try {
    const outputs = join(tmp, "outputs");
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(Deno.env.toObject())) {
      if (!/^(CARPLANE_|NOTEBOOK_QUICK$)/.test(key)) env[key] = value;
    }
    Object.assign(env, {
      CARPLANE_DATA_DIR: EMBEDDED_DATASET_DIR,
      CARPLANE_OUTPUTS_DIR: outputs,
      CARPLANE_BASE: "mobilenet",
    });
    const result = await runNotebooks({
      notebooksDir: NOTEBOOKS,
      outputDir: join(outputs, "notebooks"),
      quick: true,
      env,
      keepGoing: true,
      kernel: "temporary",
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
    assert.deepEqual(EXPECTED.map((n) => charts(executed[n])), [0, 2, 2, 3, 0, 2, 1]);
    assert.deepEqual(EXPECTED.map((n) => images(executed[n])), [2, 0, 0, 0, 2, 3, 0]);

    const text = Object.fromEntries(EXPECTED.map((n) => [n, outputText(executed[n])]));
    assert.match(text["01_data.ipynb"], /Found \d+ images belonging to 2 classes\./);
    assert.match(text["01_data.ipynb"], /QUICK MODE/);
    assert.match(text["02_baseline.ipynb"], /Total params: 813,217/);
    assert.match(text["02_baseline.ipynb"], /Epoch 2\/2/);
    assert.match(text["02_baseline.ipynb"], /val accuracy after 2 epochs: \d\.\d{3}/);
    assert.match(text["03_overfitting.ipynb"], /Loaded the baseline history \(2 epochs\)/);
    assert.match(text["03_overfitting.ipynb"], /EarlyStopping\(monitor="val_loss", patience=3/);
    assert.match(text["01_data.ipynb"], /Using the dataset in .*assets\/datasets\/car-plane/);
    assert.match(text["04_transfer.ipynb"], /base: mobilenet as asked/);
    assert.ok(text["04_transfer.ipynb"].includes(`weights: ${EMBEDDED_MOBILENET_DIR}`));
    assert.match(text["05_predictions.ipynb"], /Loaded the transfer model/);
    assert.match(text["05_predictions.ipynb"], /correctly predicted \d+ out of \d+ images/);
    assert.match(text["06_your_images.ipynb"], /Found 120 images belonging to 3 classes\./);
    assert.match(text["06_your_images.ipynb"], /3 classes, class_mode "categorical"/);
    assert.match(text["06_your_images.ipynb"], /true \\ predicted\s+circles\s+squares\s+triangles/);
    assert.match(text["07_beyond.ipynb"], /Seed 43: fine-tuning/);
    assert.match(
      text["07_beyond.ipynb"],
      /QUICK MODE: a few steps per model; these verdicts mean nothing\./,
    );
    assert.match(
      text["07_beyond.ipynb"],
      /over 2 seeds: mean ± sd \[min–max\] \| baseline \| transfer \| fine-tuned \|/,
    );
    assert.match(
      text["07_beyond.ipynb"],
      /(HELD|MIXED|NOT HELD) \(\d\/2\): transfer's final val_loss is lower/,
    );
    for (
      const file of ["models/baseline/model.json", "models/transfer/model.json", "history.csv"]
    ) {
      assert.ok(await exists(join(outputs, file)), `${file} written`);
    }
    console.log(`notebooks quick run: ${((performance.now() - started) / 1000).toFixed(1)}s`);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}
