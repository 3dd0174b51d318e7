/**
 * A fast yes/no check of a document against a schema, compiled once into closures (no code
 * generation: plain functions built at isolate start). @cfworker/json-schema builds a JSON pointer
 * string for every property and item it visits, valid or not (encodeURI per member): on a 64 KiB
 * order of 1,091 items that was 3.2 ms per document in Node, 23% of it pointer strings
 * (bench/FINDINGS.md). Valid requests are the common case and need no pointers, so they are
 * answered here; only a document this check refuses goes through cfworker, which is the reference
 * and lists the problems (and has the last word: if it finds none, the document passes).
 *
 * Covered: the keywords below, with cfworker's semantics. A schema using any other keyword
 * (patternProperties, propertyNames, unevaluated*, contains, multipleOf, dependentSchemas) gets no
 * fast check and every document goes through cfworker. test/node/validate-fast.test.ts checks
 * this against cfworker on generated documents.
 */
import { deepCompareStrict, format as formats, ucs2length, type Schema } from "@cfworker/json-schema";
import { isObject } from "../../config/core.ts";

export type Check = (value: unknown) => boolean;

const ANNOTATIONS = ["$schema", "$comment", "title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly", "contentMediaType", "contentEncoding", "$defs", "$anchor"];
const COVERED = new Set([
  ...ANNOTATIONS, "$ref", "type", "enum", "const", "required", "properties", "additionalProperties", "minProperties", "maxProperties", "dependentRequired",
  "items", "prefixItems", "minItems", "maxItems", "uniqueItems", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
  "minLength", "maxLength", "pattern", "format", "allOf", "anyOf", "oneOf", "not", "if", "then", "else",
]);

const TYPES: Record<string, Check> = {
  null: (v) => v === null,
  boolean: (v) => typeof v === "boolean",
  object: isObject,
  array: (v) => Array.isArray(v),
  number: (v) => typeof v === "number",
  integer: (v) => typeof v === "number" && v % 1 === 0,
  string: (v) => typeof v === "string",
};
const same = (a: unknown, b: unknown): boolean => (typeof a === "object" && a !== null ? deepCompareStrict(a, b) : a === b);
const all = (checks: Check[]): Check => (checks.length === 0 ? () => true : checks.length === 1 ? checks[0]! : (v) => {
  for (const check of checks) if (!check(v)) return false;
  return true;
});

