/** Kernel > Interrupt as an AbortSignal: SIGINT aborts the running task and never ends the process. */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  inJupyterKernel,
  installInterruptHandler,
  interruptible,
} from "../lib/notebook/interrupt.ts";

const INTERRUPT_MODULE = new URL("../lib/notebook/interrupt.ts", import.meta.url).href;

/** Runs `code` in a fresh Deno process (a SIGINT listener lives as long as its process). */
async function runScript(code: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", code],
    cwd: fileURLToPath(new URL("..", import.meta.url)),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

Deno.test("outside the Deno kernel nothing is installed, and an interruptible task's signal never aborts", async () => {
  assert.equal(inJupyterKernel(), false);
  assert.equal(installInterruptHandler(), false);
  const aborted = await interruptible((signal) => Promise.resolve(signal.aborted));
  assert.equal(aborted, false);
});

Deno.test("SIGINT aborts the running task with the interrupt reason, and the process lives on", async () => {
  const result = await runScript(`
    import { installInterruptHandler, interruptible, InterruptedSignal } from "${INTERRUPT_MODULE}";
    const notes = [];
    console.log(JSON.stringify({ installed: installInterruptHandler({ force: true, log: (l) => notes.push(l) }) }));
    const steps = await interruptible(async (signal) => {
      let n = 0;
      while (!signal.aborted && n < 100) {
        if (n === 3) Deno.kill(Deno.pid, "SIGINT");
        await new Promise((r) => setTimeout(r, 20));
        n++;
      }
      return { n, reason: signal.reason instanceof InterruptedSignal };
    });
    console.log(JSON.stringify(steps));
    Deno.kill(Deno.pid, "SIGINT"); // nothing running: a note, and no exit
    await new Promise((r) => setTimeout(r, 200));
    console.log(JSON.stringify({ notes, again: installInterruptHandler() }));
  `);
  assert.equal(result.code, 0, result.stderr);
  const [installed, steps, after] = result.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(installed, { installed: true });
  assert.ok(steps.n > 3 && steps.n < 100, `stopped soon after the signal (step ${steps.n})`);
  assert.equal(steps.reason, true);
  assert.equal(after.notes.length, 1);
  assert.match(after.notes[0], /nothing is training/);
  assert.equal(after.again, true);
});

Deno.test("a task that finished before the interrupt is not aborted by it", async () => {
  const result = await runScript(`
    import { installInterruptHandler, interruptible } from "${INTERRUPT_MODULE}";
    installInterruptHandler({ force: true, log: () => {} });
    let kept;
    await interruptible((signal) => { kept = signal; return Promise.resolve(); });
    Deno.kill(Deno.pid, "SIGINT");
    await new Promise((r) => setTimeout(r, 200));
    console.log(JSON.stringify({ aborted: kept.aborted }));
  `);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout), { aborted: false });
});
