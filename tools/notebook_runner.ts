/**
 * Executes the project's notebooks headless through the real Deno Jupyter kernel
 * (`jupyter nbconvert --to notebook --execute`), and checks what they produced.
 *
 * - {@linkcode checkJupyter}: finds `jupyter nbconvert`, nbclient and the Deno kernelspec, or
 *   throws {@linkcode JupyterMissingError} with the install commands. Where Jupyter has no Deno
 *   kernelspec, {@linkcode installTemporaryKernel} registers one for the run in a temporary
 *   folder, leaving the user's Jupyter as it was.
 * - {@linkcode kernelEnv}: the environment the kernels get: the caller's, with `NOTEBOOK_QUICK=1`
 *   in quick mode and the `CARPLANE_*` paths made absolute (a kernel runs in `notebooks/`, so a
 *   relative path would mean something else there).
 * - {@linkcode executeNotebook} / {@linkcode convertToHtml}: one nbconvert run each; the source
 *   notebook is never modified, the executed copy goes to the output folder.
 * - {@linkcode checkCommittedNotebook}: a notebook as committed: no outputs, no execution
 *   counts, the Deno kernelspec, language TypeScript.
 * - {@linkcode checkExecutedNotebook}: an executed notebook: no error output, no error text on
 *   stderr, every chart cell (a `chartDisplay(` call) showed both its vega-lite spec and its PNG,
 *   every image cell (`imageDisplay(`) a PNG.
 * - {@linkcode runNotebooks}: all of it, in order, for `deno task notebooks` and the tests.
 *
 * Problems name the notebook and the cell (its 1-based position and its id).
 *
 * @module
 */
import { basename, isAbsolute, join, resolve } from "node:path";
import { CarplaneError } from "../lib/errors.ts";

/** Raised when the notebooks cannot be run; the message says what to do. */
export class NotebookRunnerError extends CarplaneError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "NotebookRunnerError";
  }
}

/** Raised when Jupyter, nbclient or the Deno kernelspec is missing; says how to install them. */
export class JupyterMissingError extends NotebookRunnerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(`${message}\n${JUPYTER_INSTALL_HINT}`, options);
    this.name = "JupyterMissingError";
  }
}

/** How to install what the notebooks need (Debian packages and Deno's kernelspec). */
export const JUPYTER_INSTALL_HINT =
  "Install Jupyter's headless runner and the Deno kernel with:\n" +
  "  apt-get install -y jupyter-nbconvert python3-nbclient python3-jupyter-client\n" +
  "  deno jupyter --install --force";

/** The `jupyter` the runner uses unless told otherwise. */
export const DEFAULT_JUPYTER = "/usr/bin/jupyter";

/** The kernelspec `deno jupyter --install` writes, as the notebooks' metadata names it. */
export const DENO_KERNELSPEC = Object.freeze({
  display_name: "Deno",
  language: "typescript",
  name: "deno",
});

/** One cell of an nbformat 4 notebook (the fields the runner reads). */
export interface NotebookCell {
  cell_type: "code" | "markdown" | "raw";
  id?: string;
  source: string | string[];
  metadata?: Record<string, unknown>;
  execution_count?: number | null;
  outputs?: NotebookOutput[];
}

/** One output of a code cell. */
export interface NotebookOutput {
  output_type: "stream" | "display_data" | "execute_result" | "error" | "update_display_data";
  name?: string;
  text?: string | string[];
  data?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
  traceback?: string[];
}

/** An nbformat 4 notebook. */
export interface Notebook {
  cells: NotebookCell[];
  metadata: Record<string, unknown>;
  nbformat: number;
  nbformat_minor: number;
}

/** Something wrong with a notebook, or with one of its cells. */
export interface NotebookProblem {
  /** The notebook's file name, e.g. `02_baseline.ipynb`. */
  notebook: string;
  /** 1-based position of the cell among all cells, or null for the notebook as a whole. */
  cell: number | null;
  /** The cell's id, when it has one. */
  cellId?: string;
  /** What is wrong. */
  message: string;
}

/**
 * One line naming the notebook and cell, e.g.
 * `02_baseline.ipynb, cell 7 (id "train"): raised TypeError: ...`.
 *
 * @example
 * ```ts
 * formatProblem({ notebook: "01_data.ipynb", cell: 3, cellId: "samples", message: "no PNG" });
 * // '01_data.ipynb, cell 3 (id "samples"): no PNG'
 * ```
 */
export function formatProblem(problem: NotebookProblem): string {
  const where = problem.cell === null
    ? problem.notebook
    : `${problem.notebook}, cell ${problem.cell}${
      problem.cellId ? ` (id "${problem.cellId}")` : ""
    }`;
  return `${where}: ${problem.message}`;
}

