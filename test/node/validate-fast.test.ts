/**
 * The fast check (src/policies/validate/fast.ts) must say "valid" exactly when @cfworker/json-schema
 * does, for every schema it covers: a document it wrongly passed would reach the origin unchecked.
 * Checked on generated documents, valid and nearly valid, against schemas using every covered keyword.
 */
import { dereference, validate, type Schema } from "@cfworker/json-schema";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileFastCheck } from "../../src/policies/validate/fast.ts";
import { CompiledSchema } from "../../src/policies/validate/json_schema.ts";

const SCHEMAS: Record<string, unknown> = {
  order: {
    type: "object", required: ["sku", "qty"], additionalProperties: false,
    properties: {
      sku: { type: "string", pattern: "^[A-Z]{2}\\d?$", minLength: 2, maxLength: 3 },
      qty: { type: "integer", minimum: 1, exclusiveMaximum: 5 },
      price: { type: ["number", "null"], exclusiveMinimum: 0, maximum: 10 },
      tags: { type: "array", items: { enum: ["a", "b", 1, null, { x: 1 }] }, uniqueItems: true, maxItems: 3 },
      email: { type: "string", format: "email" },
    },
    dependentRequired: { price: ["email"] },
    minProperties: 2, maxProperties: 5,
  },
  combinators: {
    anyOf: [{ type: "string" }, { type: "integer", minimum: 3 }],
    oneOf: [{ type: "integer" }, { type: "number", maximum: 2 }, { const: "x" }],
    not: { const: 4 },
  },
  conditional: {
    if: { type: "object", required: ["kind"], properties: { kind: { const: "a" } } },
    then: { required: ["a"] },
    else: { properties: { b: { type: "boolean" } } },
  },
  tuple: { type: "array", prefixItems: [{ type: "string" }, { type: "boolean" }], items: { type: "integer" }, minItems: 1 },
  recursive: {
    $defs: { node: { type: "object", properties: { value: { type: "integer" }, next: { $ref: "#/$defs/node" } }, additionalProperties: false } },
    $ref: "#/$defs/node",
  },
  allOfAndFalse: { allOf: [{ type: "object" }, { properties: { gone: false } }], additionalProperties: { type: ["string", "object"] } },
};

const near = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.constantFrom("a", "b", "x", "AB", "AB1", "ab", "ABCD", "🙂🙂", "ann@example.com", "not-an-email", "kind", "", 1, 2, 3, 4, 5, 2.5, -1, 0, 10, 11, true, false, null),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(fc.constantFrom("sku", "qty", "price", "tags", "email", "kind", "a", "b", "gone", "value", "next", "other"), tie("value"), { maxKeys: 5 }),
  ),
})).value;

describe("the fast validity check", () => {
  for (const [name, raw] of Object.entries(SCHEMAS)) {
    it(`agrees with @cfworker/json-schema on generated documents: ${name}`, () => {
      const schema = structuredClone(raw) as Schema;
      const lookup = dereference(schema);
      const fast = compileFastCheck(schema, lookup);
      expect(fast).toBeDefined();
      fc.assert(fc.property(near, (doc) => fast!(doc) === validate(doc, schema, "2020-12", lookup, false).valid), { numRuns: 3000 });
    });
  }

  it("declines schemas with keywords it does not cover, which then go through cfworker alone", () => {
    for (const raw of [{ patternProperties: { "^x": { type: "string" } } }, { multipleOf: 3 }, { contains: { type: "string" } }, { unevaluatedProperties: false }]) {
      const schema = structuredClone(raw) as Schema;
      expect(compileFastCheck(schema, dereference(schema))).toBeUndefined();
      expect(new CompiledSchema(raw).fast).toBe(false);
    }
  });
});
