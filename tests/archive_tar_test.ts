/** The streaming tar reader: bodies stream, unread bodies are skipped, headers are bounded. */
import assert from "node:assert/strict";
import { readTarStream } from "../lib/data/archive_tar.ts";
import { ArchiveError } from "../lib/data/archive_entry.ts";
import { makeTar } from "./data_fixtures.ts";

const stream = (bytes: Uint8Array) => new Blob([bytes.slice()]).stream();

Deno.test("file bodies stream in chunks; a body left unread is skipped", async () => {
  const big = new Uint8Array(200_000).map((_, i) => i & 0xff);
  const tar = makeTar([
    { name: "a/big.bin", data: big },
    { name: "a/skip.bin", data: new Uint8Array(5000).fill(7) },
    { name: "a/last.txt", data: "end" },
  ]);
  const got: Record<string, number[]> = {};
  for await (const e of readTarStream(stream(tar), "t.tar")) {
    if (e.name === "a/skip.bin") continue;
    const sizes: number[] = [];
    let sum = 0;
    for await (const c of e.body!()) {
      sizes.push(c.length);
      sum += c.reduce((a, b) => a + b, 0);
    }
    got[e.name] = [sizes.length, sizes.reduce((a, b) => a + b, 0), sum];
  }
  const bigSum = big.reduce((a, b) => a + b, 0);
  assert.ok(got["a/big.bin"][0] > 1);
  assert.deepEqual(got["a/big.bin"].slice(1), [200_000, bigSum]);
  assert.deepEqual(got["a/last.txt"], [1, 3, 101 + 110 + 100]);
});

Deno.test("a pax header larger than 1 MiB is refused before it is read", async () => {
  const tar = makeTar([{ name: "PaxHeader/x", type: "x", data: new Uint8Array(0) }]);
  // Give the pax entry a 2 GiB size in its header (octal), with a matching checksum.
  const size = (2 * 1024 ** 3).toString(8).padStart(11, "0");
  tar.set(new TextEncoder().encode(size + "\0"), 124);
  tar.fill(0x20, 148, 156);
  const sum = tar.subarray(0, 512).reduce((a, b) => a + b, 0);
  tar.set(new TextEncoder().encode(sum.toString(8).padStart(6, "0") + "\0 "), 148);
  await assert.rejects(
    (async () => {
      for await (const _ of readTarStream(stream(tar), "t.tar")) { /* */ }
    })(),
    (e: unknown) => e instanceof ArchiveError && /extended header/.test(e.message),
  );
});
