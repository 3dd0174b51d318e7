/** The generated docs pages say what the schema and the error catalogue say (`npm run docs`). */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { errorsPage, GENERATED, optionsPage } from "../../scripts/docs.ts";
import { errorCatalogue } from "../../src/errors.ts";
import { POLICIES } from "../../src/policies/index.ts";

describe("generated docs", () => {
  it("docs/options.md is what the schema generates", () => {
    expect(readFileSync(GENERATED.options, "utf8")).toBe(optionsPage());
  });

  it("docs/errors.md is what the catalogue generates", () => {
    expect(readFileSync(GENERATED.errors, "utf8")).toBe(errorsPage());
  });

  it("lists every policy's fields, each with its description", () => {
    const page = optionsPage();
    for (const policy of POLICIES) {
      expect(page).toContain(`## Policy \`${policy.name}\``);
      for (const name of Object.keys(policy.routeFields ?? {})) expect(page).toContain(`| \`${name}\` |`);
      for (const name of Object.keys(policy.authFields ?? {})) expect(page).toContain(`| \`auth.${name}\` |`);
    }
    // A field without a description would leave its last cell empty.
    expect(page.split("\n").filter((line) => /^\| `[^`]+` \|.*\|  \|$/.test(line))).toEqual([]);
  });

  it("lists every error code of the catalogue with its status", () => {
    const page = errorsPage();
    expect(errorCatalogue().length).toBeGreaterThan(40);
    for (const entry of errorCatalogue()) expect(page).toContain(`| ${entry.status} | \`${entry.code}\` |`);
  });
});
