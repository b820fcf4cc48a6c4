/**
 * Keras' training printout: the `Epoch 3/30` line and the progress bar line
 * `30/30 [==============================] - 14s 450ms/step - loss: 0.1234 - accuracy: 0.9583`.
 * One formatter serves the terminal, plain logs and notebooks.
 *
 * @module
 */

/** Named metric values shown after the bar, in order (`loss`, `accuracy`, `val_loss`, ...). */
export type MetricValues = Record<string, number>;

/**
 * Formats Keras' `Epoch n/N` line (1-based).
 *
 * @example
 * ```ts
 * formatEpochLine(0, 30); // "Epoch 1/30"
 * ```
 */
export function formatEpochLine(epochIndex: number, epochs: number): string {
  return `Epoch ${epochIndex + 1}/${epochs}`;
}

/**
 * Formats a duration the way Keras' progbar does: `14s`, `450ms`, `3us`.
 *
 * @example
 * ```ts
 * formatDuration(0.45); // "450ms"
 * ```
 */
export function formatDuration(seconds: number): string {
  if (seconds >= 1) return `${Math.round(seconds)}s`;
  if (seconds >= 1e-3) return `${Math.round(seconds * 1e3)}ms`;
  return `${Math.round(seconds * 1e6)}us`;
}

function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  return Math.abs(v) >= 1e-3 || v === 0 ? v.toFixed(4) : v.toExponential(4);
}

/** The state of a progress bar: `current` of `target` steps, `elapsed` seconds so far. */
export interface ProgbarState {
  current: number;
  target: number;
  elapsedSeconds: number;
  values: MetricValues;
}

/**
 * One line of Keras' progress bar. While running it shows the ETA; when `current == target` it
 * shows the total time and the time per step, as Keras prints at the end of an epoch.
 *
 * @example
 * ```ts
 * formatProgbar({ current: 30, target: 30, elapsedSeconds: 13.5, values: { loss: 0.25, accuracy: 0.9 } });
 * // "30/30 [==============================] - 14s 450ms/step - loss: 0.2500 - accuracy: 0.9000"
 * ```
 */
export function formatProgbar(state: ProgbarState, width = 30): string {
  const { current, target, elapsedSeconds, values } = state;
  const digits = String(target).length;
  let bar = `${String(current).padStart(digits)}/${target} [`;
  const done = Math.floor(width * Math.min(current / target, 1));
  if (done > 0) {
    bar += "=".repeat(done - 1);
    bar += current < target ? ">" : "=";
  }
  bar += ".".repeat(width - done) + "]";
  const perStep = current > 0 ? elapsedSeconds / current : 0;
  let info: string;
  if (current < target) {
    info = ` - ETA: ${formatDuration(Math.max(0, perStep * (target - current)))}`;
  } else {
    info = ` - ${formatDuration(elapsedSeconds)} ${formatDuration(perStep)}/step`;
  }
  for (const [name, value] of Object.entries(values)) {
    info += ` - ${name}: ${formatValue(value)}`;
  }
  return bar + info;
}

/** Receives training progress; the terminal, a plain log and a notebook each have one. */
export interface ProgressReporter {
  /** Called before the first batch of an epoch. */
  epochBegin(epochIndex: number, epochs: number): void;
  /** Called after each training batch with the running means. */
  batchEnd(state: ProgbarState): void;
  /**
   * Called once per epoch with Keras' final bar line (including validation metrics) and the
   * same figures as numbers.
   */
  epochEnd(line: string, summary?: EpochSummary): void;
}

/** Options for {@linkcode createConsoleReporter}. */
export interface ConsoleReporterOptions {
  /** Draw a live bar with carriage returns; default: when stdout is a terminal. */
  live?: boolean;
  /** Where whole lines go; default `console.log`. */
  log?: (line: string) => void;
  /** Where live (unterminated) updates go; default writes to stdout. */
  write?: (text: string) => void;
}

/**
 * The Keras-style console printout: `Epoch n/N`, a bar that updates in place on a terminal, and
 * the final line per epoch (the only one in logs and CI).
 *
 * @example
 * ```ts
 * const reporter = createConsoleReporter();
 * await fit(model, train, { epochs: 30, stepsPerEpoch: 30, reporter });
 * ```
 */
export function createConsoleReporter(
  options: ConsoleReporterOptions = {},
): ProgressReporter {
  const live = options.live ?? isStdoutTerminal();
  const log = options.log ?? console.log;
  const encoder = new TextEncoder();
  const write = options.write ??
    ((text: string) => Deno.stdout.writeSync(encoder.encode(text)));
  let lastLength = 0;
  return {
    epochBegin(epochIndex, epochs) {
      log(formatEpochLine(epochIndex, epochs));
    },
    batchEnd(state) {
      if (!live || state.current >= state.target) return;
      const text = formatProgbar(state);
      write(`\r${text}${" ".repeat(Math.max(0, lastLength - text.length))}`);
      lastLength = text.length;
    },
    epochEnd(line) {
      if (live && lastLength > 0) write(`\r${" ".repeat(lastLength)}\r`);
      lastLength = 0;
      log(line);
    },
  };
}

/**
 * A reporter that prints nothing (verbose 0).
 *
 * @example
 * ```ts
 * await fit(model, train, { epochs: 1, stepsPerEpoch: 1, reporter: silentReporter() });
 * ```
 */
export function silentReporter(): ProgressReporter {
  return { epochBegin() {}, batchEnd() {}, epochEnd() {} };
}

function isStdoutTerminal(): boolean {
  try {
    return Deno.stdout.isTerminal();
  } catch {
    return false;
  }
}

/** An epoch's figures as {@linkcode fit} hands them to a reporter at the epoch's end. */
export interface EpochSummary {
  /** 0-based epoch index. */
  epochIndex: number;
  /** Epochs in the run. */
  epochs: number;
  /** Seconds the epoch took, validation included. */
  seconds: number;
  /** The epoch's metrics (`loss`, `accuracy`, `val_loss`, `val_accuracy`). */
  values: MetricValues;
}

/**
 * One line per finished epoch, Keras' `Epoch n/N` and its `verbose=2` figures together: 95
 * characters for the article's four metrics at 30 epochs, so it fits a notebook's width without
 * wrapping (Keras' two lines with the bar are ~125 characters, which a notebook wraps mid-word).
 *
 * @example
 * ```ts
 * formatEpochSummary({ epochIndex: 2, epochs: 30, seconds: 13.5, values: { loss: 0.25, accuracy: 0.9 } });
 * // "Epoch 3/30 - 14s - loss: 0.2500 - accuracy: 0.9000"
 * ```
 */
export function formatEpochSummary(summary: EpochSummary): string {
  let line = `${formatEpochLine(summary.epochIndex, summary.epochs)} - ` +
    formatDuration(summary.seconds);
  for (const [name, value] of Object.entries(summary.values)) {
    line += ` - ${name}: ${formatValue(value)}`;
  }
  return line;
}

/**
 * The running epoch's bar on one line, `Epoch n/N` first, with a 20-character bar: under 100
 * characters with loss and accuracy.
 *
 * @example
 * ```ts
 * formatEpochProgress(3, 30, { current: 12, target: 30, elapsedSeconds: 6, values: { loss: 0.5 } });
 * // "Epoch 4/30  12/30 [=======>............] - ETA: 9s - loss: 0.5000"
 * ```
 */
export function formatEpochProgress(
  epochIndex: number,
  epochs: number,
  state: ProgbarState,
): string {
  return `${formatEpochLine(epochIndex, epochs)}  ${formatProgbar(state, 20)}`;
}
