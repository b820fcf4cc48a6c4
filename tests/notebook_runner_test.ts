import assert from "node:assert/strict";
import { join } from "node:path";
import {
  cellSource,
  checkCommittedNotebook,
  checkExecutedNotebook,
  checkJupyter,
  formatProblem,
  installTemporaryKernel,
  JUPYTER_INSTALL_HINT,
  JupyterMissingError,
  kernelEnv,
  listNotebooks,
  type Notebook,
  type NotebookCell,
  NotebookRunnerError,
  problemFromNbconvertError,
  runNotebooks,
  stripAnsi,
} from "../tools/notebook_runner.ts";
import { withTempDir } from "./fixtures.ts";

const KERNELSPEC = { display_name: "Deno", language: "typescript", name: "deno" };

function notebook(cells: NotebookCell[], metadata: Record<string, unknown> = {}): Notebook {
  return {
    cells,
    metadata: { kernelspec: KERNELSPEC, language_info: { name: "typescript" }, ...metadata },
    nbformat: 4,
    nbformat_minor: 5,
  };
}

function code(id: string, source: string, extra: Partial<NotebookCell> = {}): NotebookCell {
  return {
    cell_type: "code",
    id,
    source,
    metadata: {},
    execution_count: null,
    outputs: [],
    ...extra,
  };
}

const md = (id: string, source: string): NotebookCell => ({ cell_type: "markdown", id, source });

const BOTH = {
  "application/vnd.vegalite.v5+json": { mark: "line" },
  "image/png": "iVBORw0KGgo=",
  "text/plain": "Model Loss",
};

Deno.test("checkCommittedNotebook wants no outputs, no counts, the Deno kernelspec and TypeScript", () => {
  assert.deepEqual(
    checkCommittedNotebook(notebook([md("a", "# x"), code("b", "1")]), "ok.ipynb"),
    [],
  );
  const bad = notebook(
    [
      md("intro", "# x"),
      code("run", "1", {
        execution_count: 3,
        outputs: [{ output_type: "stream", name: "stdout", text: "1" }],
      }),
    ],
    {
      kernelspec: { display_name: "Python 3", language: "python", name: "python3" },
      language_info: { name: "python" },
    },
  );
  const problems = checkCommittedNotebook(bad, "bad.ipynb").map(formatProblem);
  assert.equal(problems.length, 4);
  assert.match(problems[0], /^bad\.ipynb: kernelspec is .*python3.*; it must be .*"name":"deno"/);
  assert.match(
    problems[1],
    /^bad\.ipynb: language_info\.name is "python"; it must be "typescript"/,
  );
  assert.match(
    problems[2],
    /^bad\.ipynb, cell 2 \(id "run"\): has 1 output\(s\); commit notebooks/,
  );
  assert.match(problems[3], /cell 2 \(id "run"\): has execution_count 3/);
});

