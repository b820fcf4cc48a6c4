/** The output folder's lock: one run at a time, stale locks taken over. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { acquireRunLock, LOCK_FILE, processIsAlive, RunLockedError } from "../lib/runs/lock.ts";
import { withTempDir } from "./fixtures.ts";

Deno.test("a lock holds the pid, refuses a second holder and is gone after release", async () => {
  await withTempDir(async (dir) => {
    const lock = await acquireRunLock(dir, { command: "first" });
    const held = JSON.parse(await Deno.readTextFile(join(dir, LOCK_FILE)));
    assert.equal(held.pid, Deno.pid);
    assert.equal(held.command, "first");
    await assert.rejects(
      acquireRunLock(dir),
      (e: unknown) =>
        e instanceof RunLockedError && e.message.includes(`pid ${Deno.pid}`) &&
        e.message.includes("first"),
    );
    await lock.release();
    assert.equal(await Deno.stat(join(dir, LOCK_FILE)).catch(() => null), null);
    const names: string[] = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assert.deepEqual(names, [], "no temporary file left");
  });
});

Deno.test("processIsAlive tells this process from a finished one", async () => {
  assert.equal(processIsAlive(Deno.pid), true);
  const child = new Deno.Command("true").spawn();
  await child.status;
  assert.equal(processIsAlive(child.pid), false);
});

Deno.test("an unreadable lock file is stale; a live foreign lock is kept", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(join(dir, LOCK_FILE), "garbage");
    const lock = await acquireRunLock(dir, { log: () => {} });
    assert.equal(JSON.parse(await Deno.readTextFile(lock.path)).pid, Deno.pid);
    await lock.release();
    await Deno.writeTextFile(
      join(dir, LOCK_FILE),
      JSON.stringify({ pid: 1, hostname: Deno.hostname(), started_at: "then" }),
    );
    await assert.rejects(acquireRunLock(dir, { isAlive: () => true }), RunLockedError);
  });
});
