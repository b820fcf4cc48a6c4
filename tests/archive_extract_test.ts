/** Extraction within resource caps (issue 11, item 1): bombs are refused and leave nothing. */
import assert from "node:assert/strict";
import * as path from "node:path";
import { ArchiveError, extractArchive } from "../lib/data/archive.ts";
import { gzip, listTree, makeTar, makeZip } from "./data_fixtures.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const MiB = 1024 * 1024;
const zeros = (n: number) => new Uint8Array(n);

Deno.test("a tar.gz entry declaring more than the per-entry cap is refused and leaves nothing", async () => {
  await withTempDir(async (dir) => {
    const archive = path.join(dir, "bomb.tar.gz");
    await Deno.writeFile(
      archive,
      await gzip(makeTar([
        { name: "ds/small.jpg", data: "abc" },
        { name: "ds/zz.jpg", data: zeros(3 * MiB) },
      ])),
    );
    await assert.rejects(
      extractArchive(archive, path.join(dir, "out"), { limits: { maxEntryBytes: 2 * MiB } }),
      (e: unknown) => {
        assert.ok(e instanceof ArchiveError);
        assert.match(e.message, /entry "ds\/zz\.jpg" declares 3\.0 MiB, more than 2\.0 MiB/);
        assert.equal(e.entry, "ds/zz.jpg");
        return true;
      },
    );
    assert.deepEqual(listTree(dir), ["bomb.tar.gz"]);
  });
});

Deno.test("the total unpacked size is capped while streaming, and the staging folder is removed", async () => {
  await withTempDir(async (dir) => {
    const archive = path.join(dir, "many.tar");
    const entries = Array.from({ length: 5 }, (_, i) => ({
      name: `ds/f${i}.bin`,
      data: new Uint8Array(MiB).map((_, j) => (i * 7 + j) & 0xff),
    }));
    await Deno.writeFile(archive, makeTar(entries));
    await assert.rejects(
      extractArchive(archive, path.join(dir, "out"), { limits: { maxTotalBytes: 3 * MiB } }),
      /unpacks to more than 3\.0 MiB in all/,
    );
    assert.deepEqual(listTree(dir), ["many.tar"]);
  });
});

Deno.test("an expansion ratio above the limit is refused (a gzip of zeros)", async () => {
  await withTempDir(async (dir) => {
    const archive = path.join(dir, "zeros.tar.gz");
    await Deno.writeFile(archive, await gzip(makeTar([{ name: "z.bin", data: zeros(8 * MiB) }])));
    await assert.rejects(
      extractArchive(archive, path.join(dir, "out"), {
        limits: { maxRatio: 50, ratioCheckAfterBytes: MiB },
      }),
      /more than 50 times their size/,
    );
    assert.deepEqual(listTree(dir), ["zeros.tar.gz"]);
    // The same archive within the default limits extracts whole.
    const ok = await extractArchive(archive, path.join(dir, "ok"));
    assert.equal(ok.bytes, 8 * MiB);
    assert.equal((await Deno.stat(path.join(dir, "ok", "z.bin"))).size, 8 * MiB);
  });
});

Deno.test("a zip entry is capped by its inflated size too, whatever it declares", async () => {
  await withTempDir(async (dir) => {
    const archive = path.join(dir, "bomb.zip");
    await Deno.writeFile(archive, await makeZip([{ name: "z.bin", data: zeros(3 * MiB) }]));
    await assert.rejects(
      extractArchive(archive, path.join(dir, "out"), { limits: { maxEntryBytes: 2 * MiB } }),
      /"z\.bin" declares 3\.0 MiB, more than 2\.0 MiB/,
    );
    assert.deepEqual(listTree(dir), ["bomb.zip"]);
  });
});

Deno.test("more entries than allowed are refused", async () => {
  await withTempDir(async (dir) => {
    const archive = path.join(dir, "many.tar");
    await Deno.writeFile(
      archive,
      makeTar(Array.from({ length: 20 }, (_, i) => ({ name: `f${i}.txt`, data: "x" }))),
    );
    await assert.rejects(
      extractArchive(archive, path.join(dir, "out"), { limits: { maxEntries: 10 } }),
      /holds more than 10 entries/,
    );
    assert.deepEqual(listTree(dir), ["many.tar"]);
  });
});
