/**
 * The `validate` policy's config: a schema is checked with the route table, in our words, every
 * problem by its JSON path, so a schema that would silently check nothing never deploys.
 */
import { describe, expect, it } from "vitest";
import { parseRouteTable } from "../../src/config/index.ts";
import { origins, problemsOf as tableProblems } from "../support/route-table.ts";

const route = (validate: unknown, extra: Record<string, unknown> = {}) => ({ id: "r", path: "/items/:id", origin: "users", auth: "none", validate, ...extra });
const problemsOf = (...routes: unknown[]): string[] => tableProblems({ origins, routes });

describe("validate in the route table", () => {
  it("accepts a full configuration and fills the body cap", () => {
    const result = parseRouteTable({ origins, routes: [route({
      params: { id: "[0-9]+" },
      query: { type: "object", properties: { limit: { type: "integer" } } },
      headers: { type: "object", required: ["x-tenant"] },
      body: { $schema: "https://json-schema.org/draft/2020-12/schema", type: "object", properties: { a: { $ref: "#/$defs/a" } }, $defs: { a: { type: "string", format: "email" } } },
      contentTypes: ["application/json", "application/*+json"],
    })] });
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.table.routes[0]!.validate.maxBodyBytes).toBe(1_048_576);
  });

  it("lists every problem of a schema by its JSON path, unknown keywords included", () => {
    expect(problemsOf(route({
      body: {
        type: "object",
        requried: ["a"],
        properties: {
          a: { type: "strng", minLength: -1 },
          b: { pattern: "(" },
          c: { $ref: "#/$defs/missing" },
          d: { $ref: "https://example.com/schema.json" },
          e: { format: "credit-card" },
          f: { items: [{ type: "string" }] },
        },
        definitions: {},
      },
    }))).toEqual([
      `routes[0] ("r").validate.body.requried: unknown keyword "requried" (JSON Schema 2020-12 as @cfworker/json-schema implements it; annotations: title, description, default, examples, $comment)`,
      "routes[0] (\"r\").validate.body.properties.a.type: must be one of null, boolean, object, array, number, integer, string, or a non-empty array of distinct ones",
      "routes[0] (\"r\").validate.body.properties.a.minLength: must be a non-negative integer",
      "routes[0] (\"r\").validate.body.properties.b.pattern: must be a valid regular expression (Unicode mode, as JSON Schema requires)",
      "routes[0] (\"r\").validate.body.properties.d.$ref: must be a local reference (#/$defs/NAME or #ANCHOR): nothing is fetched",
      expect.stringMatching(/^routes\[0\] \("r"\)\.validate\.body\.properties\.e\.format: must be one of the formats the validator checks: date, time, date-time/),
      "routes[0] (\"r\").validate.body.properties.f.items: must be a schema (an object or true/false), not an array (JSON Schema 2020-12 writes tuples with prefixItems)",
      "routes[0] (\"r\").validate.body.definitions: \"definitions\" is a draft-07 keyword: write $defs (JSON Schema 2020-12)",
      `routes[0] ("r").validate.body.properties.c.$ref: "#/$defs/missing" does not resolve to a schema in this document`,
    ]);
  });

  it.each([
    [route({ params: { slug: "x" } }), `routes[0] ("r").validate.params.slug: "slug" is not a parameter of the path "/items/:id"`],
    [route({ params: { id: "[" } }), "routes[0] (\"r\").validate.params.id: not a valid regular expression (Unicode mode)"],
    [route({ query: { type: "array" } }), `routes[0] ("r").validate.query.type: the query is an object: its schema's type must be "object"`],
    [route({ headers: { properties: { "X-Tenant": { type: "string" } } } }), `routes[0] ("r").validate.headers.properties["X-Tenant"]: header names are matched in lowercase: write "x-tenant"`],
    [route({ headers: { additionalProperties: false } }), "routes[0] (\"r\").validate.headers.additionalProperties: every request carries headers a schema cannot list (browsers', proxies', Cloudflare's cf-*); additionalProperties: false would refuse them all"],
    [route({ body: { type: "object" } }, { methods: ["GET"] }), "routes[0] (\"r\").validate.body: the route takes only GET/HEAD, whose bodies are refused: a body check never applies"],
    [route({ body: { type: "object" }, contentTypes: ["text/plain"] }), "routes[0] (\"r\").validate.contentTypes: no JSON media type is allowed, so the body schema would never apply"],
    [route({ contentTypes: ["json"] }), "routes[0] (\"r\").validate.contentTypes[0]: must be a media type such as application/json, text/*, or application/*+json"],
    [route({ body: "object" }), "routes[0] (\"r\").validate.body: must be a JSON Schema: an object or true/false"],
    [route({ body: {}, maxBodyBytes: 0 }), "routes[0] (\"r\").validate.maxBodyBytes: must be at least 1"],
    [route({ bdy: {} }), `routes[0] ("r").validate: unknown field "bdy" (did you mean "body"?)`],
  ])("explains a bad validate: %j", (bad, problem) => {
    expect(problemsOf(bad)).toEqual([problem]);
  });
});
