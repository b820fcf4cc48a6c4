/**
 * Kernel > Interrupt (the Stop button) for training in Deno's Jupyter kernel.
 *
 * Jupyter interrupts a kernel whose kernelspec has no `interrupt_mode` (Deno's has none) by
 * sending SIGINT to the kernel's process group: the classic Notebook's Stop button, JupyterLab's
 * and VS Code's do it through the server's `POST /api/kernels/<id>/interrupt`, and
 * `jupyter_client`'s `KernelManager.interrupt_kernel()` directly. Deno's kernel installs no SIGINT
 * handler of its own, so what happens depends on the disposition the kernel process inherited:
 *
 * - default (a server or script started from a terminal, `jupyter_client` in the foreground):
 *   the process dies of the signal (exit -2), taking every variable with it;
 * - ignored (a server started in the background by a non-interactive shell, `cmd &`, inherits
 *   SIG_IGN, and so do the kernels it starts): nothing happens; the server logs
 *   "Kernel interrupted" and training goes on to its end.
 *
 * Measured here with `KernelManager.interrupt_kernel()` on Deno 2.9.6: exit code -2 in the
 * first case; in the second a 10 s loop ran to its end. A `Deno.addSignalListener("SIGINT")`
 * registered in the kernel replaces either disposition (the kernel then survives every
 * interrupt) and is called within 0.2 s of the Stop button when the cell awaits between steps,
 * as training does between batches.
 *
 * {@linkcode interruptible} turns that into an `AbortSignal` for the duration of one task.
 *
 * @module
 */

/** What {@linkcode installInterruptHandler} keeps, shared by every copy of this module. */
interface InterruptState {
  /** The tasks running now; an interrupt aborts them all. */
  running: Set<AbortController>;
  /** Where a note goes when an interrupt finds nothing to stop. */
  log: (line: string) => void;
  /** Interrupts received so far (for tests and diagnostics). */
  count: number;
}

const STATE = Symbol.for("carplane.interrupt");

function state(): InterruptState | undefined {
  return (globalThis as Record<symbol, InterruptState | undefined>)[STATE];
}

/**
 * True inside Deno's Jupyter kernel (elsewhere reading `Deno.jupyter` throws "Deno.jupyter is only
 * available in `deno jupyter` subcommand").
 *
 * @example
 * ```ts
 * if (inJupyterKernel()) installInterruptHandler();
 * ```
 */
export function inJupyterKernel(): boolean {
  try {
    const jupyter = (Deno as unknown as { jupyter?: { broadcast?: unknown } }).jupyter;
    return typeof jupyter?.broadcast === "function";
  } catch {
    return false;
  }
}

/** Options for {@linkcode installInterruptHandler}. */
export interface InterruptHandlerOptions {
  /** Install even outside the Deno kernel (tests, scripts). Default false. */
  force?: boolean;
  /** Where the "nothing to stop" note goes. Default `console.log`. */
  log?: (line: string) => void;
}

/**
 * Makes SIGINT (Kernel > Interrupt) abort the running {@linkcode interruptible} tasks instead of
 * killing or missing the kernel. Installs one listener per process, for the rest of its life, so
 * an interrupt never kills the kernel; calling it again changes nothing. Returns whether the
 * handler is installed (false outside the kernel unless `force`).
 *
 * @example
 * ```ts
 * // a notebook's first cell (the setup helper does it for you)
 * installInterruptHandler();
 * ```
 */
export function installInterruptHandler(options: InterruptHandlerOptions = {}): boolean {
  const existing = state();
  if (existing) {
    if (options.log) existing.log = options.log;
    return true;
  }
  if (!options.force && !inJupyterKernel()) return false;
  const fresh: InterruptState = {
    running: new Set(),
    log: options.log ?? console.log,
    count: 0,
  };
  Deno.addSignalListener("SIGINT", () => {
    fresh.count++;
    if (fresh.running.size === 0) {
      fresh.log(
        "Interrupt received: nothing is training right now (only training and feature " +
          "extraction stop on an interrupt; other cells run to their end).",
      );
      return;
    }
    for (const controller of fresh.running) controller.abort(new InterruptedSignal());
    fresh.running.clear();
  });
  (globalThis as Record<symbol, InterruptState>)[STATE] = fresh;
  return true;
}

/** The reason an interrupted task's signal carries. */
export class InterruptedSignal extends Error {
  constructor() {
    super("Interrupted (SIGINT: Kernel > Interrupt or Ctrl-C).");
    this.name = "InterruptedSignal";
  }
}

/**
 * Runs `task` with an `AbortSignal` that an interrupt aborts while the task runs. Without the
 * handler installed (outside the kernel) the signal never aborts.
 *
 * @example
 * ```ts
 * const result = await interruptible((signal) => fit(model, train, { epochs: 30, stepsPerEpoch: 30, signal }));
 * ```
 */
export async function interruptible<T>(task: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const shared = state();
  shared?.running.add(controller);
  try {
    return await task(controller.signal);
  } finally {
    shared?.running.delete(controller);
  }
}
