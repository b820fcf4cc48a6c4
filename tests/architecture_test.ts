/**
 * The shape of the code, checked: front doors, no import cycles, private files kept private,
 * developer tooling outside `lib/`. Imports are read from the source text (relative specifiers
 * in `import`/`export ... from` and `new URL("...", import.meta.url)`).
 */
import assert from "node:assert/strict";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

function listFiles(dir: string, suffix: string): string[] {
  const out: string[] = [];
  for (const entry of Deno.readDirSync(join(ROOT, dir))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) out.push(...listFiles(path, suffix));
    else if (entry.name.endsWith(suffix)) out.push(path);
  }
  return out.sort();
}

/** Relative module specifiers a source text imports, resolved against its own folder. */
function importsOf(file: string, text: string): string[] {
  const specs = new Set<string>();
  const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  for (const m of code.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)) specs.add(m[1]);
  for (const m of code.matchAll(/new URL\(\s*"(\.{1,2}\/[^"]+\.ts)",\s*import\.meta\.url/g)) {
    specs.add(m[1]);
  }
  return [...specs].map((s) => normalize(join(dirname(file), s)));
}

function notebookImports(file: string): string[] {
  const nb = JSON.parse(Deno.readTextFileSync(join(ROOT, file)));
  const code = nb.cells
    .filter((c: { cell_type: string }) => c.cell_type === "code")
    .map((c: { source: string[] | string }) => [c.source].flat().join(""))
    .join("\n");
  return importsOf(file, code);
}

const SOURCES = [
  ...listFiles("lib", ".ts"),
  ...listFiles("cli", ".ts"),
  ...listFiles("tools", ".ts"),
];
const GRAPH = new Map(
  SOURCES.map((f) => [f, importsOf(f, Deno.readTextFileSync(join(ROOT, f)))]),
);
const FRONT_DOOR = /^lib\/(?:[a-z_]+\/)?mod\.ts$/;

Deno.test("every relative import names a file that exists", () => {
  for (const [file, deps] of GRAPH) {
    for (const dep of deps) {
      assert.ok(SOURCES.includes(dep), `${file} imports ${dep}, which does not exist`);
    }
  }
});

Deno.test("notebooks and cli/ import lib/ only through its front doors", () => {
  const entries: Array<[string, string[]]> = [
    ...listFiles("notebooks", ".ipynb").map((f): [string, string[]] => [f, notebookImports(f)]),
    ...listFiles("cli", ".ts").map((f): [string, string[]] => [f, GRAPH.get(f) ?? []]),
  ];
  assert.ok(entries.length >= 8, "the notebooks and CLIs were found");
  for (const [file, deps] of entries) {
    for (const dep of deps.filter((d) => d.startsWith("lib/"))) {
      assert.match(dep, FRONT_DOOR, `${file} imports ${dep}: use lib/mod.ts or a folder's mod.ts`);
    }
  }
});

Deno.test("lib/ imports nothing from cli/ or tools/ (developer tooling stays outside lib/)", () => {
  for (const [file, deps] of GRAPH) {
    if (!file.startsWith("lib/")) continue;
    for (const dep of deps) {
      assert.ok(dep.startsWith("lib/"), `${file} imports ${dep} from outside lib/`);
    }
  }
});

Deno.test("private files (_name.ts) are imported only from their own folder", () => {
  for (const [file, deps] of GRAPH) {
    for (const dep of deps) {
      const name = dep.split("/").pop()!;
      if (!name.startsWith("_")) continue;
      const own = dirname(dep);
      const inside = dirname(file) === own || dirname(file).startsWith(own + "/") ||
        own === "lib"; // lib/_fs.ts, lib/_text.ts serve all of lib/
      assert.ok(
        inside && (own !== "lib" || file.startsWith("lib/")),
        `${file} imports ${relative(dirname(file), dep)}, private to ${own}/`,
      );
    }
  }
});

/** Every cycle in an import graph, each as "a -> b -> a". */
function findCycles(graph: Map<string, string[]>): string[] {
  const state = new Map<string, "open" | "done">();
  const cycles: string[] = [];
  const visit = (file: string, path: string[]) => {
    if (state.get(file) === "done") return;
    if (state.get(file) === "open") {
      cycles.push([...path.slice(path.indexOf(file)), file].join(" -> "));
      return;
    }
    state.set(file, "open");
    for (const dep of graph.get(file) ?? []) visit(dep, [...path, file]);
    state.set(file, "done");
  };
  for (const file of graph.keys()) visit(file, []);
  return cycles;
}

Deno.test("there are no import cycles", () => {
  assert.deepEqual(findCycles(GRAPH), []);
});

Deno.test("the cycle check finds a cycle when there is one", () => {
  // so that the test above cannot pass by walking nothing
  const graph = new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["a"]]]);
  assert.deepEqual(findCycles(graph), ["a -> b -> c -> a"]);
});
