/** The staging swap and the output folder's lock: a failed run never damages the previous one. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { LOCK_FILE, RunLockedError } from "../lib/runs/lock.ts";
import { beginRun, LAST_ATTEMPT_FILE, readRunStatus } from "../lib/runs/staging.ts";
import { OutputError } from "../lib/runs/outputs.ts";
import { withTempDir } from "./fixtures.ts";

async function listDir(dir: string): Promise<string[]> {
  const names = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

async function completeRun(out: string, report: string, extra: Record<string, string> = {}) {
  const run = await beginRun(out, { info: { command: "test" } });
  await run.store.writeFile("report.md", report);
  for (const [name, text] of Object.entries(extra)) await run.store.writeFile(name, text);
  await run.complete({ report });
}

Deno.test("a completed run appears in the output folder whole, and its staging folder is gone", async () => {
  await withTempDir(async (dir) => {
    const out = join(dir, "out");
    await completeRun(out, "first");
    assert.deepEqual(await listDir(out), ["metrics.json", "report.md", "run.json"]);
    assert.deepEqual(await listDir(dir), ["out"]);
    const status = await readRunStatus(out);
    assert.equal(status.complete, true);
    assert.equal(status.record?.status, "complete");
    assert.equal(status.lastAttempt, null);
  });
});

Deno.test("a failed run leaves the previous run whole and records the attempt beside it", async () => {
  await withTempDir(async (dir) => {
    const out = join(dir, "out");
    await completeRun(out, "first", { "transfer_history.csv": "old transfer" });
    const before = await Deno.readTextFile(join(out, "metrics.json"));
    const run = await beginRun(out, { info: { command: "second" } });
    await run.store.writeFile("report.md", "half-written second run");
    await run.abandon(new Error("bad --weights"), "failed");
    assert.equal(await Deno.readTextFile(join(out, "metrics.json")), before);
    assert.equal(await Deno.readTextFile(join(out, "report.md")), "first");
    assert.equal(await Deno.readTextFile(join(out, "transfer_history.csv")), "old transfer");
    const status = await readRunStatus(out);
    assert.equal(status.complete, true);
    assert.equal(status.lastAttempt?.status, "failed");
    assert.equal(status.lastAttempt?.error, "bad --weights");
    assert.deepEqual(await listDir(dir), ["out"], "no staging folder left");
    assert.equal(await Deno.stat(join(out, LOCK_FILE)).catch(() => null), null, "lock released");
  });
});

Deno.test("a new run replaces every entry of the old one (no stale transfer files) and keeps other files", async () => {
  await withTempDir(async (dir) => {
    const out = join(dir, "out");
    await completeRun(out, "first", { "transfer_history.csv": "old transfer" });
    await Deno.mkdir(join(out, "notebooks"));
    await Deno.writeTextFile(join(out, "notebooks", "01.html"), "mine");
    await Deno.writeTextFile(join(out, LAST_ATTEMPT_FILE), "{}");
    await completeRun(out, "second");
    assert.equal(await Deno.readTextFile(join(out, "report.md")), "second");
    assert.equal(await Deno.stat(join(out, "transfer_history.csv")).catch(() => null), null);
    assert.equal(await Deno.readTextFile(join(out, "notebooks", "01.html")), "mine");
    assert.equal((await readRunStatus(out)).lastAttempt, null);
  });
});

Deno.test("a file the run store does not own is refused at the swap, and the previous run stays", async () => {
  await withTempDir(async (dir) => {
    const out = join(dir, "out");
    await completeRun(out, "first");
    const run = await beginRun(out);
    await run.store.writeFile("surprise.txt", "x");
    await assert.rejects(run.complete({}), /surprise\.txt, which the run store does not know/);
    assert.equal(await Deno.readTextFile(join(out, "report.md")), "first");
    assert.deepEqual(await listDir(dir), ["out"]);
  });
});

Deno.test("a second run into a locked folder is refused with the holder's pid", async () => {
  await withTempDir(async (dir) => {
    const out = join(dir, "out");
    const first = await beginRun(out, { info: { command: "deno task reproduce --out out" } });
    await assert.rejects(
      beginRun(out),
      (e: unknown) =>
        e instanceof RunLockedError && e.message.includes(`pid ${Deno.pid}`) &&
        e.message.includes("deno task reproduce --out out") && e.message.includes(LOCK_FILE),
    );
    await first.abandon(new Error("stop"), "interrupted");
    const again = await beginRun(out);
    await again.abandon(new Error("stop"), "failed");
  });
});

Deno.test("a stale lock (its process is gone) is taken over and its staging folder removed", async () => {
  await withTempDir(async (dir) => {
    const out = join(dir, "out");
    const dead = await beginRun(out, { info: { command: "killed" } });
    await dead.store.writeFile("report.md", "never finished");
    // The process "dies": its lock and staging folder stay behind.
    const lines: string[] = [];
    const next = await beginRun(out, { isAlive: () => false, log: (l) => lines.push(l) });
    assert.match(lines.join("\n"), /took over the stale lock/);
    assert.equal(await Deno.stat(dead.stagingDir).catch(() => null), null);
    await next.complete({});
    assert.deepEqual(await listDir(dir), ["out"]);
  });
});

Deno.test("the run's marker files cannot be written as ordinary files", async () => {
  await withTempDir(async (dir) => {
    const run = await beginRun(join(dir, "out"));
    await assert.rejects(run.store.writeJson("metrics.json", {}), /written by the run itself/);
    await assert.rejects(run.store.writeFile("run.json", "{}"), /written by the run itself/);
    await run.abandon(new Error("done"), "failed");
  });
});

Deno.test("a run into an output folder that cannot be created fails before anything runs", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "f");
    await Deno.writeTextFile(file, "");
    await assert.rejects(beginRun(join(file, "run")), OutputError);
    assert.deepEqual(await listDir(dir), ["f"]);
  });
});

Deno.test("an output folder reached through a symlink is staged beside the real folder", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(join(dir, "real"));
    await Deno.symlink(join(dir, "real"), join(dir, "link"));
    const run = await beginRun(join(dir, "link"));
    assert.equal(run.outDir, join(await Deno.realPath(dir), "real"));
    await run.store.writeFile("report.md", "through the link");
    await run.complete({});
    assert.equal(await Deno.readTextFile(join(dir, "link", "report.md")), "through the link");
    assert.deepEqual(await listDir(dir), ["link", "real"]);
  });
});
