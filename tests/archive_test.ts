import assert from "node:assert/strict";
import * as path from "node:path";
import {
  ArchiveError,
  crc32,
  detectArchiveFormat,
  extractArchive,
  readArchiveEntries,
  safeEntrySegments,
} from "../lib/data/archive.ts";
import { gzip, listTree, makeTar, makeZip, type TarSpec } from "./data_fixtures.ts";

const text = (s: string) => new TextEncoder().encode(s);

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const repoEntries: TarSpec[] = [
  { name: "repo-master/", type: "5" },
  { name: "repo-master/README.md", data: "hello\n" },
  { name: "repo-master/data/", type: "5" },
  { name: "repo-master/data/a.bin", data: new Uint8Array(1500).map((_, i) => i & 0xff) },
  { name: "repo-master/run.sh", data: "#!/bin/sh\n", mode: 0o755 },
];

Deno.test("a GitHub-style tar.gz with a pax global header extracts without a pax_global_header file", async () => {
  await withTempDir(async (dir) => {
    const archive = path.join(dir, "repo.tar.gz");
    await Deno.writeFile(
      archive,
      await gzip(makeTar(repoEntries, { globalPax: { comment: "0123456789abcdef" } })),
    );
    assert.equal(await detectArchiveFormat(archive), "tar.gz");
    const out = path.join(dir, "out");
    const result = await extractArchive(archive, out);
    assert.deepEqual(listTree(out), [
      "repo-master/README.md",
      "repo-master/data/a.bin",
      "repo-master/run.sh",
    ]);
    assert.deepEqual(result.files, listTree(out));
    assert.equal(await Deno.readTextFile(path.join(out, "repo-master/README.md")), "hello\n");
    assert.deepEqual(
      await Deno.readFile(path.join(out, "repo-master/data/a.bin")),
      repoEntries[3].data,
    );
    assert.ok((Deno.statSync(path.join(out, "repo-master/run.sh")).mode! & 0o100) !== 0);
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((e) => e.name).sort(),
      ["out", "repo.tar.gz"],
      "no temporary directory is left behind",
    );
  });
});

Deno.test("long names stored as pax headers, GNU long-name entries and ustar prefixes all come back whole", async () => {
  await withTempDir(async (dir) => {
    const long = (tag: string) =>
      `top/${"d".repeat(60)}/${"e".repeat(50)}/${tag}-${"f".repeat(40)}.txt`;
    const archive = path.join(dir, "long.tar");
    await Deno.writeFile(
      archive,
      makeTar([
        { name: long("pax"), data: "pax", longName: "pax" },
        { name: long("gnu"), data: "gnu", longName: "gnu" },
        { name: long("prefix"), data: "prefix", longName: "ustar-prefix" },
      ]),
    );
    assert.equal(await detectArchiveFormat(archive), "tar");
    const out = path.join(dir, "out");
    await extractArchive(archive, out);
    for (const tag of ["pax", "gnu", "prefix"]) {
      assert.equal(await Deno.readTextFile(path.join(out, long(tag))), tag);
    }
    assert.equal(listTree(out).length, 3);
  });
});

Deno.test("a zip archive with deflated and stored entries extracts like the tarball", async () => {
  await withTempDir(async (dir) => {
    const archive = path.join(dir, "repo.zip");
    await Deno.writeFile(
      archive,
      await makeZip([
        { name: "repo-master/" },
        { name: "repo-master/README.md", data: "hello\n" },
        { name: "repo-master/data/a.bin", data: repoEntries[3].data, method: 8 },
        { name: "repo-master/data/b.txt", data: "stored", method: 0 },
        { name: "repo-master/link", data: "README.md", unixMode: 0o120777 },
      ]),
    );
    assert.equal(await detectArchiveFormat(archive), "zip");
    const out = path.join(dir, "out");
    const result = await extractArchive(archive, out);
    assert.deepEqual(listTree(out), [
      "repo-master/README.md",
      "repo-master/data/a.bin",
      "repo-master/data/b.txt",
    ]);
    assert.deepEqual(
      await Deno.readFile(path.join(out, "repo-master/data/a.bin")),
      repoEntries[3].data,
    );
    assert.equal(await Deno.readTextFile(path.join(out, "repo-master/data/b.txt")), "stored");
    assert.deepEqual(result.skipped.map((s) => s.name), ["repo-master/link"]);
  });
});

for (
  const [label, evil] of [["a '..' segment", "repo/../../escaped.txt"], [
    "an absolute path",
    "/tmp/escaped-abs.txt",
  ]]
) {
  Deno.test(`a tar entry with ${label} is refused and nothing is written anywhere`, async () => {
    await withTempDir(async (dir) => {
      const archive = path.join(dir, "evil.tar.gz");
      await Deno.writeFile(
        archive,
        await gzip(
          makeTar([{ name: "repo/ok.txt", data: "fine" }, { name: evil, data: "gotcha" }]),
        ),
      );
      const out = path.join(dir, "sub", "out");
      await assert.rejects(extractArchive(archive, out), (e: unknown) => {
        assert.ok(e instanceof ArchiveError);
        assert.equal(e.entry, evil);
        assert.ok(e.message.includes(evil), "the message names the entry");
        assert.ok(e.message.includes(archive), "the message names the archive");
        return true;
      });
      assert.deepEqual(listTree(dir), ["evil.tar.gz"]);
      assert.deepEqual([...Deno.readDirSync(path.join(dir, "sub"))], []);
    });
  });

  Deno.test(`a zip entry with ${label} is refused and nothing is written anywhere`, async () => {
    await withTempDir(async (dir) => {
      const archive = path.join(dir, "evil.zip");
      await Deno.writeFile(
        archive,
        await makeZip([{ name: "repo/ok.txt", data: "fine" }, { name: evil, data: "gotcha" }]),
      );
      const out = path.join(dir, "out");
      await assert.rejects(
        extractArchive(archive, out),
        (e: unknown) => e instanceof ArchiveError && e.entry === evil,
      );
      assert.deepEqual(listTree(dir), ["evil.zip"]);
    });
  });
}

