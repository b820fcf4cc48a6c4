/**
 * `deno task notebooks [--html] [--quick] [--only NAMES]`: executes the notebooks in
 * `notebooks/` in order through the Deno Jupyter kernel (headless nbconvert), writes the
 * executed copies (and HTML) to `<outputs>/notebooks/`, and checks them: no errors, and every
 * chart shown as vega-lite and PNG. Exits non-zero naming the notebook and cell on failure.
 *
 * @module
 */
import { join, resolve } from "node:path";
import { parseFlags, positiveInt, UsageError } from "./_args.ts";
import { runMain } from "./_main.ts";
import { projectPaths } from "../lib/mod.ts";
import { formatProblem, runNotebooks } from "../tools/notebook_runner.ts";

const USAGE = `usage: deno task notebooks [--html] [--quick] [--only NAMES] [--timeout SECONDS]

Executes notebooks/*.ipynb in order with jupyter nbconvert and the Deno kernel (the sources
are not changed); executed copies go to <outputs>/notebooks/.

  --html            also write HTML copies of the executed notebooks
  --quick           NOTEBOOK_QUICK=1 for the kernels: 2 epochs x 2 steps (a smoke run)
  --only NAMES      run only these notebooks: file names or numbers, comma-separated (02,05)
  --timeout S       per-cell time limit in seconds (default 600 quick, 3600 full)
  --keep-going      run the remaining notebooks after one fails
  --out DIR         where executed notebooks go (default <outputs>/notebooks)
  --jupyter PATH    the jupyter executable (default /usr/bin/jupyter)

The kernels see this process's environment: CARPLANE_DATA_DIR, CARPLANE_OUTPUTS_DIR,
CARPLANE_BASE (vgg16 | mobilenet | none), CARPLANE_WEIGHTS (path, URL or none),
CARPLANE_MODE, CARPLANE_PREPROCESSING, CARPLANE_CACHE_DIR, CARPLANE_BACKEND. Relative paths
are taken from the directory you run the command in.
Needs: apt-get install -y jupyter-nbconvert python3-nbclient python3-jupyter-client. Uses the Deno
kernel registered in Jupyter (deno jupyter --install --force), or registers one for the run only
when there is none.`;

async function main(args: string[]): Promise<number> {
  const { flags, positionals } = parseFlags(
    args,
    {
      html: { type: "boolean" },
      quick: { type: "boolean" },
      only: { type: "string" },
      timeout: { type: "string" },
      "keep-going": { type: "boolean" },
      out: { type: "string" },
      jupyter: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    USAGE,
    { positionals: true },
  );
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length > 0) {
    throw new UsageError(`Unexpected argument "${positionals[0]}"; use --only NAME.`, USAGE);
  }
  // `deno task` runs in the project root; INIT_CWD is where the user typed the command.
  const cwd = Deno.env.get("INIT_CWD") ?? Deno.cwd();
  const paths = projectPaths();
  const outputs = resolve(cwd, paths.outputs);
  const only = typeof flags.only === "string"
    ? flags.only.split(",").map((s) => s.trim()).filter((s) => s !== "")
    : [];
  const started = performance.now();
  const result = await runNotebooks({
    notebooksDir: join(paths.root, "notebooks"),
    outputDir: flags.out ? resolve(cwd, flags.out as string) : join(outputs, "notebooks"),
    only,
    quick: flags.quick === true,
    html: flags.html === true,
    timeoutSeconds: positiveInt(flags.timeout, "--timeout", USAGE),
    keepGoing: flags["keep-going"] === true,
    jupyter: typeof flags.jupyter === "string" ? flags.jupyter : undefined,
    cwd,
  });
  const seconds = (performance.now() - started) / 1000;
  const passed = result.runs.filter((r) => r.problems.length === 0).length;
  console.log(
    `\n${passed} passed, ${result.runs.length - passed} failed (${seconds.toFixed(0)}s)` +
      (result.runs.length < result.planned
        ? `; stopped after the first failure, ${result.planned - result.runs.length} not run ` +
          "(--keep-going runs them)"
        : ""),
  );
  if (!result.ok) {
    for (const p of result.problems) console.error(`error: ${formatProblem(p)}`);
    return 1;
  }
  return 0;
}

if (import.meta.main) await runMain(() => main(Deno.args));
