import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as path from "node:path";
import {
  cacheFileName,
  defaultCacheDir,
  discardCachedFile,
  download,
  DownloadError,
  listPartialFiles,
  resolveLocalOrDownload,
} from "../lib/data/download.ts";
import { closedPortUrl, startServer } from "./data_fixtures.ts";

const quiet = () => {};
const payload = new Uint8Array(200_000).map((_, i) => (i * 13) & 0xff);
const md5 = createHash("md5").update(payload).digest("hex");
const sha256 = createHash("sha256").update(payload).digest("hex");

Deno.test("the cache dir comes from CARPLANE_CACHE_DIR, then XDG_CACHE_HOME, then ~/.cache", () => {
  const env = (vars: Record<string, string>) => (name: string) => vars[name];
  assert.equal(
    defaultCacheDir(env({ CARPLANE_CACHE_DIR: "/c/x", XDG_CACHE_HOME: "/xdg", HOME: "/h" })),
    "/c/x",
  );
  assert.equal(defaultCacheDir(env({ XDG_CACHE_HOME: "/xdg", HOME: "/h" })), "/xdg/carplane");
  assert.equal(defaultCacheDir(env({ HOME: "/h" })), "/h/.cache/carplane");
});

Deno.test("a download lands in the cache, checked, and a second call does not touch the network", async () => {
  const server = startServer({ "/data/file.bin": payload });
  const cacheDir = await Deno.makeTempDir();
  try {
    const seen: number[] = [];
    const opts = {
      cacheDir,
      expectedSize: payload.length,
      md5,
      sha256,
      log: quiet,
      progressBar: false,
      onProgress: (p: { received: number }) => seen.push(p.received),
    };
    const file = await download(server.url("/data/file.bin"), opts);
    const key = cacheFileName([server.url("/data/file.bin")], { md5, sha256 });
    assert.match(key, /^[0-9a-f]{12}-file\.bin$/);
    assert.equal(file, path.join(cacheDir, key));
    assert.deepEqual(await Deno.readFile(file), payload);
    assert.equal(seen.at(-1), payload.length);
    assert.equal(server.hits("/data/file.bin"), 1);

    const again = await download(server.url("/data/file.bin"), opts);
    assert.equal(again, file);
    assert.equal(server.totalHits(), 1, "a cache hit must not make a request");
    assert.deepEqual(listPartialFiles(cacheDir), []);
  } finally {
    await server.close();
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("a stale partial file of an interrupted download is cleaned up, a fresh one kept", async () => {
  const server = startServer({ "/file.bin": payload });
  const cacheDir = await Deno.makeTempDir();
  try {
    const name = cacheFileName([server.url("/file.bin")]);
    const stale = path.join(cacheDir, `${name}.part-0123456789ab`);
    const fresh = path.join(cacheDir, `${name}.part-ba9876543210`);
    await Deno.writeFile(stale, new Uint8Array(10));
    await Deno.writeFile(fresh, new Uint8Array(10));
    const old = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await Deno.utime(stale, old, old);
    await download(server.url("/file.bin"), { cacheDir, log: quiet });
    assert.deepEqual(listPartialFiles(cacheDir), [`${name}.part-ba9876543210`]);
  } finally {
    await server.close();
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("a corrupt cached file is downloaded again", async () => {
  const server = startServer({ "/file.bin": payload });
  const cacheDir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(
      path.join(cacheDir, cacheFileName([server.url("/file.bin")], { md5 })),
      new Uint8Array(payload.length),
    );
    const messages: string[] = [];
    const file = await download(server.url("/file.bin"), {
      cacheDir,
      md5,
      log: (m) => messages.push(m),
      progressBar: false,
    });
    assert.deepEqual(await Deno.readFile(file), payload);
    assert.equal(server.hits("/file.bin"), 1);
    assert.ok(messages.some((m) => m.includes("not usable") && m.includes("MD5")));
  } finally {
    await server.close();
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("HTTP 404 gives a DownloadError with the URL and the offline hint, and no file", async () => {
  const server = startServer({});
  const cacheDir = await Deno.makeTempDir();
  try {
    const url = server.url("/missing.h5");
    const err = await download(url, { cacheDir, log: quiet }).then(
      () => assert.fail("expected an error"),
      (e) => e,
    );
    assert.ok(err instanceof DownloadError);
    assert.match(err.message, /HTTP 404/);
    assert.ok(err.message.includes(url));
    assert.ok(
      err.message.includes(
        `download it by hand from ${url} and put it at ${
          path.join(cacheDir, cacheFileName([url]))
        }`,
      ),
    );
    assert.match(err.message, /or pass a local path/);
    assert.deepEqual([...Deno.readDirSync(cacheDir)], []);
  } finally {
    await server.close();
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("an unreachable host gives a DownloadError saying it is a network error", async () => {
  const cacheDir = await Deno.makeTempDir();
  try {
    const url = closedPortUrl("/weights.h5");
    await assert.rejects(
      download(url, { cacheDir, log: quiet }),
      (e: unknown) => {
        assert.ok(e instanceof DownloadError);
        assert.match(e.message, /network error/);
        assert.ok(e.message.includes(url));
        return true;
      },
    );
    await assert.rejects(
      download("http://no-such-host.invalid/weights.h5", { cacheDir, log: quiet }),
      DownloadError,
    );
    assert.deepEqual([...Deno.readDirSync(cacheDir)], []);
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("a download cut off half way leaves no partial file in the cache", async () => {
  const server = startServer({ "/big.bin": { cut: payload } });
  const cacheDir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      download(server.url("/big.bin"), { cacheDir, log: quiet, progressBar: false }),
      (e: unknown) => {
        assert.ok(e instanceof DownloadError);
        assert.match(e.message, /connection broke|stopped after/);
        assert.ok(e.message.includes(String(payload.length)));
        return true;
      },
    );
    assert.deepEqual([...Deno.readDirSync(cacheDir)], []);
  } finally {
    await server.close();
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("a hash mismatch is refused and the temporary file deleted", async () => {
  const server = startServer({ "/file.bin": payload });
  const cacheDir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      download(server.url("/file.bin"), { cacheDir, md5: "0".repeat(32), log: quiet }),
      (e: unknown) => {
        assert.ok(e instanceof DownloadError);
        assert.ok(e.message.includes(`MD5 is ${md5}, expected ${"0".repeat(32)}`));
        return true;
      },
    );
    await assert.rejects(
      download(server.url("/file.bin"), { cacheDir, sha256: "f".repeat(64), log: quiet }),
      /SHA-256 is/,
    );
    await assert.rejects(
      download(server.url("/file.bin"), { cacheDir, expectedSize: 5, log: quiet }),
      /announces 200000 bytes, expected 5/,
    );
    assert.deepEqual([...Deno.readDirSync(cacheDir)], []);
  } finally {
    await server.close();
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("mirrors are tried in order and every failure is reported when all fail", async () => {
  const server = startServer({ "/b/file.bin": payload, "/broken/file.bin": { status: 500 } });
  const cacheDir = await Deno.makeTempDir();
  try {
    const dead = closedPortUrl("/a/file.bin");
    const file = await download([dead, server.url("/b/file.bin")], {
      cacheDir,
      md5,
      log: quiet,
    });
    assert.deepEqual(await Deno.readFile(file), payload);

    const urls = [
      closedPortUrl("/x/file2.bin"),
      server.url("/nope/file2.bin"),
      server.url("/broken/file.bin"),
    ];
    await assert.rejects(
      download(urls, { cacheDir, fileName: "file2.bin", log: quiet }),
      (e: unknown) => {
        assert.ok(e instanceof DownloadError);
        assert.equal(e.failures.length, 3);
        assert.match(e.message, /from any of 3 URLs/);
        for (const u of urls) assert.ok(e.message.includes(u), `message names ${u}`);
        assert.match(e.message, /HTTP 404/);
        assert.match(e.message, /HTTP 500/);
        assert.ok(e.message.includes(`put it at ${path.join(cacheDir, "file2.bin")}`));
        return true;
      },
    );
  } finally {
    await server.close();
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("a local path is used as it is, and a missing one is an error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const local = path.join(dir, "weights.h5");
    await Deno.writeTextFile(local, "anything");
    assert.equal(await resolveLocalOrDownload(local, { md5: "0".repeat(32) }), local);
    assert.equal(await resolveLocalOrDownload(`file://${local}`), local);
    await assert.rejects(
      resolveLocalOrDownload(path.join(dir, "nope.h5")),
      (e: unknown) => e instanceof DownloadError && /does not exist/.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a URL given to resolveLocalOrDownload goes through the cache", async () => {
  const server = startServer({ "/w.h5": payload });
  const cacheDir = await Deno.makeTempDir();
  try {
    const file = await resolveLocalOrDownload(server.url("/w.h5"), { cacheDir, md5, log: quiet });
    assert.equal(file, path.join(cacheDir, cacheFileName([server.url("/w.h5")], { md5 })));
    assert.equal(server.hits("/w.h5"), 1);
  } finally {
    await server.close();
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("the cache is keyed by the whole URL: same file name, other folder, other file", async () => {
  const v2 = payload.map((b) => b ^ 0xff);
  const server = startServer({ "/v1/w.h5": payload, "/v2/w.h5": v2 });
  const cacheDir = await Deno.makeTempDir();
  try {
    const one = await download(server.url("/v1/w.h5"), { cacheDir, log: quiet });
    const two = await download(server.url("/v2/w.h5"), { cacheDir, log: quiet });
    assert.notEqual(one, two);
    assert.deepEqual(await Deno.readFile(two), v2);
    assert.equal(server.hits("/v2/w.h5"), 1, "v2 is fetched, not taken from v1's file");
    // The expected hash is part of the key too.
    assert.notEqual(
      cacheFileName([server.url("/v1/w.h5")], { md5 }),
      cacheFileName([server.url("/v1/w.h5")]),
    );
    // A cached file that then fails to load is moved aside, so the next run fetches it again.
    const note = await discardCachedFile(one);
    assert.match(note, /moved aside to .*\.unusable; the next run downloads it again/);
    await download(server.url("/v1/w.h5"), { cacheDir, log: quiet });
    assert.equal(server.hits("/v1/w.h5"), 2);
  } finally {
    await server.close();
    await Deno.remove(cacheDir, { recursive: true });
  }
});
