/**
 * Notebook front-end helpers that stay testable outside Jupyter:
 *
 * - {@linkcode createNotebookReporter}: a training progress display that updates in place
 *   through a `broadcast` function (pass `Deno.jupyter.broadcast` inside the Deno kernel), so a
 *   30-epoch run shows one live block instead of thousands of lines.
 * - {@linkcode settleCellOutputs}: a work-around for Deno's kernel dropping a cell's last
 *   outputs (call it once, in a notebook's first cell).
 * - {@linkcode protocolLine}: one line stating the training protocol, flagging quick mode.
 * - {@linkcode markdownDisplay}, {@linkcode markdownTable}, {@linkcode fitTableMarkdown}: computed
 *   text (tables, figures of this run) shown as markdown.
 *
 * The hand-over of trained models between notebooks is in `lib/runs/saved_runs.ts`, and what Keras'
 * `EarlyStopping` would have done with a history in `lib/early_stopping.ts`.
 *
 * @module
 */
import { JUPYTER_DISPLAY, type JupyterDisplayable } from "../report/charts.ts";
import type { ExperimentConfig } from "../config.ts";
import { diagnoseFit } from "../training/diagnose.ts";
import type { History } from "../training/history.ts";
import {
  formatEpochLine,
  formatEpochProgress,
  formatEpochSummary,
  type ProgressReporter,
} from "../training/progress.ts";

/** The shape of `Deno.jupyter.broadcast`. */
export type Broadcast = (msgType: string, content: Record<string, unknown>) => Promise<void>;

/** A reporter for notebooks; `settled()` resolves once every update has been sent. */
export interface NotebookReporter extends ProgressReporter {
  settled(): Promise<void>;
  /** Ends the display: drops the running bar and shows `note` in its place (e.g. why it stopped). */
  close(note?: string): void;
}

/** Options for {@linkcode createNotebookReporter}. */
export interface NotebookReporterOptions {
  /** The display id to update; default a fresh random one. */
  displayId?: string;
  /** Minimum milliseconds between bar redraws (epoch ends always draw). Default 250. */
  throttleMs?: number;
}

/**
 * Training progress for a notebook, short enough to read at a glance: one display, updated in
 * place (`display_data` once, then `update_display_data`), holding one line per finished epoch
 * (`Epoch 3/30 - 14s - loss: ... - val_accuracy: ...`, under 100 characters) and one live line
 * for the running epoch with its bar. 30 epochs make 31 lines, where Keras' printout makes 60
 * lines of ~125 characters that a notebook wraps mid-word.
 *
 * @example
 * ```ts
 * // in a Deno notebook cell
 * const reporter = createNotebookReporter(Deno.jupyter.broadcast);
 * await fit(model, train, { epochs: 30, stepsPerEpoch: 30, validationData: val, reporter });
 * await reporter.settled();
 * ```
 */
export function createNotebookReporter(
  broadcast: Broadcast,
  options: NotebookReporterOptions = {},
): NotebookReporter {
  const displayId = options.displayId ?? `progress-${crypto.randomUUID()}`;
  const throttleMs = options.throttleMs ?? 250;
  const finished: string[] = [];
  let current = "";
  let epoch = 0;
  let epochs = 0;
  let shown = false;
  let lastDraw = 0;
  let chain: Promise<void> = Promise.resolve();
  const draw = () => {
    const text = [...finished, current].filter((l) => l !== "").join("\n");
    const msgType = shown ? "update_display_data" : "display_data";
    shown = true;
    lastDraw = performance.now();
    chain = chain.then(() =>
      broadcast(msgType, {
        data: { "text/plain": text },
        metadata: {},
        transient: { display_id: displayId },
      })
    );
  };
  return {
    epochBegin(epochIndex, total) {
      epoch = epochIndex;
      epochs = total;
      current = formatEpochLine(epochIndex, total);
      draw();
    },
    batchEnd(state) {
      if (state.current >= state.target || performance.now() - lastDraw < throttleMs) return;
      current = formatEpochProgress(epoch, epochs, state);
      draw();
    },
    epochEnd(line, summary) {
      finished.push(summary ? formatEpochSummary(summary) : line);
      current = "";
      draw();
    },
    close(note) {
      current = note ?? "";
      draw();
    },
    settled: () => chain,
  };
}

/** The part of Deno's kernel internals {@linkcode settleCellOutputs} wraps. */
export interface KernelResultHook {
  broadcastResult: (executionCount: number, result: unknown) => Promise<void>;
}

const SETTLED = Symbol.for("carplane.settleCellOutputs");

function kernelJupyterInternals(): KernelResultHook | undefined {
  const deno = Deno as unknown as Record<symbol, unknown> & { internal?: symbol };
  const internals = deno.internal ? deno[deno.internal] as Record<string, unknown> : undefined;
  const jupyter = internals?.jupyter as Partial<KernelResultHook> | undefined;
  return typeof jupyter?.broadcastResult === "function" ? jupyter as KernelResultHook : undefined;
}