/**
 * A cell's source as one string (nbformat stores it as a string or a list of lines).
 *
 * @example
 * ```ts
 * cellSource({ cell_type: "code", source: ["a\n", "b"] }); // "a\nb"
 * ```
 */
export function cellSource(cell: Pick<NotebookCell, "source">): string {
  return Array.isArray(cell.source) ? cell.source.join("") : cell.source;
}

function textOf(value: string | string[] | undefined): string {
  return Array.isArray(value) ? value.join("") : value ?? "";
}

/**
 * Parses notebook JSON, checking it is nbformat 4 with a list of cells.
 *
 * @example
 * ```ts
 * const nb = parseNotebook(await Deno.readTextFile("notebooks/01_data.ipynb"), "01_data.ipynb");
 * ```
 */
export function parseNotebook(text: string, where: string): Notebook {
  let nb: Notebook;
  try {
    nb = JSON.parse(text);
  } catch (error) {
    throw new NotebookRunnerError(
      `${where} is not valid JSON (${
        error instanceof Error ? error.message : String(error)
      }); restore it from git or re-save it from Jupyter.`,
      { cause: error },
    );
  }
  if (!nb || typeof nb !== "object" || !Array.isArray(nb.cells) || nb.nbformat !== 4) {
    throw new NotebookRunnerError(
      `${where} is not an nbformat 4 notebook (expected {"nbformat": 4, "cells": [...]}); ` +
        "re-save it from Jupyter.",
    );
  }
  return nb;
}

/**
 * Reads and parses a notebook file.
 *
 * @example
 * ```ts
 * const nb = await readNotebook("outputs/notebooks/02_baseline.ipynb");
 * ```
 */
export async function readNotebook(path: string): Promise<Notebook> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new NotebookRunnerError(
      `Cannot read ${path}: ${error instanceof Error ? error.message : String(error)}.`,
      { cause: error },
    );
  }
  return parseNotebook(text, path);
}

function problemAt(
  notebook: string,
  nb: Notebook,
  index: number,
  message: string,
): NotebookProblem {
  const id = nb.cells[index]?.id;
  return { notebook, cell: index + 1, ...(id ? { cellId: id } : {}), message };
}

/**
 * Checks a notebook as it should be committed: every code cell without outputs and with
 * `execution_count: null`, the Deno kernelspec exactly as `deno jupyter --install` names it,
 * and `language_info.name` `"typescript"`.
 *
 * @example
 * ```ts
 * const problems = checkCommittedNotebook(nb, "01_data.ipynb");
 * for (const p of problems) console.log(formatProblem(p));
 * ```
 */
export function checkCommittedNotebook(nb: Notebook, name: string): NotebookProblem[] {
  const problems: NotebookProblem[] = [];
  const spec = nb.metadata?.kernelspec as Record<string, unknown> | undefined;
  if (
    !spec || spec.name !== DENO_KERNELSPEC.name ||
    spec.display_name !== DENO_KERNELSPEC.display_name ||
    spec.language !== DENO_KERNELSPEC.language
  ) {
    problems.push({
      notebook: name,
      cell: null,
      message: `kernelspec is ${JSON.stringify(spec ?? null)}; it must be ${
        JSON.stringify(DENO_KERNELSPEC)
      } (select the Deno kernel in Jupyter and save).`,
    });
  }
  const language = (nb.metadata?.language_info as Record<string, unknown> | undefined)?.name;
  if (language !== "typescript") {
    problems.push({
      notebook: name,
      cell: null,
      message: `language_info.name is ${
        JSON.stringify(language ?? null)
      }; it must be "typescript" (the Deno kernel's language).`,
    });
  }
  nb.cells.forEach((cell, i) => {
    if (cell.cell_type !== "code") return;
    if ((cell.outputs ?? []).length > 0) {
      problems.push(
        problemAt(
          name,
          nb,
          i,
          `has ${cell.outputs!.length} output(s); commit notebooks without outputs ` +
            "(Jupyter: Edit > Clear Outputs of All Cells, then save).",
        ),
      );
    }
    if (cell.execution_count !== null && cell.execution_count !== undefined) {
      problems.push(
        problemAt(
          name,
          nb,
          i,
          `has execution_count ${cell.execution_count}; clear outputs before committing.`,
        ),
      );
    }
  });
  return problems;
}

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;

/**
 * Removes terminal colour codes (Deno's tracebacks carry them).
 *
 * @example
 * ```ts
 * stripAnsi("\x1b[31merror\x1b[0m"); // "error"
 * ```
 */
export function stripAnsi(text: string): string {
  return text.replace(ANSI, "");
}

/** Text on stderr that means something failed (Deno's `error:` lines, `...Error` names). */
const STDERR_ERROR = /\berror:|Error\b|Uncaught\b/;

