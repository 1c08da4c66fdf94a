/**
 * Imports run one way: no module reaches itself through its imports (type-only imports included), and no
 * folder reaches itself through its modules' imports, so each folder can be read from its dependencies up.
 * @module
 */
import assert from "node:assert/strict";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const SKIPPED_FOLDERS = new Set(["node_modules", ".git", ".demo"]);

/** Every non-test TypeScript module of the repository, relative to its root. */
async function sourceModules(dir = ROOT): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory && !SKIPPED_FOLDERS.has(entry.name) && !entry.name.startsWith(".")) {
      found.push(...await sourceModules(path));
    } else if (entry.isFile && entry.name.endsWith(".ts") && !entry.name.endsWith("_test.ts")) {
      found.push(relative(ROOT, path));
    }
  }
  return found.sort();
}

/** The repository modules `module` imports statically (import and export-from, type-only ones too). */
export function localImports(module: string, text: string): string[] {
  const specifiers = [...text.matchAll(/^\s*(?:import|export)\s[^;]*?\sfrom\s+"(\.{1,2}\/[^"]+)"/gms)]
    .map((match) => match[1]);
  return specifiers.map((specifier) => normalize(join(dirname(module), specifier)));
}

/** One cycle of the graph (as the list of nodes around it), or null when it has none. */
export function findCycle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (node: string): string[] | null => {
    if (state.get(node) === "done") return null;
    if (state.get(node) === "open") return [...path.slice(path.indexOf(node)), node];
    state.set(node, "open");
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(node, "done");
    return null;
  };
  for (const node of graph.keys()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return null;
}

async function moduleGraph(): Promise<Map<string, string[]>> {
  const graph = new Map<string, string[]>();
  for (const module of await sourceModules()) {
    graph.set(module, localImports(module, await Deno.readTextFile(join(ROOT, module))));
  }
  return graph;
}

Deno.test("findCycle() finds a cycle through type imports and none in a chain", () => {
  const text = 'import type { A } from "./a.ts";\nexport {\n  b,\n} from "../lib/b.ts";\n';
  assert.deepEqual(localImports("engine/x.ts", text), ["engine/a.ts", "lib/b.ts"]);
  assert.deepEqual(findCycle(new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]]])), ["a", "b", "c", "a"]);
  assert.equal(findCycle(new Map([["a", ["b"]], ["b", ["c"]], ["c", []]])), null);
});

Deno.test("no module imports itself through other modules", async () => {
  assert.equal(findCycle(await moduleGraph()), null);
});

Deno.test("no folder imports itself through other folders", async () => {
  const folders = new Map<string, Set<string>>();
  for (const [module, imports] of await moduleGraph()) {
    const from = module.split("/")[0];
    const targets = folders.get(from) ?? new Set();
    for (const target of imports) if (target.split("/")[0] !== from) targets.add(target.split("/")[0]);
    folders.set(from, targets);
  }
  const graph = new Map([...folders].map(([folder, targets]) => [folder, [...targets]]));
  assert.equal(findCycle(graph), null);
});
