/**
 * The shape of src/, checked from its imports: no import cycles (type-only imports included), and
 * the core (app.ts, the router, upstream/) names no policy, so adding one is a folder and a line in
 * src/policies/index.ts.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const SRC = fileURLToPath(new URL("../../src", import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith(".ts") ? [path] : [];
  });
}

/** file (relative to src/) -> the files of src/ it imports, type-only imports included. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, "utf8");
    const targets = [...text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+"(\.[^"]+)"/gms)]
      .map((m) => relative(SRC, resolve(dirname(file), m[1]!)));
    graph.set(relative(SRC, file), targets);
  }
  return graph;
}

function findCycle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string): string[] | null => {
    if (state.get(node) === "done") return null;
    if (state.get(node) === "open") return [...stack.slice(stack.indexOf(node)), node];
    state.set(node, "open");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(node, "done");
    return null;
  };
  for (const node of graph.keys()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return null;
}

describe("the import graph of src/", () => {
  const graph = importGraph();

  it("is read from every source file", () => {
    expect(graph.size).toBeGreaterThan(40);
    expect(graph.get("app.ts")).toContain("router/index.ts");
  });

  it("has no cycles, type-only imports included", () => {
    expect(findCycle(graph)).toBeNull();
  });

  it("finds a cycle when there is one (the check can fail)", () => {
    expect(findCycle(new Map([["a.ts", ["b.ts"]], ["b.ts", ["c.ts"]], ["c.ts", ["a.ts"]]]))).toEqual(["a.ts", "b.ts", "c.ts", "a.ts"]);
  });

  it("keeps the core from naming a policy: app.ts, router/ and upstream/ import nothing under policies/", () => {
    const core = [...graph.keys()].filter((file) => file === "app.ts" || file.startsWith("router/") || file.startsWith("upstream/"));
    expect(core.length).toBeGreaterThan(5);
    for (const file of core) expect(graph.get(file)!.filter((target) => target.startsWith("policies/")), file).toEqual([]);
  });

  it("lets admin/ reach services only through their index.ts", () => {
    for (const [file, targets] of graph) {
      if (!file.startsWith("admin/")) continue;
      for (const target of targets) {
        const service = /^(keys|quota|rooms|health|cache|metrics)\//.exec(target);
        if (service) expect(target, `${file} imports ${target}`).toBe(`${service[1]}/index.ts`);
      }
    }
  });
});