/** The compiled check, or undefined when the schema uses a keyword it does not cover. */
export function compileFastCheck(root: Schema | boolean, lookup: Record<string, Schema | boolean>): Check | undefined {
  const memo = new Map<Schema, Check>();
  let covered = true;

  const compile = (schema: Schema | boolean | undefined): Check => {
    if (schema === true) return () => true;
    if (schema === false) return () => false;
    if (!isObject(schema)) { covered = false; return () => false; }
    const known = memo.get(schema);
    if (known) return known;
    let impl: Check = () => true;
    const self: Check = (v) => impl(v); // references (recursive schemas) reach this before impl is set
    memo.set(schema, self);
    for (const keyword of Object.keys(schema)) if (!COVERED.has(keyword) && !keyword.startsWith("__")) covered = false;
    const s = schema as Record<string, unknown> & Schema;
    const checks: Check[] = [];

    if (s.$ref !== undefined) {
      const target = lookup[s.__absolute_ref__ ?? s.$ref];
      if (target === undefined) covered = false;
      else { const ref = compile(target); checks.push(ref); }
    }
    if (s.type !== undefined) {
      const types = (Array.isArray(s.type) ? s.type : [s.type]).map((t) => TYPES[t as string]!);
      checks.push(types.length === 1 ? types[0]! : (v) => types.some((t) => t(v)));
    }
    if (Object.hasOwn(s, "const")) { const value = s.const; checks.push((v) => same(v, value)); }
    if (s.enum !== undefined) { const values = s.enum; checks.push((v) => values.some((e) => same(v, e))); }

    const objectChecks: ((v: Record<string, unknown>) => boolean)[] = [];
    if (s.required !== undefined) { const names = s.required; objectChecks.push((v) => names.every((n) => Object.hasOwn(v, n))); }
    const properties = s.properties !== undefined ? Object.entries(s.properties).map(([name, sub]) => [name, compile(sub as Schema | boolean)] as const) : [];
    if (properties.length > 0) objectChecks.push((v) => {
      for (const [name, check] of properties) if (Object.hasOwn(v, name) && !check(v[name])) return false;
      return true;
    });
    if (s.additionalProperties !== undefined) {
      const named = new Set(Object.keys(s.properties ?? {}));
      const extra = compile(s.additionalProperties);
      objectChecks.push((v) => {
        for (const key in v) if (!named.has(key) && !extra(v[key])) return false;
        return true;
      });
    }
    if (s.minProperties !== undefined) { const n = s.minProperties; objectChecks.push((v) => Object.keys(v).length >= n); }
    if (s.maxProperties !== undefined) { const n = s.maxProperties; objectChecks.push((v) => Object.keys(v).length <= n); }
    if (s.dependentRequired !== undefined) {
      const deps = Object.entries(s.dependentRequired);
      objectChecks.push((v) => deps.every(([name, needs]) => !Object.hasOwn(v, name) || needs.every((n) => Object.hasOwn(v, n))));
    }
    if (objectChecks.length > 0) checks.push((v) => !isObject(v) || objectChecks.every((check) => check(v)));

    const arrayChecks: ((v: unknown[]) => boolean)[] = [];
    if (s.minItems !== undefined) { const n = s.minItems; arrayChecks.push((v) => v.length >= n); }
    if (s.maxItems !== undefined) { const n = s.maxItems; arrayChecks.push((v) => v.length <= n); }
    const prefix = Array.isArray(s.prefixItems) ? s.prefixItems.map((sub) => compile(sub)) : [];
    if (prefix.length > 0) arrayChecks.push((v) => {
      for (let i = 0; i < Math.min(prefix.length, v.length); i++) if (!prefix[i]!(v[i])) return false;
      return true;
    });
    if (s.items !== undefined) {
      if (Array.isArray(s.items)) covered = false;
      const item = compile(s.items as Schema | boolean);
      const from = prefix.length;
      arrayChecks.push((v) => {
        for (let i = from; i < v.length; i++) if (!item(v[i])) return false;
        return true;
      });
    }
    if (s.uniqueItems === true) arrayChecks.push((v) => {
      for (let j = 0; j < v.length; j++) for (let k = j + 1; k < v.length; k++) if (same(v[j], v[k])) return false;
      return true;
    });
    if (arrayChecks.length > 0) checks.push((v) => !Array.isArray(v) || arrayChecks.every((check) => check(v)));

    const numberChecks: ((v: number) => boolean)[] = [];
    if (typeof s.minimum === "number") { const n = s.minimum; numberChecks.push((v) => v >= n); }
    if (typeof s.maximum === "number") { const n = s.maximum; numberChecks.push((v) => v <= n); }
    if (typeof s.exclusiveMinimum === "number") { const n = s.exclusiveMinimum; numberChecks.push((v) => v > n); }
    if (typeof s.exclusiveMaximum === "number") { const n = s.exclusiveMaximum; numberChecks.push((v) => v < n); }
    if (typeof s.exclusiveMinimum === "boolean" || typeof s.exclusiveMaximum === "boolean") covered = false;
    if (numberChecks.length > 0) checks.push((v) => typeof v !== "number" || numberChecks.every((check) => check(v)));

    const stringChecks: ((v: string) => boolean)[] = [];
    if (s.minLength !== undefined) { const n = s.minLength; stringChecks.push((v) => ucs2length(v) >= n); }
    if (s.maxLength !== undefined) { const n = s.maxLength; stringChecks.push((v) => ucs2length(v) <= n); }
    if (s.pattern !== undefined) { const pattern = new RegExp(s.pattern, "u"); stringChecks.push((v) => pattern.test(v)); }
    if (s.format !== undefined) {
      const test = Object.hasOwn(formats, s.format) ? (formats as Record<string, (v: string) => boolean>)[s.format] : undefined;
      if (test) stringChecks.push((v) => test(v));
    }
    if (stringChecks.length > 0) checks.push((v) => typeof v !== "string" || stringChecks.every((check) => check(v)));

    if (s.allOf !== undefined) checks.push(all(s.allOf.map((sub) => compile(sub))));
    if (s.anyOf !== undefined) { const subs = s.anyOf.map((sub) => compile(sub)); checks.push((v) => subs.some((c) => c(v))); }
    if (s.oneOf !== undefined) {
      const subs = s.oneOf.map((sub) => compile(sub));
      checks.push((v) => {
        let matches = 0;
        for (const c of subs) if (c(v) && ++matches > 1) return false;
        return matches === 1;
      });
    }
    if (s.not !== undefined) { const not = compile(s.not); checks.push((v) => !not(v)); }
    if (s.if !== undefined) {
      const cond = compile(s.if), then = s.then === undefined ? undefined : compile(s.then), otherwise = s.else === undefined ? undefined : compile(s.else);
      checks.push((v) => (cond(v) ? (then ? then(v) : true) : (otherwise ? otherwise(v) : true)));
    }
    impl = all(checks);
    return self;
  };

  const check = compile(root);
  return covered ? check : undefined;
}
