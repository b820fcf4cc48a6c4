import assert from "node:assert/strict";
import {
  integer,
  oneOf,
  parseFlags,
  positiveInt,
  positiveNumber,
  UsageError,
} from "../cli/_args.ts";

const spec = { epochs: { type: "string" as const }, quick: { type: "boolean" as const } };

Deno.test("flags and positionals are parsed", () => {
  const { flags, positionals } = parseFlags(["--epochs", "3", "--quick", "a.jpg"], spec, "usage");
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
    /--epochs takes a whole number of at least 1, got "0"/,
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
  assert.throws(() => positiveNumber("0", "--head-lr", "u"), /--head-lr takes a positive number/);
});
