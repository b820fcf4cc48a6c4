import assert from "node:assert/strict";
import * as path from "node:path";
import sharp from "sharp";
import { ArchiveError } from "../lib/data/archive.ts";
import { DownloadError, listPartialFiles } from "../lib/data/download.ts";
import {
  DatasetSourceError,
  describeDatasetSource,
  EMBEDDED_DATASET_DIR,
  ensureDataset,
  fetchArticleDataset,
  fetchCifar10Dataset,
  hasDatasetLayout,
  installLocalDataset,
  SOURCE_NOTE,
} from "../lib/data/sources.ts";
import {
  articleRepoEntries,
  cifarRecord,
  closedPortUrl,
  gzip,
  listTree,
  makeMiniCifar,
  makeTar,
  makeZip,
  startServer,
  tarSpecsToZip,
} from "./data_fixtures.ts";
import { makeArticleLayout } from "./fixtures.ts";

const quiet = () => {};
const ROOT = "image-recognition-with-keras-convolutional-neural-networks-master";

const articleEntries = await articleRepoEntries(ROOT);
const articleTarGz = await gzip(makeTar(articleEntries, { globalPax: { comment: "f00dfeed" } }));
const articleZip = await makeZip(tarSpecsToZip(articleEntries));
const miniCifar = await makeMiniCifar(30);

