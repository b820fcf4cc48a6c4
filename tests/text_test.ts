import assert from "node:assert/strict";
import { firstLine, randomSuffix } from "../lib/_text.ts";

Deno.test("randomSuffix gives 10 hex digits, different each time", () => {
  const a = randomSuffix(), b = randomSuffix();
  assert.match(a, /^[0-9a-f]{10}$/);
  assert.notEqual(a, b);
});

Deno.test("firstLine keeps an error's first line without a trailing colon", () => {
  assert.equal(firstLine(new Error("bad magic:\n  at decode")), "bad magic");
  assert.equal(firstLine("plain text\nmore"), "plain text");
  assert.equal(firstLine(42), "42");
});
