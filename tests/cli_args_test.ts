import assert from "node:assert/strict";
import {
  checkPathFlag,
  integer,
  intInRange,
  oneOf,
  parseFlags,
  positiveInt,
  positiveNumber,
  UsageError,
} from "../cli/_args.ts";

const spec = { epochs: { type: "string" as const }, quick: { type: "boolean" as const } };

Deno.test("flags and positionals are parsed", () => {
  const { flags, positionals } = parseFlags(["--epochs", "3", "--quick", "a.jpg"], spec, "usage", {
    positionals: true,
  });
  assert.deepEqual([flags.epochs, flags.quick, positionals], ["3", true, ["a.jpg"]]);
});

Deno.test("an unknown flag is a UsageError that carries the usage text", () => {
  assert.throws(
    () => parseFlags(["--epoch", "3"], spec, "usage: reproduce [--epochs N]"),
    (e: unknown) =>
      e instanceof UsageError && /--epoch/.test(e.message) && /usage: reproduce/.test(e.message),
  );
});

Deno.test("numbers and choices are checked with messages that name the flag", () => {
  assert.equal(positiveInt("30", "--epochs", "u"), 30);
  assert.throws(
    () => positiveInt("0", "--epochs", "u"),
    /--epochs takes a whole number from 1 to 1000000, in plain digits, got 0/,
  );
  assert.throws(() => positiveInt("2.5", "--steps", "u"), /--steps/);
  assert.equal(integer("0", "--seed", "u"), 0);
  assert.throws(() => integer("x", "--seed", "u"), /--seed takes a whole number/);
  assert.equal(oneOf("wasm", ["auto", "wasm"], "--backend", "u"), "wasm");
  assert.throws(
    () => oneOf("gpu", ["auto", "wasm"], "--backend", "u"),
    /--backend takes one of auto, wasm, got "gpu"/,
  );
});

Deno.test("positive numbers accept exponents and refuse zero", () => {
  assert.equal(positiveNumber("1e-4", "--head-lr", "u"), 1e-4);
  assert.throws(() => positiveNumber("0", "--head-lr", "u"), /--head-lr takes a number above 0/);
});

Deno.test("integers are plain decimal within their range; seeds up to 2^53 exactly", () => {
  for (const bad of ["1e3", "0x10", "+5", "-1", "5.0", " 5", ""]) {
    assert.throws(() => positiveInt(bad, "--epochs", "u"), /--epochs takes a whole number/, bad);
  }
  assert.throws(() => intInRange("64", "--threads", "u", 1, 2), /--threads .* from 1 to 2/);
  assert.equal(integer("9007199254740992", "--seed", "u"), 2 ** 53);
  assert.throws(() => integer("9007199254740993", "--seed", "u"), /got 9007199254740993/);
});

Deno.test("stray words are refused unless the command takes them; -1 is a value, not a flag", () => {
  assert.throws(() => parseFlags(["extra"], spec, "u"), /Unexpected argument "extra"/);
  const { flags } = parseFlags(["--epochs", "-1"], spec, "u");
  assert.equal(flags.epochs, "-1");
  assert.throws(() => positiveInt(flags.epochs, "--epochs", "u"), /got "-1"/);
});

Deno.test("path flags: a file where a folder is wanted, or in the way of creating one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/f`;
    await Deno.writeTextFile(file, "x");
    await assert.rejects(checkPathFlag(file, "--cache-dir", "dir", "u"), /is a file, not a folder/);
    await assert.rejects(
      checkPathFlag(`${file}/sub/x`, "--out", "dir", "u"),
      /cannot be created: .* is a file/,
    );
    assert.equal(await checkPathFlag(`${dir}/new/x`, "--out", "dir", "u"), `${dir}/new/x`);
    await assert.rejects(checkPathFlag(`${dir}/no.h5`, "--weights", "existing", "u"), /no such/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