/** The MIME types a chart cell must show. */
export const CHART_MIME_TYPES = ["application/vnd.vegalite.v5+json", "image/png"] as const;

function firstLine(text: string, max = 200): string {
  const line = stripAnsi(text).split("\n").find((l) => l.trim() !== "") ?? "";
  return line.length > max ? line.slice(0, max - 1) + "…" : line;
}

/**
 * Checks an executed notebook: no `error` output, no error text (`error:`, `SomethingError`,
 * `Uncaught`) on stderr, every code cell executed, every cell calling `chartDisplay(` showed
 * a bundle with both `application/vnd.vegalite.v5+json` and `image/png`, and every cell
 * calling `imageDisplay(` showed an `image/png`.
 *
 * @example
 * ```ts
 * const problems = checkExecutedNotebook(await readNotebook(executedPath), "02_baseline.ipynb");
 * ```
 */
export function checkExecutedNotebook(nb: Notebook, name: string): NotebookProblem[] {
  const problems: NotebookProblem[] = [];
  nb.cells.forEach((cell, i) => {
    if (cell.cell_type !== "code") return;
    const source = cellSource(cell);
    const outputs = cell.outputs ?? [];
    if (
      source.trim() !== "" && (cell.execution_count === null || cell.execution_count === undefined)
    ) {
      problems.push(problemAt(name, nb, i, "was not executed."));
    }
    for (const out of outputs) {
      if (out.output_type === "error") {
        problems.push(
          problemAt(
            name,
            nb,
            i,
            `raised ${out.ename ?? "an error"}: ${firstLine(out.evalue ?? "")}`,
          ),
        );
      } else if (out.output_type === "stream" && out.name === "stderr") {
        const text = stripAnsi(textOf(out.text));
        const bad = text.split("\n").find((l) => STDERR_ERROR.test(l));
        if (bad !== undefined) {
          problems.push(problemAt(name, nb, i, `printed an error on stderr: ${firstLine(bad)}`));
        }
      }
    }
    const rich = outputs.filter((o) =>
      o.output_type === "display_data" || o.output_type === "execute_result"
    );
    const code = source.split("\n").filter((l) => !l.trim().startsWith("//")).join("\n");
    if (code.includes("chartDisplay(")) {
      const charts = rich.filter((o) => CHART_MIME_TYPES.some((m) => o.data?.[m] !== undefined));
      const complete = charts.filter((o) =>
        CHART_MIME_TYPES.every((m) => o.data?.[m] !== undefined)
      );
      if (complete.length === 0 || complete.length < charts.length) {
        const shown = charts.map((o) => Object.keys(o.data ?? {}).join(" + ")).join("; ");
        problems.push(
          problemAt(
            name,
            nb,
            i,
            `calls chartDisplay( but did not show a chart with both ${
              CHART_MIME_TYPES.join(" and ")
            } (${shown ? `showed: ${shown}` : "no chart output"}); make the awaited ` +
              "chartDisplay(spec) the cell's last expression.",
          ),
        );
      }
    }
    if (code.includes("imageDisplay(") && !rich.some((o) => o.data?.["image/png"] !== undefined)) {
      problems.push(
        problemAt(
          name,
          nb,
          i,
          "calls imageDisplay( but showed no image/png; make imageDisplay(png) the cell's last " +
            "expression.",
        ),
      );
    }
  });
  return problems;
}

/**
 * The problem nbconvert's failure output describes: the cell that raised (found by its source,
 * which nbclient prints between dashed lines) and the error, or a timeout or a dead kernel.
 *
 * @example
 * ```ts
 * const problem = problemFromNbconvertError(stderr, notebook, "02_baseline.ipynb");
 * console.error(formatProblem(problem));
 * ```
 */
