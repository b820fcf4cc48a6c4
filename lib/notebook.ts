/**
 * Notebook front-end helpers that stay testable outside Jupyter: a training progress display
 * that updates in place through a `broadcast` function (pass `Deno.jupyter.broadcast` inside the
 * Deno kernel), so a 30-epoch run shows one live block instead of thousands of lines.
 *
 * @module
 */
import { formatEpochLine, formatProgbar, type ProgressReporter } from "./progress.ts";

/** The shape of `Deno.jupyter.broadcast`. */
export type Broadcast = (msgType: string, content: Record<string, unknown>) => Promise<void>;

/** A reporter for notebooks; `settled()` resolves once every update has been sent. */
export interface NotebookReporter extends ProgressReporter {
  settled(): Promise<void>;
}

/** Options for {@linkcode createNotebookReporter}. */
export interface NotebookReporterOptions {
  /** The display id to update; default a fresh random one. */
  displayId?: string;
  /** Minimum milliseconds between bar redraws (epoch ends always draw). Default 250. */
  throttleMs?: number;
}

/**
 * Keras-style progress for a notebook: one display with every finished epoch's line and the
 * running bar, updated in place (`display_data` once, then `update_display_data`).
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
  let header = "";
  let bar = "";
  let shown = false;
  let lastDraw = 0;
  let chain: Promise<void> = Promise.resolve();
  const draw = () => {
    const text = [...finished, header, bar].filter((l) => l !== "").join("\n");
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
    epochBegin(epochIndex, epochs) {
      header = formatEpochLine(epochIndex, epochs);
      bar = "";
      draw();
    },
    batchEnd(state) {
      if (state.current >= state.target || performance.now() - lastDraw < throttleMs) return;
      bar = formatProgbar(state);
      draw();
    },
    epochEnd(line) {
      finished.push(header, line);
      header = "";
      bar = "";
      draw();
    },
    settled: () => chain,
  };
}
