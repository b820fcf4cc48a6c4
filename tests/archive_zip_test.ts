/** The streaming zip reader: declared sizes are not trusted, contents are checked. */
import assert from "node:assert/strict";
import * as path from "node:path";
import { crc32, readZipEntries } from "../lib/data/archive_zip.ts";
import { ArchiveError } from "../lib/data/archive_entry.ts";
import { makeZip } from "./data_fixtures.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Overwrites the uncompressed size of every central directory entry (a lying zip). */
function lieAboutSizes(zip: Uint8Array, size: number): Uint8Array {
  const out = zip.slice();
  const view = new DataView(out.buffer);
  for (let p = 0; p + 46 <= out.length; p++) {
    if (view.getUint32(p, true) === 0x02014b50) view.setUint32(p + 24, size, true);
  }
  return out;
}

Deno.test("entries stream in chunks and match their content", async () => {
  await withTempDir(async (dir) => {
    const big = new Uint8Array(300_000).map((_, i) => (i * 31) & 0xff);
    const archive = path.join(dir, "a.zip");
    await Deno.writeFile(
      archive,
      await makeZip([
        { name: "big.bin", data: big, method: 0 }, // stored: read from the file 64 KiB at a time
        { name: "d.bin", data: big }, // deflated
      ]),
    );
    const seen: Record<string, number> = {};
    for await (const e of readZipEntries(archive)) {
      let n = 0;
      let chunks = 0;
      let crc = 0;
      for await (const c of e.body!()) {
        n += c.length;
        chunks++;
        crc = crc32(c, crc);
      }
      seen[e.name] = n;
      assert.equal(crc, crc32(big));
      if (e.name === "big.bin") assert.ok(chunks > 1, "read in more than one chunk");
    }
    assert.deepEqual(seen, { "big.bin": 300_000, "d.bin": 300_000 });
  });
});

Deno.test("an entry that inflates to more than it declares is refused", async () => {
  await withTempDir(async (dir) => {
    const archive = path.join(dir, "liar.zip");
    await Deno.writeFile(
      archive,
      lieAboutSizes(await makeZip([{ name: "z.bin", data: new Uint8Array(200_000) }]), 1000),
    );
    await assert.rejects(
      (async () => {
        for await (const e of readZipEntries(archive)) for await (const _ of e.body!()) { /* */ }
      })(),
      (e: unknown) =>
        e instanceof ArchiveError &&
        /inflates to more than the 1000 bytes it declares/.test(e.message),
    );
  });
});

Deno.test("wantData reads the whole content, capped by the limits", async () => {
  await withTempDir(async (dir) => {
    const archive = path.join(dir, "a.zip");
    await Deno.writeFile(archive, await makeZip([{ name: "a.txt", data: "abc" }]));
    for await (const e of readZipEntries(archive, { wantData: () => true })) {
      assert.deepEqual(e.data, new TextEncoder().encode("abc"));
    }
    await assert.rejects(
      (async () => {
        for await (const _ of readZipEntries(archive, { limits: { maxEntryBytes: 2 } })) { /* */ }
      })(),
      /"a\.txt" declares 3 B, more than 2 B/,
    );
  });
});
