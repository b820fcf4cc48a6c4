/**
 * Issue 11's reproducers run as a user runs them, through the command-line entry points: each
 * must be refused or reported with a clear message and the right exit code, and leave nothing
 * behind.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { saveModel } from "../lib/models/mod.ts";
import { makeArticleLayout, withTempDir, writeImage } from "./fixtures.ts";
import { gzip, listTree, makeTar } from "./data_fixtures.ts";

const ROOT = new URL("..", import.meta.url).pathname;

async function run(script: string, args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "cli", script), ...args],
    env: { ...env, NO_COLOR: "1", CARPLANE_BACKEND: "cpu" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

const small = {
  train: { cars: 2, planes: 2 },
  val: { cars: 1, planes: 1 },
  test: { cars: 1, planes: 1 },
};

Deno.test("numeric flags are range-checked up front, naming the flag (exit 2)", async () => {
  const cases: [string[], RegExp][] = [
    [
      ["--steps", "99999999999"],
      /--steps takes a whole number from 1 to \d+, in plain digits, got 99999999999/,
    ],
    [["--threads", "64"], /--threads takes a whole number from 1 to 2/],
    [["--epochs", "1e3"], /--epochs takes a whole number .* got "1e3"/],
    [["--epochs", "-1"], /--epochs takes a whole number .* got "-1"/],
    [["--seed", "0x10"], /--seed takes a whole number .* got "0x10"/],
    [["--seed", "9007199254740993"], /--seed takes a whole number from 0 to 9007199254740992/],
    [["--backend", "nonsense"], /--backend takes one of auto, node, wasm, cpu, got "nonsense"/],
    [["extra", "words"], /Unexpected argument "extra"/],
    [["--base", "none", "--weights", "w.h5"], /--weights .* --base none/],
  ];
  for (const [args, message] of cases) {
    const r = await run("reproduce.ts", ["--data", "/nonexistent", ...args]);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(" "));
    assert.doesNotMatch(r.stdout + r.stderr, /Using backend/, "refused before any work");
  }
  const data = await run("data.ts", ["--source", "x", "--per-class", "99999999"]);
  assert.equal(data.code, 2);
  assert.match(data.stderr, /--per-class takes a whole number from 2 to 5000/);
});

Deno.test("path flags are checked before training: a --cache-dir that is a file, an --out file", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "afile");
    await Deno.writeTextFile(file, "x");
    const data = await makeArticleLayout(join(dir, "data"), small);
    const cache = await run("reproduce.ts", ["--quick", "--data", data, "--cache-dir", file]);
    assert.equal(cache.code, 2, cache.stderr);
    assert.match(cache.stderr, /--cache-dir .*afile is a file, not a folder/);
    assert.doesNotMatch(cache.stdout, /Epoch/);
    const out = await run("reproduce.ts", ["--quick", "--data", data, "--out", join(file, "x")]);
    assert.equal(out.code, 2, out.stderr);
    assert.match(out.stderr, /--out .* cannot be created: .*afile is a file/);
    const weights = await run("reproduce.ts", ["--data", data, "--weights", join(dir, "no.h5")]);
    assert.equal(weights.code, 2, weights.stderr);
    assert.match(weights.stderr, /--weights .*no\.h5: no such file or folder/);
  });
});

Deno.test("data --source DIR does not follow links out of the tree, nor dangling ones", async () => {
  await withTempDir(async (dir) => {
    const src = await makeArticleLayout(join(dir, "src"), small);
    const secret = join(dir, "secret.txt");
    await Deno.writeTextFile(secret, "root:x:0:0");
    await Deno.symlink(secret, join(src, "training_set", "cars", "passwd.jpg"));
    await Deno.symlink(join(dir, "nothing.jpg"), join(src, "training_set", "cars", "dangling.jpg"));
    await Deno.symlink("loop.jpg", join(src, "training_set", "cars", "loop.jpg"));
    const dest = join(dir, "data");
    const r = await run("data.ts", ["--source", src, "--dest", dest]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /passwd\.jpg.*link to .*secret\.txt, outside/);
    assert.match(r.stdout + r.stderr, /dangling\.jpg.*link to nothing/);
    assert.match(r.stdout + r.stderr, /loop\.jpg/);
    assert.deepEqual(listTree(join(dest, "training_set", "cars")).length, 2);
  });
});

Deno.test("data --source refuses a tar bomb by its declared size and leaves nothing", async () => {
  await withTempDir(async (dir) => {
    // A tar whose one entry declares 5 GiB (the header alone: nothing is read past it).
    const tar = makeTar([{ name: "ds/training_set/cars/zz.jpg", data: "x" }], { endBlocks: false });
    const header = tar.subarray(0, 512);
    header.set(new TextEncoder().encode((5 * 1024 ** 3).toString(8).padStart(11, "0") + "\0"), 124);
    header.fill(0x20, 148, 156);
    const sum = header.reduce((a, b) => a + b, 0);
    header.set(new TextEncoder().encode(sum.toString(8).padStart(6, "0") + "\0 "), 148);
    const archive = join(dir, "bomb.tar.gz");
    await Deno.writeFile(archive, await gzip(tar));
    const r = await run("data.ts", ["--source", archive, "--dest", join(dir, "data")]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /Refusing to unpack .*bomb\.tar\.gz: entry "ds\/training_set\/cars\/zz\.jpg" declares 5\.0 GiB, more than 1\.0 GiB/,
    );
    assert.deepEqual(listTree(dir), ["bomb.tar.gz"]);
  });
});

Deno.test("data --source validates before installing, and does not tell a user to delete their own file", async () => {
  await withTempDir(async (dir) => {
    const src = await makeArticleLayout(join(dir, "repo", "ds"), {
      ...small,
      test: { boats: 1, cars: 1, planes: 1 },
    });
    const archive = join(dir, "bad.tar");
    const p = new Deno.Command("tar", { args: ["-cf", archive, "-C", join(dir, "repo"), "ds"] });
    assert.equal((await p.output()).code, 0, src);
    const dest = join(dir, "data");
    const r = await run("data.ts", ["--source", archive, "--dest", dest]);
    assert.equal(r.code, 1);
    assert.doesNotMatch(r.stdout, /Installed/);
    assert.match(r.stderr, /Class folders differ/);
    assert.ok(!listTree(dir).some((f) => f.startsWith("data")), listTree(dir).join(" "));
    const notes = join(dir, "notes.txt");
    await Deno.writeTextFile(notes, "my notes\n");
    const n = await run("data.ts", ["--source", notes, "--dest", dest]);
    assert.equal(n.code, 1);
    assert.match(n.stderr, /notes\.txt is not a \.tar\.gz, \.tar or \.zip archive/);
    assert.doesNotMatch(n.stderr, /delete it/i);
    assert.equal(await Deno.readTextFile(notes), "my notes\n");
  });
});

Deno.test({
  name: "SIGINT during data --source removes the partial copy and exits 130",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    await withTempDir(async (dir) => {
      const entries = [];
      for (const split of ["training_set", "val_set", "test"]) {
        for (const cls of ["cars", "planes"]) {
          for (let i = 0; i < 1500; i++) {
            entries.push({ name: `ds/${split}/${cls}/${i}.jpg`, data: new Uint8Array(2048) });
          }
        }
      }
      const archive = join(dir, "big.tar");
      await Deno.writeFile(archive, makeTar(entries));
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          join(ROOT, "cli", "data.ts"),
          "--source",
          archive,
          "--dest",
          join(dir, "data"),
        ],
        stdout: "null",
        stderr: "piped",
      }).spawn();
      // Wait for the staging folder, then interrupt.
      const deadline = Date.now() + 60_000;
      while (!listDir(dir).some((n) => n.includes(".incoming-")) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      child.kill("SIGINT");
      const { code, stderr } = await child.output();
      assert.equal(code, 130, new TextDecoder().decode(stderr));
      assert.match(new TextDecoder().decode(stderr), /Interrupted \(SIGINT\)/);
      assert.deepEqual(listDir(dir), ["big.tar"]);
    });
  },
});

function listDir(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

async function tinyModel(dir: string, metadata: Record<string, unknown>, units = 1) {
  const model = tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [8, 8, 3] }),
      tf.layers.dense({ units, activation: units === 1 ? "sigmoid" : "softmax" }),
    ],
  });
  await saveModel(model, dir, { metadata });
  model.dispose();
  return dir;
}

const META = {
  classNames: ["cars", "planes"],
  targetSize: [8, 8],
  interpolation: "nearest",
  rescale: 1 / 255,
};

Deno.test("predict: weight paths stay in the model folder; metadata and output shape are checked", async () => {
  await withTempDir(async (dir) => {
    const img = join(dir, "a.png");
    await writeImage(img, { width: 8, height: 8 });
    const ok = await tinyModel(join(dir, "ok"), META);
    const good = await run("predict.ts", ["--model", ok, img]);
    assert.equal(good.code, 0, good.stderr);

    const escape = await tinyModel(join(dir, "escape"), META);
    const json = JSON.parse(await Deno.readTextFile(join(escape, "model.json")));
    json.weightsManifest[0].paths = ["../../../../etc/passwd"];
    await Deno.writeTextFile(join(escape, "model.json"), JSON.stringify(json));
    const r = await run("predict.ts", ["--model", escape, img]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /weight file "(\.\.\/){4}etc\/passwd", which lies outside the model folder/,
    );
    assert.doesNotMatch(r.stderr, /1221|bytes but/);

    const bad: [Record<string, unknown>, RegExp][] = [
      [{ classNames: ["a", "b", "c"] }, /classNames/],
      [{ classNames: [] }, /classNames/],
      [{ rescale: "abc" }, /rescale/],
      [{ rescale: 1e9 }, /rescale/],
      [{ interpolation: "bogus" }, /interpolation/],
      [{ targetSize: [32, 32] }, /targetSize \[32, 32\] .* input \[8, 8\]/],
    ];
    for (const [i, [edit, message]] of bad.entries()) {
      const m = await tinyModel(join(dir, `m${i}`), { ...META, ...edit });
      const p = await run("predict.ts", ["--model", m, img]);
      assert.equal(p.code, 1, JSON.stringify(edit));
      assert.match(p.stderr, message, JSON.stringify(edit));
      assert.match(p.stderr, /model\.json/, "names the model file");
    }
    const imagenet = await tinyModel(join(dir, "k1000"), {}, 1000);
    const k = await run("predict.ts", ["--model", imagenet, img]);
    assert.equal(k.code, 1);
    assert.match(k.stderr, /outputs 1000 values per image/);
  });
});

Deno.test("predict exits non-zero when no image could be read, and escapes names on the terminal", async () => {
  await withTempDir(async (dir) => {
    const model = await tinyModel(join(dir, "m"), META);
    const zero = join(dir, "zero.jpg");
    await Deno.writeFile(zero, new Uint8Array(0));
    const r = await run("predict.ts", ["--model", model, zero]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /None of the 1 images could be read/);
    const evil = join(dir, "imgs", "evil\x1b[2J\x1b[31mred.png");
    await Deno.mkdir(join(dir, "imgs"));
    await writeImage(evil, { width: 8, height: 8 });
    const e = await run("predict.ts", ["--model", model, join(dir, "imgs")]);
    assert.equal(e.code, 0, e.stderr);
    assert.ok(!e.stdout.includes("\x1b"), "no raw escape character on stdout");
    assert.match(e.stdout, /evil\\x1b\[2J\\x1b\[31mred\.png/);
  });
});