export function problemFromNbconvertError(
  stderr: string,
  nb: Notebook,
  name: string,
): NotebookProblem {
  const text = stripAnsi(stderr);
  const findCell = (snippet: string): number => {
    const wanted = snippet.trim();
    if (wanted === "") return -1;
    const exact = nb.cells.findIndex((c) =>
      c.cell_type === "code" && cellSource(c).trim() === wanted
    );
    if (exact >= 0) return exact;
    return nb.cells.findIndex((c) => c.cell_type === "code" && cellSource(c).includes(wanted));
  };
  const failed = text.match(
    /CellExecutionError: An error occurred while executing the following cell:\n-{10,}\n([\s\S]*?)\n-{10,}\n([\s\S]*)$/,
  );
  if (failed) {
    const index = findCell(failed[1]);
    const lines = failed[2].split("\n").map((l) => l.trimEnd()).filter((l) => l.trim() !== "");
    const error = lines.find((l) => /^\w*(Error|Exception)\b|^error:/.test(l.trim())) ??
      lines[0] ?? "an error";
    const message = `raised ${error.trim()}`;
    return index >= 0 ? problemAt(name, nb, index, message) : {
      notebook: name,
      cell: null,
      message: `a cell starting "${firstLine(failed[1])}" ${message}`,
    };
  }
  const timeout = text.match(/timed out[^\n]*?after (\d+) seconds/);
  if (timeout) {
    const preview = text.match(/preview of the cell contents:\n-{5,}\n([\s\S]*?)\n-{5,}/);
    const index = preview ? findCell(preview[1].split("\n")[0]) : -1;
    const message = `timed out after ${timeout[1]} s; raise the limit with --timeout SECONDS ` +
      "(a full run trains for minutes on CPU).";
    return index >= 0
      ? problemAt(name, nb, index, message)
      : { notebook: name, cell: null, message: `a cell ${message}` };
  }
  if (/DeadKernelError|Kernel died/i.test(text)) {
    return {
      notebook: name,
      cell: null,
      message: "the Deno kernel died (out of memory, or crashed); run the notebook in Jupyter " +
        "to see where.",
    };
  }
  if (/No module named '?nbclient|No module named '?nbconvert/.test(text)) {
    return {
      notebook: name,
      cell: null,
      message: `nbconvert cannot execute.\n${JUPYTER_INSTALL_HINT}`,
    };
  }
  if (/NoSuchKernel|No such kernel/i.test(text)) {
    return {
      notebook: name,
      cell: null,
      message: `Jupyter has no Deno kernel.\n${JUPYTER_INSTALL_HINT}`,
    };
  }
  const tail = text.split("\n").filter((l) => l.trim() !== "").slice(-5).join("\n");
  return { notebook: name, cell: null, message: `nbconvert failed:\n${tail}` };
}

/** What {@linkcode checkJupyter} found. */
export interface JupyterSetup {
  /** The `jupyter` executable. */
  jupyter: string;
  /** nbconvert's version. */
  nbconvertVersion: string;
  /** The kernelspec's name (`deno`). */
  kernelName: string;
  /** The kernelspec's `kernel.json`. */
  kernelJson: string;
  /** True when the kernelspec was registered for this run only (see `temporaryKernelDir`). */
  temporaryKernel: boolean;
  /** The environment to run nbconvert with: finds the temporary kernelspec, when there is one. */
  env: Record<string, string>;
  /** The Python that runs `jupyter` (its shebang's), with nbclient and jupyter_client. */
  python: string;
}

/** Options for {@linkcode checkJupyter}. */
export interface CheckJupyterOptions {
  /** The `jupyter` executable. Default `/usr/bin/jupyter`. */
  jupyter?: string;
  /** The kernelspec to look for. Default `deno`. */
  kernelName?: string;
  /** The environment `jupyter` runs with (JUPYTER_PATH, HOME, ...). Default this process's. */
  env?: Record<string, string>;
  /**
   * An empty folder where, when Jupyter has no Deno kernelspec, one is registered for this run
   * ({@linkcode installTemporaryKernel}). Without it a missing kernelspec is an error.
   */
  temporaryKernelDir?: string;
  /** Register the temporary kernelspec even when Jupyter has one (tests: not the user's). */
  alwaysTemporaryKernel?: boolean;
  /** The `deno` that `deno jupyter --install` runs. Default this one. */
  deno?: string;
}

