/** Names from the file system shown safely in terminals, Markdown and SVG (issue 11, item 15). */
import assert from "node:assert/strict";
import { escapeMarkdown, escapeXml, printable, printableLine } from "../lib/_escape.ts";

Deno.test("control characters become visible escapes; tabs and newlines stay unless on one line", () => {
  assert.equal(printable("evil\x1b[2J\x1b[31mred.jpg"), "evil\\x1b[2J\\x1b[31mred.jpg");
  assert.equal(printable("a\u202eb\x9bc\x7f"), "a\\u{202e}b\\x9bc\\x7f");
  assert.equal(printable("a\tb\nc"), "a\tb\nc");
  assert.equal(printableLine("a\tb\nc"), "a\\x09b\\x0ac");
  assert.equal(printable("plain café ✈"), "plain café ✈");
});

Deno.test("Markdown: HTML is shown, not rendered, and pipes cannot split a table cell", () => {
  const name = "<img src=x onerror=alert(1)> |pipe|";
  const md = escapeMarkdown(name);
  assert.equal(md, "&lt;img src=x onerror=alert(1)&gt; \\|pipe\\|");
  assert.ok(!/[<>]/.test(md));
  assert.ok(!/(^|[^\\])\|/.test(md));
  assert.equal(escapeMarkdown("a_b*c`d[e](f)"), "a\\_b\\*c\\`d\\[e\\](f)");
  assert.equal(escapeMarkdown("cars"), "cars");
});

Deno.test("XML: markup characters and characters XML cannot hold are escaped", () => {
  assert.equal(escapeXml(`a&b<c>"d'`), "a&#38;b&#60;c&#62;&#34;d&#39;");
  assert.equal(escapeXml("x\x1by\ud800"), "x\\x1by\\u{d800}");
  assert.equal(escapeXml("✈ 😀"), "✈ 😀");
});
