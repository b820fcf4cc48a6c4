import assert from "node:assert/strict";
import { join } from "node:path";
import {
  atomicWriteFile,
  atomicWriteJson,
  ensureWritableDir,
  OutputError,
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
