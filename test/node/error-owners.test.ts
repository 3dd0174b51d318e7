/**
 * One owner per error code: each code of the catalogue is declared in one `defineErrors` call, in one
 * file of src/. defineErrors already refuses a second owner when both modules load; this reads the
 * sources, so it also catches a code declared twice under one owner name (two admin/ files) or in a
 * module the Worker happens not to load together with the first.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import "../../src/app.ts"; // the core's and the admin API's codes
import "../../src/policies/index.ts"; // every policy's, and through them the services'
import { errorCatalogue } from "../../src/errors.ts";

const SRC = fileURLToPath(new URL("../../src", import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith(".ts") ? [path] : [];
  });
}

/** Each `defineErrors("owner", { code: { status, ... }, ... })` in `text`: its owner and its codes. */
function declarationsIn(source: string): { owner: string; codes: string[] }[] {
  // Comments first: a doc comment may show a defineErrors call as an example.
  const text = source.replace(/^\s*\/\*[\s\S]*?\*\//gm, "").replace(/^\s*\/\/.*$/gm, "");
  return [...text.matchAll(/defineErrors\(\s*"([^"]+)",\s*\{([\s\S]*?)\n\s*\}\s*\)/g)].map(([, owner, body]) => ({
    owner: owner!,
    codes: [...body!.matchAll(/^\s*([a-z][a-z0-9_]*): \{\s*status:/gm)].map((m) => m[1]!),
  }));
}

/** code -> every place that declares it ("file (owner)"). */
function declarationSites(): Map<string, string[]> {
  const sites = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    for (const { owner, codes } of declarationsIn(readFileSync(file, "utf8"))) {
      for (const code of codes) sites.set(code, [...(sites.get(code) ?? []), `${relative(SRC, file)} (${owner})`]);
    }
  }
  return sites;
}

describe("error code ownership", () => {
  const sites = declarationSites();

  it("reads every code of the catalogue from the sources, and nothing else", () => {
    expect(errorCatalogue().length).toBeGreaterThan(40);
    expect([...sites.keys()].sort()).toEqual(errorCatalogue().map((e) => e.code).sort());
  });

  it("declares each code once, by one owner", () => {
    const twice = [...sites].filter(([, where]) => where.length > 1).map(([code, where]) => `${code}: ${where.join(", ")}`);
    expect(twice).toEqual([]);
  });

  it("would see a code declared by two owners (the check can fail)", () => {
    const text = `defineErrors("a", {\n  same_code: { status: 503, meaning: "x" },\n});\n` +
      `const { same_code } = defineErrors("b", {\n  same_code: { status: 503, meaning: "x" },\n  other: { status: 400, meaning: "y" },\n});\n`;
    expect(declarationsIn(text)).toEqual([{ owner: "a", codes: ["same_code"] }, { owner: "b", codes: ["same_code", "other"] }]);
  });
});