Deno.test("entry names are checked segment by segment", () => {
  assert.deepEqual(safeEntrySegments("./a//b/./c/", "x.tar"), ["a", "b", "c"]);
  assert.deepEqual(safeEntrySegments("a/..b/c..", "x.tar"), ["a", "..b", "c.."]);
  assert.throws(() => safeEntrySegments("a\\..\\..\\b", "x.zip"), ArchiveError);
  assert.throws(() => safeEntrySegments("C:/Windows/x", "x.zip"), ArchiveError);
  assert.throws(() => safeEntrySegments("..", "x.tar"), ArchiveError);
});

Deno.test("symlinks and hardlinks in a tarball are skipped, not followed", async () => {
  await withTempDir(async (dir) => {
    const archive = path.join(dir, "links.tar");
    await Deno.writeFile(
      archive,
      makeTar([
        { name: "r/evil-link", type: "2", linkName: "/etc" },
        { name: "r/hard", type: "1", linkName: "/etc/passwd" },
        { name: "r/dev", type: "3" },
        { name: "r/file.txt", data: "x" },
      ]),
    );
    const logs: string[] = [];
    const out = path.join(dir, "out");
    const result = await extractArchive(archive, out, { log: (m) => logs.push(m) });
    assert.deepEqual(listTree(out), ["r/file.txt"]);
    assert.deepEqual(result.skipped.map((s) => s.name), ["r/evil-link", "r/hard", "r/dev"]);
    assert.equal(logs.length, 3);
  });
});

Deno.test("a truncated tar.gz and a file that is no archive give ArchiveErrors and leave nothing", async () => {
  await withTempDir(async (dir) => {
    const full = await gzip(makeTar(repoEntries));
    const truncated = path.join(dir, "cut.tar.gz");
    await Deno.writeFile(truncated, full.subarray(0, Math.floor(full.length / 2)));
    await assert.rejects(extractArchive(truncated, path.join(dir, "o1")), ArchiveError);

    const plainTar = makeTar(repoEntries);
    const cutTar = path.join(dir, "cut.tar");
    await Deno.writeFile(cutTar, plainTar.subarray(0, 512 + 700));
    await assert.rejects(extractArchive(cutTar, path.join(dir, "o2")), /truncated/);

    const html = path.join(dir, "page.tar.gz");
    await Deno.writeTextFile(html, "<!DOCTYPE html><html>404</html>".padEnd(600, " "));
    await assert.rejects(extractArchive(html, path.join(dir, "o3")), (e: unknown) => {
      assert.ok(e instanceof ArchiveError);
      assert.match(e.message, /is not a \.tar\.gz, \.tar or \.zip archive/);
      return true;
    });

    const zip = await makeZip([{ name: "a.txt", data: "abc" }]);
    const cutZip = path.join(dir, "cut.zip");
    await Deno.writeFile(cutZip, zip.subarray(0, zip.length - 10));
    await assert.rejects(extractArchive(cutZip, path.join(dir, "o4")), ArchiveError);
    assert.deepEqual(listTree(dir), ["cut.tar", "cut.tar.gz", "cut.zip", "page.tar.gz"]);
  });
});

Deno.test("an existing destination is refused unless overwrite is asked for", async () => {
  await withTempDir(async (dir) => {
    const archive = path.join(dir, "repo.tar");
    await Deno.writeFile(archive, makeTar(repoEntries));
    const out = path.join(dir, "out");
    await Deno.mkdir(out);
    await Deno.writeTextFile(path.join(out, "old.txt"), "old");
    await assert.rejects(extractArchive(archive, out), /already exists/);
    await extractArchive(archive, out, { overwrite: true });
    assert.ok(!listTree(out).includes("old.txt"));
    assert.ok(listTree(out).includes("repo-master/README.md"));
  });
});

Deno.test("readArchiveEntries streams entries and a caller may stop early", async () => {
  await withTempDir(async (dir) => {
    const archive = path.join(dir, "repo.tar.gz");
    await Deno.writeFile(
      archive,
      await gzip(makeTar(repoEntries, { globalPax: { comment: "x" } })),
    );
    const names: string[] = [];
    for await (
      const e of readArchiveEntries(archive, { wantData: (e) => e.name.endsWith(".md") })
    ) {
      names.push(e.name);
      if (e.name.endsWith(".md")) assert.deepEqual(e.data, text("hello\n"));
      else assert.equal(e.data, undefined);
      if (names.length === 3) break;
    }
    assert.deepEqual(names, ["repo-master/", "repo-master/README.md", "repo-master/data/"]);
  });
});

Deno.test("crc32 matches the standard check value", () => {
  assert.equal(crc32(text("123456789")), 0xcbf43926);
});