/** A temporary project: `data/` holding only its README, and an empty cache. */
async function withProject(fn: (data: string, cacheDir: string, root: string) => Promise<void>) {
  const root = await Deno.makeTempDir();
  try {
    const data = path.join(root, "data");
    await Deno.mkdir(data);
    await Deno.writeTextFile(path.join(data, "README.md"), "# data\n");
    const cacheDir = path.join(root, "cache");
    await fn(data, cacheDir, root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

function expectedArticleTree(): string[] {
  const files = ["README.md"];
  for (const [split, n] of [["training_set", 3], ["val_set", 2], ["test", 2]] as const) {
    for (const cls of ["cars", "planes"]) {
      for (let i = 1; i <= n; i++) files.push(`${split}/${cls}/${i}.jpg`);
    }
  }
  return files.sort();
}

Deno.test("the article's GitHub tarball fills data/ with training_set, val_set and test", async () => {
  const server = startServer({ "/master.tar.gz": articleTarGz });
  try {
    await withProject(async (data, cacheDir, root) => {
      const summary = await fetchArticleDataset(data, {
        cacheDir,
        urls: [server.url("/master.tar.gz")],
        log: quiet,
      });
      assert.equal(summary.source, "article");
      assert.deepEqual(listTree(data), expectedArticleTree());
      assert.deepEqual(summary.counts.training_set, { cars: 3, planes: 3, unlabelled: 0 });
      assert.deepEqual(summary.counts.test, { cars: 2, planes: 2, unlabelled: 0 });
      assert.ok(await hasDatasetLayout(data));
      assert.deepEqual(
        [...Deno.readDirSync(root)].map((e) => e.name).sort(),
        ["cache", "data"],
        "no staging folder is left",
      );

      // Again, replacing what is there: the cached archive is used, with no request.
      await assert.rejects(
        fetchArticleDataset(data, { cacheDir, urls: [server.url("/master.tar.gz")], log: quiet }),
        /already has training_set\/, val_set\/, test\//,
      );
      await fetchArticleDataset(data, {
        cacheDir,
        urls: [server.url("/master.tar.gz")],
        log: quiet,
        overwrite: true,
      });
      assert.equal(server.totalHits(), 1, "the cache hit did not touch the network");
      assert.deepEqual(listTree(data), expectedArticleTree());
    });
  } finally {
    await server.close();
  }
});

Deno.test("the article's dataset also installs from a zip archive, after a 404 on the first branch", async () => {
  const server = startServer({ "/main.zip": articleZip });
  try {
    await withProject(async (data, cacheDir) => {
      const logs: string[] = [];
      await fetchArticleDataset(data, {
        cacheDir,
        urls: [server.url("/master.zip"), server.url("/main.zip")],
        log: (m) => logs.push(m),
      });
      assert.deepEqual(listTree(data), expectedArticleTree());
      assert.equal(server.hits("/master.zip"), 1);
      assert.ok(logs.some((m) => m.includes("HTTP 404")));
    });
  } finally {
    await server.close();
  }
});

Deno.test("an archive without training_set is refused, naming the archive and what it holds", async () => {
  const other = await gzip(makeTar([
    { name: "repo-master/", type: "5" },
    { name: "repo-master/notebook.ipynb", data: "{}" },
    { name: "repo-master/images/1.jpg", data: "x" },
  ], { globalPax: { comment: "abc" } }));
  const server = startServer({ "/master.tar.gz": other });
  try {
    await withProject(async (data, cacheDir) => {
      await assert.rejects(
        fetchArticleDataset(data, { cacheDir, urls: [server.url("/master.tar.gz")], log: quiet }),
        (e: unknown) => {
          assert.ok(e instanceof DatasetSourceError);
          assert.match(e.message, /has no folder with training_set\/, val_set\/ and test\//);
          assert.ok(e.message.includes("repo-master/notebook.ipynb"));
          assert.ok(e.message.includes(cacheDir), "names the archive");
          return true;
        },
      );
      assert.deepEqual(listTree(data), ["README.md"], "data/ is untouched");
      assert.deepEqual(listTree(cacheDir), [], "the useless archive is not kept");
    });
  } finally {
    await server.close();
  }
});

Deno.test("an archive with a '..' or an absolute entry is refused and writes nothing outside", async () => {
  for (const evil of [`${ROOT}/data/../../../escaped.jpg`, "/tmp/carplane-escaped.jpg"]) {
    const bad = await gzip(makeTar([...articleEntries, { name: evil, data: "x" }]));
    const server = startServer({ "/master.tar.gz": bad });
    try {
      await withProject(async (data, cacheDir, root) => {
        await assert.rejects(
          fetchArticleDataset(data, { cacheDir, urls: [server.url("/master.tar.gz")], log: quiet }),
          (e: unknown) => e instanceof ArchiveError && e.message.includes(evil),
        );
        assert.deepEqual(listTree(root), ["data/README.md"]);
      });
    } finally {
      await server.close();
    }
  }
});

Deno.test("download failures of the article's archive leave no partial file in the cache", async () => {
  const server = startServer({ "/cut.tar.gz": { cut: articleTarGz } });
  try {
    await withProject(async (data, cacheDir) => {
      const urls = [
        server.url("/missing.tar.gz"),
        closedPortUrl("/x.tar.gz"),
        server.url("/cut.tar.gz"),
      ];
      await assert.rejects(
        fetchArticleDataset(data, { cacheDir, urls, log: quiet }),
        (e: unknown) => {
          assert.ok(e instanceof DownloadError);
          assert.match(e.message, /HTTP 404/);
          assert.match(e.message, /network error/);
          assert.match(e.message, /connection broke|stopped after/);
          return true;
        },
      );
      assert.deepEqual(listPartialFiles(cacheDir), []);
      assert.deepEqual(listTree(cacheDir), []);
      assert.deepEqual(listTree(data), ["README.md"]);
    });
  } finally {
    await server.close();
  }
});

async function rawPixels(file: string): Promise<Uint8Array> {
  const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height, info.channels], [32, 32, 3]);
  return new Uint8Array(data);
}

function interleaved(record: Uint8Array): Uint8Array {
  const out = new Uint8Array(3072);
  for (let p = 0; p < 1024; p++) {
    for (let c = 0; c < 3; c++) out[p * 3 + c] = record[1 + c * 1024 + p];
  }
  return out;
}

Deno.test("CIFAR-10 binary batches become PNGs of cars and planes in the article's layout", async () => {
  const server = startServer({ "/cifar-10-binary.tar.gz": miniCifar });
  try {
    await withProject(async (data, cacheDir) => {
      // 30 records per batch cycle through the ten labels: 3 cars and 3 planes per batch, so
      // 10 per class needs four training batches.
      const summary = await fetchCifar10Dataset(data, {
        cacheDir,
        url: server.url("/cifar-10-binary.tar.gz"),
        perClass: 10,
        testCount: 5,
        log: quiet,
      });
      assert.equal(summary.source, "cifar10");
      assert.deepEqual(summary.counts, {
        training_set: { cars: 8, planes: 8, unlabelled: 0 },
        val_set: { cars: 2, planes: 2, unlabelled: 0 },
        test: { cars: 3, planes: 2, unlabelled: 0 },
      });
      const tree = listTree(data);
      // Batch 1 labels are (i + 1) % 10: the first car is record 0, the first plane record 9.
      assert.ok(tree.includes("training_set/cars/cifar10_data_batch_1_00000.png"));
      assert.ok(tree.includes("training_set/planes/cifar10_data_batch_1_00009.png"));
      // Cars are records 0, 10, 20 of batch 1; 9, 19, 29 of batch 2; 8, 18, 28 of batch 3; 7, ...
      assert.deepEqual(tree.filter((f) => f.startsWith("val_set/cars/")), [
        "val_set/cars/cifar10_data_batch_3_00028.png",
        "val_set/cars/cifar10_data_batch_4_00007.png",
      ]);
      assert.ok(tree.includes("test/cars/cifar10_test_batch_00005.png"));
      assert.ok(!tree.some((f) => f.includes("data_batch_5")), "batch 5 was not needed");

      const car = await rawPixels(
        path.join(data, "training_set/cars/cifar10_data_batch_1_00000.png"),
      );
      assert.deepEqual(car, interleaved(cifarRecord(1, 1000)));
      const plane = await rawPixels(path.join(data, "test/planes/cifar10_test_batch_00004.png"));
      assert.deepEqual(plane, interleaved(cifarRecord(0, 6004)));
    });
  } finally {
    await server.close();
  }
});

Deno.test("asking CIFAR-10 for more images than the archive holds fails and installs nothing", async () => {
  const server = startServer({ "/c.tar.gz": miniCifar });
  try {
    await withProject(async (data, cacheDir) => {
      await assert.rejects(
        fetchCifar10Dataset(data, {
          cacheDir,
          url: server.url("/c.tar.gz"),
          perClass: 100,
          log: quiet,
        }),
        (e: unknown) =>
          e instanceof DatasetSourceError && /found only 15 of 100 cars/.test(e.message),
      );
      assert.deepEqual(listTree(data), ["README.md"]);
    });
  } finally {
    await server.close();
  }
});

Deno.test("a CIFAR-10 archive that fails its MD5 check is refused", async () => {
  const server = startServer({ "/c.tar.gz": miniCifar });
  try {
    await withProject(async (data, cacheDir) => {
      await assert.rejects(
        fetchCifar10Dataset(data, {
          cacheDir,
          url: server.url("/c.tar.gz"),
          md5: "c32a1d4ab5d03f1284b67883e8d87530",
          log: quiet,
        }),
        (e: unknown) =>
          e instanceof DownloadError && /MD5 is [0-9a-f]{32}, expected c32a1d/.test(e.message),
      );
      assert.deepEqual(listTree(cacheDir), []);
    });
  } finally {
    await server.close();
  }
});

Deno.test("ensureDataset keeps a dataset that is there, without any request", async () => {
  const server = startServer({ "/master.tar.gz": articleTarGz });
  try {
    await withProject(async (data, cacheDir) => {
      await fetchArticleDataset(data, {
        cacheDir,
        urls: [server.url("/master.tar.gz")],
        log: quiet,
      });
      const summary = await ensureDataset(data, {
        cacheDir: path.join(cacheDir, "other"),
        articleUrls: [closedPortUrl()],
        cifarUrl: closedPortUrl(),
        log: quiet,
      });
      assert.equal(summary.source, "existing");
      assert.equal(server.totalHits(), 1);
    });
  } finally {
    await server.close();
  }
});

Deno.test("ensureDataset falls back to CIFAR-10 when the article's archive is missing, saying so", async () => {
  const server = startServer({ "/cifar-10-binary.tar.gz": miniCifar });
  try {
    await withProject(async (data, cacheDir) => {
      const logs: string[] = [];
      const summary = await ensureDataset(data, {
        cacheDir,
        articleUrls: [server.url("/master.tar.gz")],
        cifarUrl: server.url("/cifar-10-binary.tar.gz"),
        perClass: 5,
        testCount: 3,
        log: (m) => logs.push(m),
      });
      assert.equal(summary.source, "cifar10");
      assert.deepEqual(summary.counts.training_set, { cars: 4, planes: 4, unlabelled: 0 });
      assert.ok(logs.some((m) => /falling back to CIFAR-10/.test(m)));
    });
  } finally {
    await server.close();
  }
});

Deno.test("offline, ensureDataset installs the embedded sample, saying what it tried, once", async () => {
  await withProject(async (data, cacheDir) => {
    const articleUrl = closedPortUrl("/master.tar.gz");
    const cifarUrl = closedPortUrl("/cifar-10-binary.tar.gz");
    const logs: string[] = [];
    const summary = await ensureDataset(data, {
      cacheDir,
      articleUrls: [articleUrl],
      cifarUrl,
      log: (m) => logs.push(m),
    });
    assert.equal(summary.source, "embedded");
    assert.equal(summary.origin, EMBEDDED_DATASET_DIR);
    assert.deepEqual(summary.counts, {
      training_set: { cars: 80, planes: 80, unlabelled: 0 },
      val_set: { cars: 20, planes: 20, unlabelled: 0 },
      test: { cars: 8, planes: 7, unlabelled: 0 },
    });
    const text = logs.join("\n");
    assert.match(text, /trying the article's own images first/);
    assert.match(text, /The article's dataset is not available .*; falling back to CIFAR-10/);
    assert.match(text, /CIFAR-10 is not available either .*; using the sample embedded/);
    assert.match(text, /deno task data --source article --force/);
    assert.equal(summary.notUsed?.length, 2);
    assert.match(
      describeDatasetSource(summary),
      /^the sample embedded in the repository, 215 CIFAR-10 photos \(.*\); not available: the article's own images: Could not download .*; CIFAR-10: Could not download/,
    );
    // the copy is complete, beside the README and a note saying where it came from
    const tree = listTree(data);
    assert.equal(tree.filter((f) => /\.jpg$/.test(f)).length, 215);
    assert.deepEqual(tree.filter((f) => !/\.jpg$/.test(f)), [SOURCE_NOTE, "README.md"]);
    // the next run keeps it, without a request, and still says what it is
    const again: string[] = [];
    const next = await ensureDataset(data, {
      cacheDir,
      articleUrls: [articleUrl],
      cifarUrl,
      log: (m) => again.push(m),
    });
    assert.equal(next.source, "existing");
    assert.equal(next.installedFrom?.source, "embedded");
    assert.match(
      describeDatasetSource(next),
      /^the sample embedded in the repository, 215 CIFAR-10 photos \(.*\), installed on \d{4}-\d\d-\d\d$/,
    );
    assert.match(again.join("\n"), /^Using the dataset in .*: the sample embedded/);
  });
});

Deno.test("a note that is not ensureDataset's own, or about other files, is ignored", async () => {
  await withProject(async (data, cacheDir) => {
    const offline = { cacheDir, articleUrls: [closedPortUrl()], cifarUrl: closedPortUrl() };
    await ensureDataset(data, { ...offline, log: quiet });
    assert.equal((await ensureDataset(data, { log: quiet })).installedFrom?.source, "embedded");
    // the sample replaced by other images (deno task data --force, or by hand): the note is stale
    await Deno.remove(path.join(data, "test", "cars", "0100.jpg"));
    const replaced = await ensureDataset(data, { log: quiet });
    assert.equal(replaced.installedFrom, undefined);
    assert.equal(describeDatasetSource(replaced), `the dataset already in ${data}`);
    await Deno.writeTextFile(path.join(data, SOURCE_NOTE), '{"source": "somewhere"}');
    assert.equal((await ensureDataset(data, { log: quiet })).installedFrom, undefined);
  });
});

Deno.test("describeDatasetSource names each source", () => {
  const counts = {
    training_set: { cars: 1, planes: 1, unlabelled: 0 },
    val_set: { cars: 1, planes: 1, unlabelled: 0 },
    test: { cars: 1, planes: 0, unlabelled: 0 },
  };
  const of = (source: "article" | "cifar10" | "local", origin: string) =>
    describeDatasetSource({ dir: "/d", source, origin, counts });
  assert.equal(of("article", "/c/a.tar.gz"), "the article's own images (/c/a.tar.gz)");
  assert.match(of("cifar10", "/c/cifar.tar.gz"), /^CIFAR-10 cars and planes .*\(\/c\/cifar/);
  assert.equal(of("local", "/m/set"), "a copy of /m/set");
});

Deno.test("offline without the embedded sample, ensureDataset stops with both URLs and what to do", async () => {
  await withProject(async (data, cacheDir) => {
    const articleUrl = closedPortUrl("/master.tar.gz");
    const cifarUrl = closedPortUrl("/cifar-10-binary.tar.gz");
    await assert.rejects(
      ensureDataset(data, {
        cacheDir,
        articleUrls: [articleUrl],
        cifarUrl,
        embeddedDir: null,
        log: quiet,
      }),
      (e: unknown) => {
        assert.ok(e instanceof DatasetSourceError);
        assert.ok(e.message.includes(articleUrl));
        assert.ok(e.message.includes(cifarUrl));
        assert.ok(e.message.includes("deno task data --source DIR"));
        return true;
      },
    );
    assert.deepEqual(listTree(data), ["README.md"]);
  });
});

Deno.test("a local folder or archive with the dataset is copied into data/", async () => {
  const server = startServer({ "/master.tar.gz": articleTarGz });
  try {
    await withProject(async (data, cacheDir, root) => {
      const first = path.join(root, "first");
      await fetchArticleDataset(first, {
        cacheDir,
        urls: [server.url("/master.tar.gz")],
        log: quiet,
      });
      const summary = await installLocalDataset(root, data, { log: quiet });
      assert.equal(summary.source, "local");
      assert.deepEqual(listTree(data), expectedArticleTree());
      assert.ok(await hasDatasetLayout(first), "the source folder is left in place");

      const archive = path.join(root, "dataset.tar.gz");
      await Deno.writeFile(archive, articleTarGz);
      await installLocalDataset(archive, data, { log: quiet, overwrite: true });
      assert.deepEqual(listTree(data), expectedArticleTree());

      await assert.rejects(
        installLocalDataset(path.join(root, "nowhere"), data, { log: quiet }),
        DatasetSourceError,
      );
    });
  } finally {
    await server.close();
  }
});

Deno.test("a local dataset with any class names is installed; classes that differ between splits are refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cats = await makeArticleLayout(path.join(dir, "cats-dogs"), {
      train: { cats: 2, dogs: 2 },
      val: { cats: 1, dogs: 1 },
      test: { cats: 1, dogs: 1 },
    });
    await installLocalDataset(cats, path.join(dir, "data"), { log: quiet });
    assert.ok(await hasDatasetLayout(path.join(dir, "data")));
    const mixed = await makeArticleLayout(path.join(dir, "mixed"), {
      train: { cats: 2, dogs: 2 },
      val: { cats: 1, ships: 1 },
      test: { cats: 1, dogs: 1 },
    });
    await assert.rejects(
      installLocalDataset(mixed, path.join(dir, "data2"), { log: quiet }),
      (e: unknown) =>
        e instanceof DatasetSourceError &&
        /not in the article's layout: Class folders differ/.test(e.message),
    );
    assert.equal(await hasDatasetLayout(mixed), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
