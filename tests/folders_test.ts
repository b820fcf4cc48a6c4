import assert from "node:assert/strict";
import { join } from "node:path";
import { checkSeparateFolders } from "../lib/runs/folders.ts";
import { OutputError } from "../lib/runs/outputs.ts";
import { withTempDir } from "./fixtures.ts";

Deno.test("separate dataset and output folders pass, also side by side with a common prefix", async () => {
  await withTempDir(async (dir) => {
    await checkSeparateFolders(join(dir, "data"), join(dir, "outputs"));
    await checkSeparateFolders(join(dir, "data"), join(dir, "data-out"));
    await checkSeparateFolders(join(dir, "..data"), join(dir, "out"));
  });
});

Deno.test("an output folder inside the dataset, the dataset inside it, or the same folder is refused", async () => {
  await withTempDir(async (dir) => {
    const data = join(dir, "data");
    await assert.rejects(
      checkSeparateFolders(data, join(data, "training_set", "cars")),
      (e: unknown) => e instanceof OutputError && /is inside the dataset folder/.test(e.message),
    );
    await assert.rejects(
      checkSeparateFolders(data, dir),
      (e: unknown) => e instanceof OutputError && /is inside the output folder/.test(e.message),
    );
    await assert.rejects(checkSeparateFolders(data, data), OutputError);
    await assert.rejects(checkSeparateFolders(data, `${data}/./x/..`), OutputError);
  });
});

Deno.test("a symlink does not hide an output folder inside the dataset", async () => {
  await withTempDir(async (dir) => {
    const data = join(dir, "data");
    await Deno.mkdir(join(data, "training_set"), { recursive: true });
    await Deno.symlink(join(data, "training_set"), join(dir, "link"));
    await assert.rejects(
      checkSeparateFolders(data, join(dir, "link", "not-yet-created")),
      OutputError,
    );
  });
});
