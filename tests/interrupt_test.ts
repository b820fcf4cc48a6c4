/**
 * SIGINT and SIGTERM during `deno task reproduce`, as a user sends them: the CLI runs as a
 * subprocess on a tiny dataset and gets the signal once training has started. The run must stop,
 * say so, exit 130 / 143, keep the previous run in --out whole and leave no temporary files.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { makeArticleLayout, withTempDir } from "./fixtures.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** A previous complete run, as the run store leaves one. */
async function previousRun(out: string): Promise<Record<string, string>> {
  await Deno.mkdir(out, { recursive: true });
  const files = {
    "metrics.json": '{"previous": true}\n',
    "report.md": "# the previous run\n",
    "run.json": '{"status": "complete", "started_at": "then", "info": {}}\n',
  };
  for (const [name, text] of Object.entries(files)) await Deno.writeTextFile(join(out, name), text);
  return files;
}

async function interrupt(signal: "SIGINT" | "SIGTERM", expectedCode: number) {
  await withTempDir(async (dir) => {
    const data = await makeArticleLayout(join(dir, "data"), {
      train: { cars: 4, planes: 4 },
      val: { cars: 2, planes: 2 },
      test: { cars: 1, planes: 1 },
    });
    const out = join(dir, "out");
    const previous = await previousRun(out);
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        join(ROOT, "cli", "reproduce.ts"),
        ...["--data", data, "--out", out, "--base", "none", "--threads", "1"],
        ...["--epochs", "10000", "--steps", "2", "--batch", "4", "--backend", "wasm"],
      ],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // Wait until training has started, then send the signal.
    const decoder = new TextDecoder();
    let stdout = "";
    const reader = child.stdout.getReader();
    while (!/Epoch 2\//.test(stdout)) {
      const { value, done } = await reader.read();
      if (done) break;
      stdout += decoder.decode(value);
    }
    assert.match(stdout, /Epoch 2\//, "training started");
    child.kill(signal);
    const rest = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        stdout += decoder.decode(value);
      }
    })();
    const [status, stderrBytes] = await Promise.all([
      child.status,
      new Response(child.stderr).arrayBuffer(),
      rest,
    ]);
    const stderr = decoder.decode(stderrBytes);
    assert.equal(status.code, expectedCode, stderr);
    assert.match(stderr, new RegExp(`${signal}: stopping at the next batch`));
    assert.match(stderr, /error: The run was interrupted/);
    for (const [name, text] of Object.entries(previous)) {
      assert.equal(await Deno.readTextFile(join(out, name)), text, `${name} of the previous run`);
    }
    const attempt = JSON.parse(await Deno.readTextFile(join(out, "last_attempt.json")));
    assert.equal(attempt.status, "interrupted");
    const left: string[] = [];
    for await (const e of Deno.readDir(dir)) left.push(e.name);
    assert.deepEqual(left.sort(), ["data", "out"], "no staging folder left beside --out");
    const inOut: string[] = [];
    for await (const e of Deno.readDir(out)) inOut.push(e.name);
    assert.deepEqual(
      inOut.sort(),
      ["last_attempt.json", "metrics.json", "report.md", "run.json"],
      "no lock or temporary file left in --out",
    );
  });
}

Deno.test("SIGINT during reproduce stops at the next batch, keeps the previous run, exits 130", async () => {
  await interrupt("SIGINT", 130);
});

Deno.test("SIGTERM during reproduce stops at the next batch, keeps the previous run, exits 143", async () => {
  await interrupt("SIGTERM", 143);
});