/**
 * Makes Deno's Jupyter kernel wait `delayMs` at the end of every cell before it reports the
 * cell done, so the cell's last outputs are not lost.
 *
 * Why: in Deno 2.x's kernel, a cell's printed lines and displays (including the display of its
 * last expression) go through a queue that another task publishes, while the kernel reports
 * "idle" as soon as the cell is evaluated. When "idle" wins the race, Jupyter stops collecting
 * that cell's outputs and the last lines or the chart are silently dropped (seen in about one
 * cell in ten under `jupyter nbconvert --execute`). The kernel ends every cell by calling its
 * internal `broadcastResult`; this wraps it so that, after queueing the result, it waits
 * `delayMs`, giving the queue time to be published before "idle".
 *
 * Returns false (and changes nothing) outside the Deno kernel, e.g. in `deno test`. Calling it
 * again only updates the delay.
 *
 * @example
 * ```ts
 * // first cell of a notebook
 * settleCellOutputs();
 * ```
 */
export function settleCellOutputs(
  { delayMs = 50, target = kernelJupyterInternals() }: {
    delayMs?: number;
    target?: KernelResultHook;
  } = {},
): boolean {
  if (!target) return false;
  const current = target.broadcastResult as KernelResultHook["broadcastResult"] & {
    [SETTLED]?: { original: KernelResultHook["broadcastResult"]; delayMs: number };
  };
  const state = current[SETTLED];
  if (state) {
    state.delayMs = delayMs;
    return true;
  }
  const original = current;
  const settings = { original, delayMs };
  const wrapped = Object.assign(
    async (executionCount: number, result: unknown) => {
      try {
        await original.call(target, executionCount, result);
      } finally {
        await new Promise((resolve) => setTimeout(resolve, settings.delayMs));
      }
    },
    { [SETTLED]: settings },
  );
  target.broadcastResult = wrapped;
  return true;
}

/**
 * One line stating the training protocol, flagging quick mode.
 *
 * @example
 * ```ts
 * protocolLine(experimentConfig());
 * // "protocol: 30 epochs x 30 steps x batch 32 at 64x64, seed 42"
 * ```
 */
export function protocolLine(config: ExperimentConfig): string {
  return `protocol: ${config.epochs} epochs x ${config.stepsPerEpoch} steps x batch ` +
    `${config.batchSize} at ${config.targetSize.join("x")}, seed ${config.seed}` +
    (config.quick ? " (QUICK MODE: a smoke run, not the article's protocol)" : "");
}

/**
 * Shows markdown computed in the run (a table of this run's figures, a verdict) as a cell's
 * rich output; the plain-text form is the same text.
 *
 * @example
 * ```ts
 * // last expression of a notebook cell
 * markdownDisplay(`| metric | value |\n| --- | --- |\n| val accuracy | ${acc.toFixed(3)} |`);
 * ```
 */
export function markdownDisplay(markdown: string): JupyterDisplayable {
  const bundle = { "text/markdown": markdown, "text/plain": markdown };
  return { bundle, [JUPYTER_DISPLAY]: () => bundle };
}

function cellText(value: string | number): string {
  const text = typeof value === "number"
    ? (Number.isInteger(value) ? String(value) : value.toFixed(3))
    : value;
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

/**
 * A GitHub-flavoured markdown table; `|` in cells is escaped, fractional numbers are shown with
 * three decimals, and columns of numbers are right-aligned (or as `align` says).
 *
 * @example
 * ```ts
 * markdownTable(["split", "images"], [["training_set", 160], ["val_set", 40]]);
 * // | split | images |\n| --- | ---: |\n| training_set | 160 |\n| val_set | 40 |
 * ```
 */
export function markdownTable(
  headers: string[],
  rows: (string | number)[][],
  { align }: { align?: ("left" | "right")[] } = {},
): string {
  const right = headers.map((_, c) =>
    align?.[c] !== undefined
      ? align[c] === "right"
      : rows.length > 0 && rows.every((r) => typeof r[c] === "number")
  );
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [
    line(headers.map(cellText)),
    line(right.map((n) => n ? "---:" : "---")),
    ...rows.map((r) => line(headers.map((_, c) => cellText(r[c] ?? "")))),
  ].join("\n");
}

/**
 * One row per training run: epochs, final train and validation accuracy, the best validation
 * accuracy and the lowest validation loss with their epochs, the final validation loss, and
 * `lib/training/diagnose.ts`' verdict. Every number comes from the histories given.
 *
 * @example
 * ```ts
 * markdownDisplay(fitTableMarkdown({ baseline: h1, "mobilenet transfer": h2 }));
 * ```
 */
export function fitTableMarkdown(histories: Record<string, History>): string {
  const rows = Object.entries(histories).map(([name, history]) => {
    const d = diagnoseFit(history);
    return [
      name,
      d.epochs,
      d.finalAccuracy.toFixed(3),
      d.finalValAccuracy.toFixed(3),
      `${d.bestValAccuracy.toFixed(3)} (epoch ${d.bestValAccuracyEpoch})`,
      `${d.minValLoss.toFixed(3)} (epoch ${d.bestValLossEpoch})`,
      d.finalValLoss.toFixed(3),
      d.verdict,
    ];
  });
  return markdownTable(
    [
      "model",
      "epochs",
      "train acc (last)",
      "val acc (last)",
      "best val acc",
      "lowest val loss",
      "val loss (last)",
      "verdict",
    ],
    rows,
    { align: ["left", "right", "right", "right", "right", "right", "right", "left"] },
  );
}
