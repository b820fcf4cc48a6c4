/**
 * Making names that come from the file system (class folders, image files) safe where they are
 * shown: a terminal (control characters would clear it or recolour it), Markdown (HTML and
 * table pipes) and XML/SVG (characters XML cannot hold).
 *
 * @module
 */

// C0 controls except tab and newline, DEL, C1 controls, and the bidirectional overrides that
// can make a name display as something else.
// deno-lint-ignore no-control-regex -- matching control characters is the point
const UNPRINTABLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

function hexEscape(c: string): string {
  const code = c.codePointAt(0)!;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u{${code.toString(16)}}`;
}

/**
 * Replaces control characters (and bidirectional overrides) by visible escapes such as `\x1b`,
 * keeping tabs and newlines, so a file name cannot drive the terminal it is printed on.
 *
 * @example
 * ```ts
 * import { printable } from "./_escape.ts";
 * printable("evil\x1b[2J.jpg"); // "evil\\x1b[2J.jpg"
 * ```
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, hexEscape);
}

/**
 * {@link printable} for one line: newlines and tabs are escaped too.
 *
 * @example
 * ```ts
 * import { printableLine } from "./_escape.ts";
 * printableLine("a\nb"); // "a\\x0ab"
 * ```
 */
export function printableLine(text: string): string {
  return printable(text).replace(/[\t\n]/g, hexEscape);
}

/**
 * Escapes text for Markdown, inside or outside a table: HTML is shown, not rendered (`<`, `>`,
 * `&` become entities), `|` cannot end a table cell, Markdown's emphasis, link and code marks
 * are shown as written, and control characters become visible escapes.
 *
 * @example
 * ```ts
 * import { escapeMarkdown } from "./_escape.ts";
 * escapeMarkdown("<img src=x> |pipe|"); // "&lt;img src=x&gt; \\|pipe\\|"
 * ```
 */
export function escapeMarkdown(text: string): string {
  return printableLine(text)
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replace(/[\\`*_[\]|#~!]/g, (c) => `\\${c}`);
}

/**
 * Escapes text for XML/SVG: the five markup characters as entities, and characters XML 1.0
 * cannot hold at all (controls, lone surrogates, U+FFFE/U+FFFF) as visible escapes.
 *
 * @example
 * ```ts
 * import { escapeXml } from "./_escape.ts";
 * escapeXml("cars & planes"); // "cars &#38; planes"
 * ```
 */
export function escapeXml(text: string): string {
  return printableLine(text)
    .replace(
      /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]|[\ufffe\uffff]/g,
      hexEscape,
    )
    .replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
