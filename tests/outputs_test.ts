import assert from "node:assert/strict";
import { join } from "node:path";
import {
  atomicWriteFile,
  atomicWriteJson,
  ensureWritableDir,
  METRICS_FILE,
  OutputError,
  readRunStatus,
  RUN_FILE,
  startRun,
} from "../lib/runs/outputs.ts";

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "outputs_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("atomicWriteFile writes text and bytes and leaves no temp file", async () => {
  await withTempDir(async (dir) => {
    await atomicWriteFile(join(dir, "a.txt"), "hello");
    await atomicWriteFile(join(dir, "b.bin"), new Uint8Array([1, 2, 3]));
    await atomicWriteFile(join(dir, "a.txt"), "replaced");
    assert.equal(await Deno.readTextFile(join(dir, "a.txt")), "replaced");
    assert.deepEqual(await Deno.readFile(join(dir, "b.bin")), new Uint8Array([1, 2, 3]));
    assert.deepEqual(await listDir(dir), ["a.txt", "b.bin"]);
  });
});

Deno.test("a stream that fails midway leaves the old file intact and no temp file", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "model.bin");
    await atomicWriteFile(path, "old content");
    async function* failing() {
      yield new TextEncoder().encode("partial ");
      throw new Error("disk on fire");
    }
    await assert.rejects(
      () => atomicWriteFile(path, failing()),
      (err: unknown) =>
        err instanceof OutputError && err.message.includes(path) &&
        err.message.includes("disk on fire"),
    );
    assert.equal(await Deno.readTextFile(path), "old content");
    assert.deepEqual(await listDir(dir), ["model.bin"]);
  });
});

Deno.test("a value JSON cannot serialise writes nothing and says what to pass", async () => {
  await withTempDir(async (dir) => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const path = join(dir, "metrics.json");
    await assert.rejects(
      () => atomicWriteJson(path, cyclic),
      /Could not serialise JSON for .*metrics\.json/,
    );
    await assert.rejects(() => atomicWriteJson(path, { n: 1n }), OutputError);
    assert.deepEqual(await listDir(dir), []);
    await atomicWriteJson(path, { val_accuracy: 0.9 });
    assert.deepEqual(JSON.parse(await Deno.readTextFile(path)), { val_accuracy: 0.9 });
  });
});

Deno.test("atomicWriteFile into a missing directory throws OutputError naming the path", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "missing", "x.txt");
    await assert.rejects(
      () => atomicWriteFile(path, "x"),
      (err: unknown) => err instanceof OutputError && err.message.includes(path),
    );
  });
});

Deno.test("ensureWritableDir creates nested directories and leaves no probe behind", async () => {
  await withTempDir(async (dir) => {
    const out = join(dir, "a", "b", "c");
    assert.equal(await ensureWritableDir(out), out);
    assert.deepEqual(await listDir(out), []);
    await ensureWritableDir(out); // existing directory is fine
  });
});

Deno.test("a directory that cannot be created (a file is in the way) gives OutputError naming it", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "plain-file");
    await Deno.writeTextFile(file, "not a directory");
    const out = join(file, "sub");
    await assert.rejects(
      () => ensureWritableDir(out),
      (err: unknown) =>
        err instanceof OutputError && err.message.includes(out) &&
        /another output directory/.test(err.message),
    );
    await assert.rejects(
      () => ensureWritableDir(file),
      (err: unknown) => err instanceof OutputError && err.message.includes("not a directory"),
    );
  });
});

Deno.test("a run deletes a stale metrics.json at start and writes it only on completion", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(join(dir, METRICS_FILE), '{"val_accuracy": 0.99}');
    const run = await startRun(dir, { command: "test" });
    let status = await readRunStatus(dir);
    assert.equal(status.hasMetrics, false);
    assert.equal(status.complete, false);
    assert.equal(status.record?.status, "running");
    assert.deepEqual(status.record?.info, { command: "test" });

    const csv = await run.writeFile("history.csv", "epoch,loss\n0,0.7\n");
    assert.equal(csv, join(dir, "history.csv"));
    await run.writeJson("config.json", { epochs: 1 });
    assert.equal((await readRunStatus(dir)).complete, false);

    await run.complete({ val_accuracy: 0.8 });
    status = await readRunStatus(dir);
    assert.equal(status.complete, true);
    assert.equal(status.record?.status, "complete");
    assert.ok(status.record?.finished_at);
    assert.deepEqual(await listDir(dir), ["config.json", "history.csv", METRICS_FILE, RUN_FILE]);
  });
});

Deno.test("a failed run keeps its artifacts, records the error and has no metrics.json", async () => {
  await withTempDir(async (dir) => {
    const run = await startRun(dir);
    await run.writeFile("history.csv", "epoch,loss\n0,0.7\n");
    await run.fail(new Error("out of memory"));
    const status = await readRunStatus(dir);
    assert.equal(status.complete, false);
    assert.equal(status.hasMetrics, false);
    assert.equal(status.record?.status, "failed");
    assert.equal(status.record?.error, "out of memory");
    assert.deepEqual(await listDir(dir), ["history.csv", RUN_FILE]);
  });
});

Deno.test("a run refuses to write its marker files as ordinary artifacts", async () => {
  await withTempDir(async (dir) => {
    const run = await startRun(dir);
    await assert.rejects(() => run.writeJson(METRICS_FILE, {}), /use complete\(metrics\)/);
    await assert.rejects(() => run.writeFile(RUN_FILE, "{}"), OutputError);
  });
});

Deno.test("startRun in an uncreatable directory fails before anything runs", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "f");
    await Deno.writeTextFile(file, "");
    await assert.rejects(() => startRun(join(file, "run")), OutputError);
  });
});