Deno.test("checkExecutedNotebook names cells with errors, error text on stderr and incomplete charts", () => {
  const nb = notebook([
    md("intro", "# 2. The baseline"),
    code("fine", "console.log(1)", {
      execution_count: 1,
      outputs: [
        { output_type: "stream", name: "stdout", text: ["Error rates are low\n"] },
        { output_type: "stream", name: "stderr", text: ["warning: slow backend\n"] },
      ],
    }),
    code("raises", "throw new TypeError('boom')", {
      execution_count: 2,
      outputs: [{ output_type: "error", ename: "TypeError", evalue: "boom\nmore", traceback: [] }],
    }),
    code("stderr", "x()", {
      execution_count: 3,
      outputs: [{
        output_type: "stream",
        name: "stderr",
        text: "\x1b[31merror\x1b[0m: Uncaught (in promise) ModelLoadError: no model.json\n",
      }],
    }),
    code("chart-ok", "await chartDisplay(lossChartSpec(h))", {
      execution_count: 4,
      outputs: [{ output_type: "execute_result", data: BOTH }],
    }),
    code("chart-no-png", "await chartDisplay(accuracyChartSpec(h))", {
      execution_count: 5,
      outputs: [{
        output_type: "execute_result",
        data: { "application/vnd.vegalite.v5+json": {}, "text/plain": "x" },
      }],
    }),
    code("chart-nothing", "import { chartDisplay } from 'x';\nawait chartDisplay(spec)", {
      execution_count: 6,
    }),
    code("image", "imageDisplay(png)", { execution_count: 7 }),
    code("comment", "// chartDisplay( is explained elsewhere\n1", { execution_count: 8 }),
    code("skipped", "1 + 1"),
    code("blank", "  \n"),
  ]);
  const problems = checkExecutedNotebook(nb, "02_baseline.ipynb");
  assert.deepEqual(problems.map((p) => [p.cell, p.cellId]), [
    [3, "raises"],
    [4, "stderr"],
    [6, "chart-no-png"],
    [7, "chart-nothing"],
    [8, "image"],
    [10, "skipped"],
  ]);
  const text = problems.map(formatProblem);
  assert.equal(text[0], '02_baseline.ipynb, cell 3 (id "raises"): raised TypeError: boom');
  assert.equal(
    text[1],
    '02_baseline.ipynb, cell 4 (id "stderr"): printed an error on stderr: error: Uncaught ' +
      "(in promise) ModelLoadError: no model.json",
  );
  assert.match(
    text[2],
    /calls chartDisplay\( but did not show a chart with both .*image\/png \(showed: application\/vnd\.vegalite\.v5\+json \+ text\/plain\)/,
  );
  assert.match(text[3], /no chart output/);
  assert.match(text[4], /calls imageDisplay\( but showed no image\/png/);
  assert.match(text[5], /was not executed/);
});

const NBCONVERT_FAILURE = `Traceback (most recent call last):
  File "/usr/lib/python3/dist-packages/nbclient/client.py", line 915, in _check_raise_for_error
    raise CellExecutionError.from_cell_and_msg(cell, exec_reply_content)
nbclient.exceptions.CellExecutionError: An error occurred while executing the following cell:
------------------
import { chartDisplay } from "../lib/report/charts.ts";
const h = load();
------------------

TypeError: Import "sharp" not a dependency
  \x1b[0m\x1b[36mhint:\x1b[0m If you want to use the npm package, try running \`deno add npm:sharp\`
    at \x1b[0m\x1b[36mfile:///work/main/lib/charts.ts\x1b[0m:24:19
TypeError: Import "sharp" not a dependency
`;

Deno.test("problemFromNbconvertError finds the failing cell by its source", () => {
  const nb = notebook([
    md("intro", "# x"),
    code("first", "1"),
    code("charts", 'import { chartDisplay } from "../lib/report/charts.ts";\nconst h = load();\n'),
  ]);
  assert.equal(
    formatProblem(problemFromNbconvertError(NBCONVERT_FAILURE, nb, "02_baseline.ipynb")),
    '02_baseline.ipynb, cell 3 (id "charts"): raised TypeError: Import "sharp" not a dependency',
  );
  const elsewhere = problemFromNbconvertError(NBCONVERT_FAILURE, notebook([]), "x.ipynb");
  assert.equal(elsewhere.cell, null);
  assert.match(elsewhere.message, /a cell starting "import \{ chartDisplay \}.*" raised TypeError/);
  const timeout = problemFromNbconvertError(
    "nbclient.exceptions.CellTimeoutError: A cell timed out while it was being executed, after " +
      "600 seconds.\nThe message was: Cell execution timed out.\nHere is a preview of the cell " +
      "contents:\n-------------------\nconst h = load();\n-------------------\n",
    nb,
    "02_baseline.ipynb",
  );
  assert.equal(timeout.cell, 3);
  assert.match(timeout.message, /timed out after 600 s; raise the limit with --timeout/);
  assert.match(
    problemFromNbconvertError("nbclient.exceptions.DeadKernelError: Kernel died", nb, "a").message,
    /the Deno kernel died/,
  );
  assert.match(
    problemFromNbconvertError(
      "jupyter_client.kernelspec.NoSuchKernel: No such kernel named deno",
      nb,
      "a",
    )
      .message,
    /deno jupyter --install/,
  );
  assert.match(
    problemFromNbconvertError("something\nelse went wrong\n", nb, "a").message,
    /^nbconvert failed:\nsomething\nelse went wrong$/,
  );
});

Deno.test("kernelEnv sets quick mode and makes the CARPLANE_* paths absolute", () => {
  const env = kernelEnv({
    HOME: "/root",
    CARPLANE_DATA_DIR: "../shared/datasets/car-plane",
    CARPLANE_OUTPUTS_DIR: "/abs/outputs",
    CARPLANE_WEIGHTS: "../shared/models/m",
    CARPLANE_CACHE_DIR: ".cache",
    CARPLANE_BASE: "mobilenet",
  }, { quick: true, cwd: "/work/main" });
  assert.deepEqual(env, {
    HOME: "/root",
    CARPLANE_DATA_DIR: "/work/shared/datasets/car-plane",
    CARPLANE_OUTPUTS_DIR: "/abs/outputs",
    CARPLANE_WEIGHTS: "/work/shared/models/m",
    CARPLANE_CACHE_DIR: "/work/main/.cache",
    CARPLANE_BASE: "mobilenet",
    NOTEBOOK_QUICK: "1",
  });
  const kept = kernelEnv({ CARPLANE_WEIGHTS: "none" }, { quick: false, cwd: "/x" });
  assert.deepEqual(kept, { CARPLANE_WEIGHTS: "none" });
  assert.equal(
    kernelEnv({ CARPLANE_WEIGHTS: "https://example.org/m/model.json" }, { quick: false, cwd: "/x" })
      .CARPLANE_WEIGHTS,
    "https://example.org/m/model.json",
  );
});

Deno.test("listNotebooks lists the numbered notebooks in order and picks by name or number", async () => {
  await withTempDir(async (dir) => {
    for (const name of ["02_b.ipynb", "01_a.ipynb", "_scratch.ipynb", ".hidden.ipynb", "x.txt"]) {
      await Deno.writeTextFile(join(dir, name), "{}");
    }
    assert.deepEqual(await listNotebooks(dir), [join(dir, "01_a.ipynb"), join(dir, "02_b.ipynb")]);
    assert.deepEqual(await listNotebooks(dir, ["02"]), [join(dir, "02_b.ipynb")]);
    assert.deepEqual(await listNotebooks(dir, ["02_b.ipynb", "01_a"]), [
      join(dir, "01_a.ipynb"),
      join(dir, "02_b.ipynb"),
    ]);
    await assert.rejects(
      listNotebooks(dir, ["09"]),
      /--only 09 matches no notebook; choose from: 01_a\.ipynb, 02_b\.ipynb/,
    );
    await Deno.writeTextFile(join(dir, "01_c.ipynb"), "{}");
    await assert.rejects(listNotebooks(dir, ["01"]), /--only 01 is ambiguous/);
    await assert.rejects(listNotebooks(join(dir, "nope")), NotebookRunnerError);
  });
});

Deno.test("cellSource and stripAnsi", () => {
  assert.equal(cellSource({ source: ["a\n", "b"] }), "a\nb");
  assert.equal(cellSource({ source: "a" }), "a");
  assert.equal(stripAnsi("\x1b[0m\x1b[31merror\x1b[0m: x"), "error: x");
});

/**
 * A stand-in `jupyter` (bash): `--paths --json` lists `$JUPYTER_PATH`'s folders, then `$DATA`,
 * as the data folders (Jupyter's order); `nbconvert
 * --version` prints 6.5.3; `nbconvert --execute` copies `$EXECUTED/<name>` to the output folder
 * or, without one, prints an nbclient failure and exits 1; `--to html` writes a stub.
 */
async function fakeJupyter(dir: string): Promise<string> {
  const path = join(dir, "jupyter");
  await Deno.writeTextFile(
    path,
    `#!/usr/bin/env bash
if [ "$1" = "--paths" ]; then
  dirs=""; IFS=: read -ra parts <<< "$JUPYTER_PATH"
  for p in "\${parts[@]}"; do [ -n "$p" ] && dirs="$dirs\\"$p\\", "; done
  echo "{\\"data\\": [$dirs\\"$DATA\\"]}"; exit 0
fi
if [ "$1" = "nbconvert" ] && [ "$2" = "--version" ]; then echo 6.5.3; exit 0; fi
out=""; to=""; prev=""
for a in "$@"; do
  if [ "$prev" = "--output-dir" ]; then out="$a"; fi
  if [ "$prev" = "--to" ]; then to="$a"; fi
  prev="$a"; last="$a"
done
name=$(basename "$last")
echo "NOTEBOOK_QUICK=$NOTEBOOK_QUICK CARPLANE_DATA_DIR=$CARPLANE_DATA_DIR" >> "$LOG"
if [ "$to" = "html" ]; then echo "<html></html>" > "$out/\${name%.ipynb}.html"; exit 0; fi
if [ -f "$EXECUTED/$name" ]; then cp "$EXECUTED/$name" "$out/$name"; exit 0; fi
printf 'nbclient.exceptions.CellExecutionError: An error occurred while executing the following cell:\\n------------------\\nboom()\\n------------------\\n\\nReferenceError: boom is not defined\\n' >&2
exit 1
`,
  );
  await Deno.chmod(path, 0o755);
  return path;
}

Deno.test("checkJupyter finds nbconvert and the Deno kernelspec, or says how to install them", async () => {
  await withTempDir(async (dir) => {
    const missing = await checkJupyter({ jupyter: join(dir, "no-jupyter") }).catch((e) => e);
    assert.ok(missing instanceof JupyterMissingError);
    assert.match(missing.message, /Cannot run .*no-jupyter/);
    assert.ok(missing.message.endsWith(JUPYTER_INSTALL_HINT));
    assert.match(JUPYTER_INSTALL_HINT, /apt-get install -y jupyter-nbconvert python3-nbclient/);
    assert.match(JUPYTER_INSTALL_HINT, /deno jupyter --install --force/);
    const jupyter = await fakeJupyter(dir);
    const env = { ...Deno.env.toObject(), DATA: join(dir, "data") };
    await assert.rejects(
      checkJupyter({ jupyter, env }),
      (e: unknown) =>
        e instanceof JupyterMissingError && /no "deno" kernelspec/.test(e.message) &&
        e.message.includes("deno jupyter --install --force"),
    );
    await Deno.mkdir(join(dir, "data", "kernels", "deno"), { recursive: true });
    await Deno.writeTextFile(join(dir, "data", "kernels", "deno", "kernel.json"), "{}");
    const setup = await checkJupyter({ jupyter, env });
    assert.equal(setup.nbconvertVersion, "6.5.3");
    assert.equal(setup.kernelJson, join(dir, "data", "kernels", "deno", "kernel.json"));
    assert.equal(setup.temporaryKernel, false);
    assert.equal(setup.env, env);
  });
});

Deno.test("installTemporaryKernel registers the Deno kernel in a folder of its own, twice over", async () => {
  await withTempDir(async (dir) => {
    const env: Record<string, string> = { ...Deno.env.toObject(), JUPYTER_PATH: "/somewhere/else" };
    const first = await installTemporaryKernel(join(dir, "k"), { env });
    assert.equal(first.dataDir, join(dir, "k", "jupyter"));
    assert.equal(first.kernelJson, join(dir, "k", "jupyter", "kernels", "deno", "kernel.json"));
    const spec = JSON.parse(await Deno.readTextFile(first.kernelJson));
    // the kernel starts this deno (maybe through a symlink, as /usr/bin/deno)
    assert.equal(Deno.realPathSync(spec.argv[0]), Deno.realPathSync(Deno.execPath()));
    assert.deepEqual(spec.argv.slice(1, 3), ["jupyter", "--kernel"]);
    assert.equal(spec.language, "typescript");
    // Jupyter looks there first, then where it looked before
    assert.equal(first.env.JUPYTER_PATH, `${first.dataDir}:/somewhere/else`);
    assert.equal(first.env.HOME, env.HOME);
    // a second time over an existing kernelspec: --force, so no "already exists" failure
    const second = await installTemporaryKernel(join(dir, "k"), { env });
    assert.equal(second.kernelJson, first.kernelJson);
    await assert.rejects(
      installTemporaryKernel(join(dir, "k2"), { env, deno: join(dir, "no-deno") }),
      (e: unknown) => e instanceof NotebookRunnerError && /Cannot run .*no-deno/.test(e.message),
    );
  });
});

Deno.test("checkJupyter registers a temporary kernel where Jupyter has none, or always if asked", async () => {
  await withTempDir(async (dir) => {
    const jupyter = await fakeJupyter(dir);
    const { JUPYTER_PATH: _, ...rest } = Deno.env.toObject();
    const env = { ...rest, DATA: join(dir, "data") };
    const setup = await checkJupyter({ jupyter, env, temporaryKernelDir: join(dir, "tmp") });
    assert.equal(setup.temporaryKernel, true);
    assert.equal(setup.kernelJson, join(dir, "tmp", "jupyter", "kernels", "deno", "kernel.json"));
    assert.equal(setup.env.JUPYTER_PATH, join(dir, "tmp", "jupyter"));
    // the user's own kernelspec is used as it is, unless a temporary one is asked for
    await Deno.mkdir(join(dir, "data", "kernels", "deno"), { recursive: true });
    await Deno.writeTextFile(join(dir, "data", "kernels", "deno", "kernel.json"), "{}");
    const users = await checkJupyter({ jupyter, env, temporaryKernelDir: join(dir, "tmp2") });
    assert.equal(users.temporaryKernel, false);
    assert.equal(await Deno.stat(join(dir, "tmp2")).then(() => true, () => false), false);
    const always = await checkJupyter({
      jupyter,
      env,
      temporaryKernelDir: join(dir, "tmp3"),
      alwaysTemporaryKernel: true,
    });
    assert.equal(always.kernelJson, join(dir, "tmp3", "jupyter", "kernels", "deno", "kernel.json"));
    assert.equal(
      await Deno.readTextFile(join(dir, "data", "kernels", "deno", "kernel.json")),
      "{}",
    );
  });
});

Deno.test("runNotebooks executes in order, checks each result and stops at the first failure", async () => {
  await withTempDir(async (dir) => {
    const jupyter = await fakeJupyter(dir);
    await Deno.mkdir(join(dir, "data", "kernels", "deno"), { recursive: true });
    await Deno.writeTextFile(join(dir, "data", "kernels", "deno", "kernel.json"), "{}");
    const sources = join(dir, "notebooks");
    const executed = join(dir, "executed");
    await Deno.mkdir(sources);
    await Deno.mkdir(executed);
    const chart = code("loss", "await chartDisplay(spec)");
    for (const name of ["01_a.ipynb", "02_b.ipynb", "03_c.ipynb"]) {
      await Deno.writeTextFile(join(sources, name), JSON.stringify(notebook([chart])));
    }
    const ran = (data: Record<string, unknown>) =>
      JSON.stringify(
        notebook([{
          ...chart,
          execution_count: 1,
          outputs: [{ output_type: "execute_result", data }],
        }]),
      );
    await Deno.writeTextFile(join(executed, "01_a.ipynb"), ran(BOTH));
    await Deno.writeTextFile(join(executed, "02_b.ipynb"), ran({ "text/plain": "x" }));
    const env = {
      ...Deno.env.toObject(),
      DATA: join(dir, "data"),
      EXECUTED: executed,
      LOG: join(dir, "log.txt"),
      CARPLANE_DATA_DIR: "data-here",
    };
    const lines: string[] = [];
    const options = {
      notebooksDir: sources,
      outputDir: join(dir, "out"),
      quick: true,
      env,
      cwd: "/project",
      jupyter,
      log: (l: string) => lines.push(l),
    };
    const result = await runNotebooks(options);
    assert.equal(result.ok, false);
    assert.equal(result.planned, 3);
    assert.deepEqual(result.runs.map((r) => [r.name, r.problems.length]), [
      ["01_a.ipynb", 0],
      ["02_b.ipynb", 1],
    ]);
    assert.match(
      formatProblem(result.problems[0]),
      /^02_b\.ipynb, cell 1 \(id "loss"\): calls chartDisplay\(/,
    );
    assert.match(lines.join("\n"), /ok 01_a\.ipynb in .* -> .*out\/01_a\.ipynb/);
    assert.doesNotMatch(lines.join("\n"), /registered/, "the kernelspec Jupyter has is used");
    assert.match(lines.join("\n"), /FAILED 02_b\.ipynb/);
    const log = await Deno.readTextFile(join(dir, "log.txt"));
    assert.match(log, /^NOTEBOOK_QUICK=1 CARPLANE_DATA_DIR=\/project\/data-here$/m);

    // keep going: the third notebook's execution fails inside a cell, named from stderr
    await Deno.writeTextFile(
      join(sources, "03_c.ipynb"),
      JSON.stringify(notebook([code("c", "boom()")])),
    );
    const all = await runNotebooks({ ...options, keepGoing: true, html: true });
    assert.equal(all.runs.length, 3);
    assert.equal(all.runs[0].html, join(dir, "out", "01_a.html"));
    assert.equal(
      formatProblem(all.problems[1]),
      '03_c.ipynb, cell 1 (id "c"): raised ReferenceError: boom is not defined',
    );
    assert.equal(all.runs[2].executed, undefined);
    const only = await runNotebooks({ ...options, only: ["01"] });
    assert.equal(only.ok, true);
    assert.deepEqual(only.runs.map((r) => r.name), ["01_a.ipynb"]);
  });
});

Deno.test("deno task notebooks: --help, bad flags, and a clear install hint without Jupyter", async () => {
  const cli = new URL("../cli/notebooks.ts", import.meta.url).pathname;
  const run = async (...args: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", cli, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const d = new TextDecoder();
    return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
  };
  const help = await run("--help");
  assert.equal(help.code, 0);
  assert.match(help.stdout, /usage: deno task notebooks \[--html\] \[--quick\]/);
  const bad = await run("--fast");
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /error: .*fast/);
  const missing = await run("--quick", "--jupyter", "/nonexistent/jupyter");
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /error: Cannot run \/nonexistent\/jupyter/);
  assert.match(missing.stderr, /apt-get install -y jupyter-nbconvert python3-nbclient/);
  assert.match(missing.stderr, /deno jupyter --install --force/);
});

Deno.test("runNotebooks registers the Deno kernel for the run when Jupyter has none, then removes it", async () => {
  await withTempDir(async (dir) => {
    const jupyter = await fakeJupyter(dir);
    const sources = join(dir, "notebooks");
    const executed = join(dir, "executed");
    await Deno.mkdir(sources);
    await Deno.mkdir(executed);
    const cell = code("a", "1");
    await Deno.writeTextFile(join(sources, "01_a.ipynb"), JSON.stringify(notebook([cell])));
    await Deno.writeTextFile(
      join(executed, "01_a.ipynb"),
      JSON.stringify(notebook([{ ...cell, execution_count: 1 }])),
    );
    const { JUPYTER_PATH: _, ...rest } = Deno.env.toObject();
    const lines: string[] = [];
    const result = await runNotebooks({
      notebooksDir: sources,
      outputDir: join(dir, "out"),
      env: { ...rest, DATA: join(dir, "data"), EXECUTED: executed, LOG: join(dir, "log.txt") },
      jupyter,
      log: (l) => lines.push(l),
    });
    assert.equal(result.ok, true);
    const said = lines.find((l) => /^Jupyter has no Deno kernelspec: registered one/.test(l));
    assert.ok(said, lines.join("\n"));
    assert.match(said, /deno jupyter --install --force/);
    const kernelJson = said.match(/\((\S+kernel\.json)\)/)![1];
    assert.equal(await Deno.stat(kernelJson).then(() => true, () => false), false, "removed");
    assert.equal(result.env.JUPYTER_PATH, undefined);
  });
});
