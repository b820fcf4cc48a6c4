import assert from "node:assert/strict";
import { join } from "node:path";
import { isDirectory, pathExists, statOrNull } from "../lib/_fs.ts";

Deno.test("missing paths are null/false; files, folders and dangling links are told apart", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "f.txt");
    await Deno.writeTextFile(file, "x");
    await Deno.symlink(join(dir, "nowhere"), join(dir, "dangling"));
    assert.equal(await statOrNull(join(dir, "missing")), null);
    assert.equal((await statOrNull(file))?.isFile, true);
    assert.equal(await pathExists(file), true);
    assert.equal(await pathExists(join(dir, "dangling")), false);
    assert.equal(await pathExists(join(dir, "dangling"), { followLinks: false }), true);
    assert.equal(await isDirectory(dir), true);
    assert.equal(await isDirectory(file), false);
    assert.equal(await isDirectory(join(dir, "missing")), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("errors other than a missing path are not hidden", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "f.txt");
    await Deno.writeTextFile(file, "x");
    // A path through a regular file fails with NotADirectory, not NotFound.
    await assert.rejects(statOrNull(join(file, "child")));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