async function run(
  command: string,
  args: string[],
  env?: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(command, {
    args,
    env,
    clearEnv: env !== undefined,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

async function pythonOf(jupyter: string): Promise<string | null> {
  try {
    const file = await Deno.open(jupyter);
    try {
      const buffer = new Uint8Array(256);
      const n = await file.read(buffer) ?? 0;
      const line = new TextDecoder().decode(buffer.subarray(0, n)).split("\n")[0];
      const match = line.match(/^#!\s*(\S*python[\w.]*)\s*$/);
      return match ? match[1] : null;
    } finally {
      file.close();
    }
  } catch {
    return null;
  }
}

/**
 * Checks that `jupyter nbconvert` runs and that its Python has nbclient, i.e. that Jupyter can
 * execute notebooks headless; throws {@linkcode JupyterMissingError} (with the install
 * commands) otherwise. The Deno kernelspec is {@linkcode checkJupyter}'s business.
 *
 * @example
 * ```ts
 * const { nbconvertVersion } = await checkNbconvert();
 * ```
 */
export async function checkNbconvert(
  options: Pick<CheckJupyterOptions, "jupyter" | "env"> = {},
): Promise<{ jupyter: string; nbconvertVersion: string; python: string }> {
  const jupyter = options.jupyter ?? DEFAULT_JUPYTER;
  let version;
  try {
    version = await run(jupyter, ["nbconvert", "--version"], options.env);
  } catch (error) {
    throw new JupyterMissingError(
      `Cannot run ${jupyter} (${error instanceof Error ? error.message : String(error)}).`,
      { cause: error },
    );
  }
  if (version.code !== 0) {
    throw new JupyterMissingError(
      `${jupyter} nbconvert does not run: ${firstLine(version.stderr || version.stdout)}`,
    );
  }
  const python = await pythonOf(jupyter);
  if (python) {
    const nbclient = await run(python, ["-c", "import nbclient"], options.env).catch(() => null);
    if (nbclient && nbclient.code !== 0) {
      throw new JupyterMissingError(
        `nbconvert cannot execute notebooks: ${python} has no nbclient module.`,
      );
    }
  }
  return { jupyter, nbconvertVersion: version.stdout.trim(), python: python ?? "python3" };
}

async function findKernelspec(
  jupyter: string,
  kernelName: string,
  env: Record<string, string> | undefined,
): Promise<{ kernelJson?: string; dataDirs: string[] }> {
  const paths = await run(jupyter, ["--paths", "--json"], env);
  let dataDirs: string[] = [];
  try {
    dataDirs = JSON.parse(paths.stdout).data ?? [];
  } catch {
    dataDirs = [];
  }
  for (const dir of dataDirs) {
    const kernelJson = join(dir, "kernels", kernelName, "kernel.json");
    try {
      await Deno.stat(kernelJson);
      return { kernelJson, dataDirs };
    } catch {
      // not in this folder
    }
  }
  return { dataDirs };
}

/**
 * Registers the Deno kernelspec in `dir` with `deno jupyter --install --force`, not in the
 * user's Jupyter, and returns the Jupyter data folder it is in (`dir/jupyter`) and the
 * environment in which Jupyter finds it there first (`JUPYTER_PATH`).
 *
 * `deno jupyter --install` (Deno 2.9.6, measured) ignores `JUPYTER_DATA_DIR` and `JUPYTER_PATH`:
 * it writes to `$XDG_DATA_HOME/jupyter/kernels/deno` on Linux, or to
 * `$DENO_TEST_JUPYTER_PATH/kernels/deno` on any system. Both are set to lead to `dir/jupyter`.
 * Without `--force` it exits 1 with a backtrace when the kernelspec is already there.
 *
 * @example
 * ```ts
 * const dir = await Deno.makeTempDir();
 * const { env } = await installTemporaryKernel(dir, { env: Deno.env.toObject() });
 * // run `jupyter nbconvert --execute` with env: it finds the "deno" kernel in dir/jupyter
 * ```
 */
export async function installTemporaryKernel(
  dir: string,
  options: { env?: Record<string, string>; kernelName?: string; deno?: string } = {},
): Promise<{ dataDir: string; kernelJson: string; env: Record<string, string> }> {
  const base = options.env ?? Deno.env.toObject();
  const kernelName = options.kernelName ?? DENO_KERNELSPEC.name;
  const deno = options.deno ?? Deno.execPath();
  const dataDir = join(resolve(dir), "jupyter");
  const kernelJson = join(dataDir, "kernels", kernelName, "kernel.json");
  const args = ["jupyter", "--install", "--force"];
  if (kernelName !== DENO_KERNELSPEC.name) args.push("--name", kernelName);
  let result;
  try {
    result = await run(deno, args, {
      ...base,
      XDG_DATA_HOME: resolve(dir),
      DENO_TEST_JUPYTER_PATH: dataDir,
    });
  } catch (error) {
    throw new NotebookRunnerError(
      `Cannot run ${deno} ${args.join(" ")} (${
        error instanceof Error ? error.message : String(error)
      }).`,
      { cause: error },
    );
  }
  const written = await Deno.stat(kernelJson).then(() => true, () => false);
  if (result.code !== 0 || !written) {
    throw new NotebookRunnerError(
      `\`${deno} ${args.join(" ")}\` did not register the kernel in ${dataDir} (exit code ` +
        `${result.code}${written ? "" : `, no ${kernelJson}`}): ${
          firstLine(result.stderr || result.stdout) || "no output"
        }. Register it yourself with \`deno jupyter --install --force\` and run again.`,
    );
  }
  const jupyterPath = [dataDir, base.JUPYTER_PATH].filter((p) => p).join(SEP);
  return { dataDir, kernelJson, env: { ...base, JUPYTER_PATH: jupyterPath } };
}

const SEP = Deno.build.os === "windows" ? ";" : ":";

/**
 * Checks that `jupyter nbconvert` runs, that its Python has nbclient, and that Jupyter finds
 * the Deno kernelspec; where it does not and `temporaryKernelDir` is given, registers one there
 * for this run ({@linkcode installTemporaryKernel}). Throws {@linkcode JupyterMissingError}
 * (with the install commands) otherwise.
 *
 * @example
 * ```ts
 * const setup = await checkJupyter({ temporaryKernelDir: await Deno.makeTempDir() });
 * console.log(`nbconvert ${setup.nbconvertVersion}, kernel ${setup.kernelJson}`);
 * ```
 */
export async function checkJupyter(options: CheckJupyterOptions = {}): Promise<JupyterSetup> {
  const { jupyter, nbconvertVersion, python } = await checkNbconvert(options);
  const kernelName = options.kernelName ?? DENO_KERNELSPEC.name;
  const env = options.env ?? Deno.env.toObject();
  if (!options.alwaysTemporaryKernel) {
    const found = await findKernelspec(jupyter, kernelName, options.env);
    if (found.kernelJson) {
      return {
        jupyter,
        nbconvertVersion,
        kernelName,
        kernelJson: found.kernelJson,
        temporaryKernel: false,
        env,
        python,
      };
    }
    if (options.temporaryKernelDir === undefined) {
      throw new JupyterMissingError(
        `Jupyter has no "${kernelName}" kernelspec (looked in ${
          found.dataDirs.map((d) => join(d, "kernels")).join(", ") || "Jupyter's data folders"
        }).`,
      );
    }
  }
  if (options.temporaryKernelDir === undefined) {
    throw new NotebookRunnerError("alwaysTemporaryKernel needs a temporaryKernelDir.");
  }
  const temporary = await installTemporaryKernel(options.temporaryKernelDir, {
    env,
    kernelName,
    deno: options.deno,
  });
  const found = await findKernelspec(jupyter, kernelName, temporary.env);
  if (found.kernelJson !== temporary.kernelJson) {
    throw new NotebookRunnerError(
      `Registered the ${kernelName} kernelspec in ${temporary.dataDir}, but ${jupyter} ` +
        `${found.kernelJson ? `uses ${found.kernelJson}` : "does not find it"} (its data ` +
        `folders with JUPYTER_PATH set: ${found.dataDirs.join(", ") || "none"}).`,
    );
  }
  return {
    jupyter,
    nbconvertVersion,
    kernelName,
    kernelJson: temporary.kernelJson,
    temporaryKernel: true,
    env: temporary.env,
    python,
  };
}

/** The environment variables holding paths, made absolute for the kernels. */
export const PATH_VARIABLES = [
  "CARPLANE_DATA_DIR",
  "CARPLANE_OUTPUTS_DIR",
  "CARPLANE_WEIGHTS",
  "CARPLANE_CACHE_DIR",
] as const;

/**
 * The kernels' environment: `env` as given (so `CARPLANE_*` settings reach the notebooks),
 * `NOTEBOOK_QUICK=1` when `quick`, and the path variables ({@linkcode PATH_VARIABLES}) that
 * are relative resolved against `cwd`, since a kernel runs in the notebook's folder.
 * `CARPLANE_WEIGHTS` stays as is when it is a URL or `none`.
 *
 * @example
 * ```ts
 * const env = kernelEnv(Deno.env.toObject(), { quick: true, cwd: "/work/main" });
 * // env.CARPLANE_WEIGHTS: "../shared/models/m" -> "/work/shared/models/m"
 * ```
 */
export function kernelEnv(
  env: Record<string, string>,
  { quick, cwd }: { quick: boolean; cwd: string },
): Record<string, string> {
  const out = { ...env };
  if (quick) out.NOTEBOOK_QUICK = "1";
  for (const name of PATH_VARIABLES) {
    const value = out[name];
    if (!value || isAbsolute(value)) continue;
    if (
      name === "CARPLANE_WEIGHTS" && (value === "none" || /^[a-z][a-z0-9+.-]*:\/\//i.test(value))
    ) {
      continue;
    }
    out[name] = resolve(cwd, value);
  }
  return out;
}

/**
 * The project's notebooks in `dir` (`*.ipynb`, not hidden, sorted by name), or those named by
 * `only` (a file name, with or without `.ipynb`, or its number prefix like `02`).
 *
 * @example
 * ```ts
 * await listNotebooks("notebooks", ["03"]); // ["/.../notebooks/03_overfitting.ipynb"]
 * ```
 */
export async function listNotebooks(dir: string, only: string[] = []): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile && entry.name.endsWith(".ipynb") && !/^[._]/.test(entry.name)) {
        names.push(entry.name);
      }
    }
  } catch (error) {
    throw new NotebookRunnerError(
      `Cannot list notebooks in ${dir}: ${
        error instanceof Error ? error.message : String(error)
      }. Run from the project root.`,
      { cause: error },
    );
  }
  names.sort();
  if (names.length === 0) throw new NotebookRunnerError(`No .ipynb notebooks in ${dir}.`);
  if (only.length === 0) return names.map((n) => join(dir, n));
  const picked: string[] = [];
  for (const want of only) {
    const stem = basename(want).replace(/\.ipynb$/, "");
    const match = names.filter((n) => {
      const s = n.replace(/\.ipynb$/, "");
      return s === stem || s.startsWith(`${stem}_`);
    });
    if (match.length !== 1) {
      throw new NotebookRunnerError(
        `--only ${want} ${match.length === 0 ? "matches no notebook" : "is ambiguous"}; ` +
          `choose from: ${names.join(", ")}.`,
      );
    }
    if (!picked.includes(match[0])) picked.push(match[0]);
  }
  return picked.sort().map((n) => join(dir, n));
}

/** Options for {@linkcode executeNotebook}. */
export interface ExecuteOptions {
  /** Folder for the executed copy (same file name). */
  outputDir: string;
  /** Per-cell timeout in seconds. */
  timeoutSeconds: number;
  /** The kernels' environment (see {@linkcode kernelEnv}). */
  env: Record<string, string>;
  /** The `jupyter` executable. Default `/usr/bin/jupyter`. */
  jupyter?: string;
  /** The kernelspec. Default `deno`. */
  kernelName?: string;
}

/** What {@linkcode executeNotebook} did. */
export interface ExecuteResult {
  /** Path of the executed copy (present only when `ok`). */
  executed: string;
  ok: boolean;
  seconds: number;
  /** nbconvert's stderr. */
  stderr: string;
}

/**
 * Executes one notebook with `jupyter nbconvert --to notebook --execute` into `outputDir`
 * (the source is not modified). On a failing cell nbconvert stops and writes nothing:
 * `ok` is false and `stderr` says why (see {@linkcode problemFromNbconvertError}).
 *
 * @example
 * ```ts
 * const r = await executeNotebook("notebooks/01_data.ipynb", {
 *   outputDir: "outputs/notebooks", timeoutSeconds: 600, env: Deno.env.toObject(),
 * });
 * ```
 */
export async function executeNotebook(
  notebook: string,
  options: ExecuteOptions,
): Promise<ExecuteResult> {
  const started = performance.now();
  const result = await run(options.jupyter ?? DEFAULT_JUPYTER, [
    "nbconvert",
    "--to",
    "notebook",
    "--execute",
    `--ExecutePreprocessor.timeout=${options.timeoutSeconds}`,
    `--ExecutePreprocessor.kernel_name=${options.kernelName ?? DENO_KERNELSPEC.name}`,
    "--output-dir",
    options.outputDir,
    notebook,
  ], options.env);
  return {
    executed: join(options.outputDir, basename(notebook)),
    ok: result.code === 0,
    seconds: (performance.now() - started) / 1000,
    stderr: result.stderr,
  };
}

/**
 * Converts an executed notebook to HTML beside it (`nbconvert --to html`); returns its path.
 *
 * @example
 * ```ts
 * const html = await convertToHtml("outputs/notebooks/02_baseline.ipynb", "outputs/notebooks");
 * ```
 */
export async function convertToHtml(
  executed: string,
  outputDir: string,
  { jupyter = DEFAULT_JUPYTER, env }: { jupyter?: string; env?: Record<string, string> } = {},
): Promise<string> {
  const result = await run(
    jupyter,
    ["nbconvert", "--to", "html", "--output-dir", outputDir, executed],
    env,
  );
  if (result.code !== 0) {
    throw new NotebookRunnerError(
      `nbconvert --to html failed for ${executed}:\n${
        stripAnsi(result.stderr).trim().split("\n").slice(-5).join("\n")
      }`,
    );
  }
  return join(outputDir, basename(executed).replace(/\.ipynb$/, ".html"));
}

/** Options for {@linkcode runNotebooks}. */
export interface RunNotebooksOptions {
  /** The notebooks' folder. */
  notebooksDir: string;
  /** Where executed copies (and HTML) go. */
  outputDir: string;
  /** Run only these (names or number prefixes). */
  only?: string[];
  /** Quick mode: `NOTEBOOK_QUICK=1` for the kernels. */
  quick?: boolean;
  /** Also write HTML copies. */
  html?: boolean;
  /** Per-cell timeout; default 600 s in quick mode, 3600 s otherwise. */
  timeoutSeconds?: number;
  /** The environment the kernels start from; default this process's. */
  env?: Record<string, string>;
  /** Relative path variables are resolved against this; default the current directory. */
  cwd?: string;
  /** The `jupyter` executable. */
  jupyter?: string;
  /** Progress lines. Default `console.log`. */
  log?: (line: string) => void;
  /** Keep running the next notebooks after one fails. Default false. */
  keepGoing?: boolean;
  /**
   * The Deno kernel: `auto` (default) uses the one registered in Jupyter, or registers one for
   * this run in a temporary folder when there is none; `temporary` always does the latter (the
   * tests: independent of, and invisible to, the user's Jupyter).
   */
  kernel?: "auto" | "temporary";
}

/** One notebook's run. */
export interface NotebookRun {
  /** File name. */
  name: string;
  /** The executed copy, when execution finished. */
  executed?: string;
  /** The HTML copy, when asked for and written. */
  html?: string;
  seconds: number;
  problems: NotebookProblem[];
}

/** What {@linkcode runNotebooks} did. */
export interface RunNotebooksResult {
  runs: NotebookRun[];
  /** Every problem, in order. */
  problems: NotebookProblem[];
  /** True when every notebook ran and passed its checks. */
  ok: boolean;
  /** How many notebooks were to run (more than `runs` after a stop at a failure). */
  planned: number;
  /** The environment the kernels got (after {@linkcode kernelEnv}). */
  env: Record<string, string>;
}

/**
 * Checks Jupyter (registering the Deno kernel for this run in a temporary folder where Jupyter
 * has none, or always with `kernel: "temporary"`), then executes the notebooks in name order
 * into `outputDir` (and converts them to HTML with `html`), checking each with
 * {@linkcode checkExecutedNotebook}. Stops at the first failing notebook unless `keepGoing`.
 *
 * @example
 * ```ts
 * const result = await runNotebooks({ notebooksDir: "notebooks", outputDir: "outputs/notebooks", quick: true });
 * for (const p of result.problems) console.error(formatProblem(p));
 * ```
 */
export async function runNotebooks(options: RunNotebooksOptions): Promise<RunNotebooksResult> {
  const env = kernelEnv(options.env ?? Deno.env.toObject(), {
    quick: options.quick ?? false,
    cwd: options.cwd ?? Deno.cwd(),
  });
  const notebooks = await listNotebooks(options.notebooksDir, options.only ?? []);
  const kernelDir = await Deno.makeTempDir({ prefix: "carplane-jupyter-" });
  try {
    return await runWithKernel(options, notebooks, env, kernelDir);
  } finally {
    await Deno.remove(kernelDir, { recursive: true }).catch(() => {});
  }
}

async function runWithKernel(
  options: RunNotebooksOptions,
  notebooks: string[],
  kernelsEnv: Record<string, string>,
  kernelDir: string,
): Promise<RunNotebooksResult> {
  const log = options.log ?? console.log;
  const quick = options.quick ?? false;
  const setup = await checkJupyter({
    jupyter: options.jupyter,
    env: kernelsEnv,
    temporaryKernelDir: kernelDir,
    alwaysTemporaryKernel: options.kernel === "temporary",
  });
  if (setup.temporaryKernel) {
    log(
      options.kernel === "temporary"
        ? `Deno kernel registered for this run only: ${setup.kernelJson}`
        : `Jupyter has no Deno kernelspec: registered one for this run only (${setup.kernelJson}); ` +
          "`deno jupyter --install --force` registers it for good.",
    );
  }
  const env = setup.env;
  const outputDir = resolve(options.outputDir);
  await Deno.mkdir(outputDir, { recursive: true });
  const timeoutSeconds = options.timeoutSeconds ?? (quick ? 600 : 3600);
  const runs: NotebookRun[] = [];
  for (const path of notebooks) {
    const name = basename(path);
    log(`Running ${name}${quick ? " (quick)" : ""}...`);
    const source = await readNotebook(path);
    const result = await executeNotebook(path, {
      outputDir,
      timeoutSeconds,
      env,
      jupyter: setup.jupyter,
      kernelName: setup.kernelName,
    });
    const runRecord: NotebookRun = { name, seconds: result.seconds, problems: [] };
    if (!result.ok) {
      runRecord.problems.push(problemFromNbconvertError(result.stderr, source, name));
    } else {
      runRecord.executed = result.executed;
      runRecord.problems.push(...checkExecutedNotebook(await readNotebook(result.executed), name));
      if (options.html) {
        runRecord.html = await convertToHtml(result.executed, outputDir, {
          jupyter: setup.jupyter,
          env,
        });
      }
    }
    runs.push(runRecord);
    const status = runRecord.problems.length === 0 ? "ok" : "FAILED";
    log(
      `${status} ${name} in ${result.seconds.toFixed(1)}s${
        runRecord.executed ? ` -> ${runRecord.executed}` : ""
      }${runRecord.html ? ` and ${basename(runRecord.html)}` : ""}`,
    );
    for (const p of runRecord.problems) log(`  ${formatProblem(p)}`);
    if (runRecord.problems.length > 0 && !options.keepGoing) break;
  }
  const problems = runs.flatMap((r) => r.problems);
  return {
    runs,
    problems,
    ok: problems.length === 0 && runs.length === notebooks.length,
    planned: notebooks.length,
    env: kernelsEnv,
  };
}
