/** Staging folders of `deno task data` are removed on signals and by the next run. */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  makeStagingDir,
  removeStagingDir,
  removeStagingDirsSync,
  removeStaleStagingDirs,
} from "../lib/data/staging.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const names = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();

Deno.test("staging folders carry the pid, and removeStagingDirsSync removes the live ones", async () => {
  await withTempDir(async (dir) => {
    const dest = join(dir, "data");
    const a = await makeStagingDir(dest, "incoming");
    const b = await makeStagingDir(dest, "staging");
    assert.match(a, new RegExp(`data\\.incoming-${Deno.pid}-[0-9a-f]{8}$`));
    assert.match(b, new RegExp(`\\.data\\.staging-${Deno.pid}-[0-9a-f]{8}$`));
    await Deno.writeTextFile(join(a, "x.jpg"), "x");
    await removeStagingDir(b);
    assert.deepEqual(removeStagingDirsSync(), [a]);
    assert.deepEqual(names(dir), []);
    assert.deepEqual(removeStagingDirsSync(), []);
  });
});

Deno.test("a staging folder of a process that is gone is removed; a live one is kept", async () => {
  await withTempDir(async (dir) => {
    const dest = join(dir, "data");
    const mine = await makeStagingDir(dest, "incoming");
    // A pid that cannot be running (above Linux' pid_max).
    await Deno.mkdir(join(dir, "data.incoming-99999999-0123abcd"));
    await Deno.mkdir(join(dir, ".data.staging-99999999-0123abcd"));
    await Deno.mkdir(join(dir, "other.incoming-99999999-0123abcd"));
    const removed = await removeStaleStagingDirs(dest);
    if (Deno.build.os === "linux") {
      assert.deepEqual(removed.map((p) => p.slice(dir.length + 1)).sort(), [
        ".data.staging-99999999-0123abcd",
        "data.incoming-99999999-0123abcd",
      ]);
    }
    assert.ok(names(dir).includes(mine.slice(dir.length + 1)));
    assert.ok(names(dir).includes("other.incoming-99999999-0123abcd"));
    await removeStagingDir(mine);
  });
});
