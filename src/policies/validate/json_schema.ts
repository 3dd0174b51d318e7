/**
 * JSON Schema for request validation: checked when the route table is checked, compiled once per
 * route at isolate start, and run with @cfworker/json-schema, which interprets the schema (no
 * `eval`, no `new Function`: Workers refuse code generation at run time, so Ajv could only be used
 * with standalone code generated in the build step; cfworker needs no build step and is made for
 * Workers).
 *
 * The dialect is JSON Schema 2020-12 as cfworker implements it. A schema is checked here, in our
 * words, before anything runs: an unknown keyword is an error rather than silently ignored (a typo
 * such as `requried` would otherwise validate nothing), as are keywords cfworker does not implement
 * (`$dynamicRef`), references that are not local (nothing is fetched), patterns that do not compile
 * as Unicode regular expressions, and formats cfworker does not know (it ignores them).
 */
import { dereference, format as knownFormats, validate, type OutputUnit, type Schema } from "@cfworker/json-schema";
import { compileFastCheck, type Check } from "./fast.ts";
import { isObject } from "../../config/core.ts";

export type JsonSchemaValue = boolean | Record<string, unknown>;

export interface SchemaProblem {
  /** Path inside the schema (appended to the schema's own JSON path in the route table). */
  path: (string | number)[];
  message: string;
}

const TYPE_NAMES = new Set(["null", "boolean", "object", "array", "number", "integer", "string"]);
const DIALECT = "https://json-schema.org/draft/2020-12/schema";

const SCHEMA_VALUED = new Set(["not", "if", "then", "else", "additionalProperties", "unevaluatedProperties", "propertyNames", "items", "unevaluatedItems", "contains"]);
const SCHEMA_MAPS = new Set(["properties", "patternProperties", "$defs", "dependentSchemas"]);
const SCHEMA_ARRAYS = new Set(["allOf", "anyOf", "oneOf", "prefixItems"]);
const COUNTS = new Set(["minProperties", "maxProperties", "minItems", "maxItems", "minLength", "maxLength", "minContains", "maxContains"]);
const NUMBERS = new Set(["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"]);
const BOOLEANS = new Set(["uniqueItems", "deprecated", "readOnly", "writeOnly"]);
const STRINGS = new Set(["$comment", "title", "description", "contentMediaType", "contentEncoding"]);
const ANYTHING = new Set(["const", "default"]);
const UNSUPPORTED: Record<string, string> = {
  $id: "is not supported: schemas are embedded in the route table; use $defs and local $ref",
  $dynamicRef: "is not supported by the validator (@cfworker/json-schema)",
  $dynamicAnchor: "is not supported by the validator (@cfworker/json-schema)",
  $recursiveRef: "is a draft 2019-09 keyword; not supported",
  $recursiveAnchor: "is a draft 2019-09 keyword; not supported",
  $vocabulary: "is not supported",
  definitions: "is a draft-07 keyword: write $defs (JSON Schema 2020-12)",
  dependencies: "is a draft-07 keyword: write dependentRequired or dependentSchemas (JSON Schema 2020-12)",
  additionalItems: "is a draft-07 keyword: in JSON Schema 2020-12, items applies after prefixItems",
};

const isCount = (v: unknown): boolean => typeof v === "number" && Number.isInteger(v) && v >= 0;

/** Every problem of a schema, with its path inside the schema. An empty list: the schema is usable. */
export function jsonSchemaProblems(root: unknown): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  const anchors = new Set<string>();
  const refs: { ref: string; path: (string | number)[] }[] = [];

  const visit = (schema: unknown, path: (string | number)[]): void => {
    const issue = (message: string, ...more: (string | number)[]) => problems.push({ path: [...path, ...more], message });
    if (typeof schema === "boolean") return;
    if (!isObject(schema)) {
      issue(Array.isArray(schema) ? "must be a schema (an object or true/false), not an array (JSON Schema 2020-12 writes tuples with prefixItems)" : "must be a schema: an object or true/false");
      return;
    }
    for (const [keyword, value] of Object.entries(schema)) {
      if (Object.hasOwn(UNSUPPORTED, keyword)) issue(`"${keyword}" ${UNSUPPORTED[keyword]}`, keyword);
      else if (SCHEMA_VALUED.has(keyword)) visit(value, [...path, keyword]);
      else if (SCHEMA_MAPS.has(keyword)) {
        if (!isObject(value)) { issue("must be an object of schemas", keyword); continue; }
        for (const [name, sub] of Object.entries(value)) {
          if (keyword === "patternProperties" && !compiles(name)) issue(`"${name}" is not a valid regular expression (Unicode mode)`, keyword, name);
          visit(sub, [...path, keyword, name]);
        }
      } else if (SCHEMA_ARRAYS.has(keyword)) {
        if (!Array.isArray(value) || value.length === 0) { issue("must be a non-empty array of schemas", keyword); continue; }
        value.forEach((sub, i) => visit(sub, [...path, keyword, i]));
      } else if (COUNTS.has(keyword)) {
        if (!isCount(value)) issue("must be a non-negative integer", keyword);
      } else if (NUMBERS.has(keyword)) {
        if (typeof value !== "number" || !Number.isFinite(value)) issue("must be a number (JSON Schema 2020-12; draft-04's boolean form is not supported)", keyword);
      } else if (BOOLEANS.has(keyword)) {
        if (typeof value !== "boolean") issue("must be true or false", keyword);
      } else if (STRINGS.has(keyword)) {
        if (typeof value !== "string") issue("must be a string", keyword);
      } else if (ANYTHING.has(keyword)) {
        // any JSON value
      } else {
        switch (keyword) {
          case "$schema":
            if (value !== DIALECT && value !== DIALECT + "#") issue(`must be "${DIALECT}" (the only dialect supported) or left out`, keyword);
            break;
          case "type": {
            const names = Array.isArray(value) ? value : [value];
            if (names.length === 0 || names.some((n) => typeof n !== "string" || !TYPE_NAMES.has(n)) || new Set(names).size !== names.length)
              issue(`must be one of ${[...TYPE_NAMES].join(", ")}, or a non-empty array of distinct ones`, keyword);
            break;
          }
          case "enum":
            if (!Array.isArray(value) || value.length === 0) issue("must be a non-empty array", keyword);
            break;
          case "examples":
            if (!Array.isArray(value)) issue("must be an array", keyword);
            break;
          case "required":
            if (!Array.isArray(value) || value.some((n) => typeof n !== "string") || new Set(value).size !== value.length) issue("must be an array of distinct property names", keyword);
            break;
          case "dependentRequired":
            if (!isObject(value) || Object.values(value).some((names) => !Array.isArray(names) || names.some((n) => typeof n !== "string")))
              issue("must be an object of arrays of property names", keyword);
            break;
          case "multipleOf":
            if (typeof value !== "number" || !(value > 0) || !Number.isFinite(value)) issue("must be a number greater than 0", keyword);
            break;
          case "pattern":
            if (typeof value !== "string" || !compiles(value)) issue("must be a valid regular expression (Unicode mode, as JSON Schema requires)", keyword);
            break;
          case "format":
            if (typeof value !== "string" || !Object.hasOwn(knownFormats, value))
              issue(`must be one of the formats the validator checks: ${Object.keys(knownFormats).join(", ")}`, keyword);
            break;
          case "$anchor":
            if (typeof value !== "string" || !/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(value)) issue("must be a plain name (letters, digits, _ . -)", keyword);
            else if (anchors.has(value)) issue(`anchor "${value}" is defined twice`, keyword);
            else anchors.add(value);
            break;
          case "$ref":
            if (typeof value !== "string" || !value.startsWith("#")) issue("must be a local reference (#/$defs/NAME or #ANCHOR): nothing is fetched", keyword);
            else refs.push({ ref: value, path: [...path, keyword] });
            break;
          default:
            issue(`unknown keyword "${keyword}" (JSON Schema 2020-12 as @cfworker/json-schema implements it; annotations: title, description, default, examples, $comment)`, keyword);
        }
      }
    }
  };
  visit(root, []);
  for (const { ref, path } of refs) {
    if (!resolves(root, ref, anchors)) problems.push({ path, message: `"${ref}" does not resolve to a schema in this document` });
  }
  return problems;
}

function compiles(pattern: string): boolean {
  try {
    new RegExp(pattern, "u");
    return true;
  } catch {
    return false;
  }
}

/** JSON pointer segments of a `#/a/b` fragment (URI-decoded, then ~1 and ~0 unescaped). */
function fragmentSegments(fragment: string): string[] | undefined {
  try {
    const pointer = decodeURIComponent(fragment);
    if (pointer === "") return [];
    if (!pointer.startsWith("/")) return undefined;
    return pointer.slice(1).split("/").map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~"));
  } catch {
    return undefined;
  }
}

function resolves(root: unknown, ref: string, anchors: ReadonlySet<string>): boolean {
  const fragment = ref.slice(1);
  if (fragment !== "" && !fragment.startsWith("/")) return anchors.has(fragment);
  const segments = fragmentSegments(fragment);
  if (segments === undefined) return false;
  let node: unknown = root;
  for (const segment of segments) {
    if (Array.isArray(node)) node = node[Number(segment)];
    else if (isObject(node) && Object.hasOwn(node, segment)) node = node[segment];
    else return false;
  }
  return typeof node === "boolean" || isObject(node);
}

/** One thing the request got wrong: where, and what was expected there. Never the value sent. */
export interface Problem {
  in: "body" | "query" | "headers" | "params";
  /** RFC 6901 JSON pointer into the parsed body, query object, headers object or params. */
  pointer: string;
  expected: string;
}

const MAX_TEXT = 200;
const clip = (text: string): string => (text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 1)}…` : text);
const json = (value: unknown): string => clip(JSON.stringify(value) ?? String(value));

/**
 * A compiled schema: parsed and dereferenced once (at isolate start), then run per request. It
 * reports every problem (not only the first), as leaves: wrappers such as "property x did not
 * match" are left out for the failure inside them, and `anyOf`/`oneOf` report themselves once
 * rather than every failed alternative.
 */
export class CompiledSchema {
  readonly #root: Schema | boolean;
  readonly #lookup: Record<string, Schema | boolean>;
  /** The yes/no check for valid documents (fast.ts); undefined when the schema uses a keyword it does not cover. */
  readonly #fast: Check | undefined;

  constructor(schema: JsonSchemaValue) {
    // dereference annotates the schema it is given (absolute references), so it gets its own copy.
    const copy = structuredClone(schema) as Schema | boolean;
    this.#lookup = dereference(copy);
    this.#root = copy;
    this.#fast = compileFastCheck(copy, this.#lookup);
  }

  /** Whether the fast check covers this schema (tests, the bench). */
  get fast(): boolean {
    return this.#fast !== undefined;
  }

  /** Appends the problems of `instance` (at most `room` of them) to `out`; returns how many there were in all. */
  check(instance: unknown, where: Problem["in"], out: Problem[], room: number): number {
    try {
      if (this.#fast?.(instance)) return 0;
    } catch {
      // Nested past the stack: cfworker below gives the answer.
    }
    let errors: OutputUnit[];
    try {
      // shortCircuit off: every problem, not only the first.
      const result = validate(instance, this.#root, "2020-12", this.#lookup, false);
      if (result.valid) return 0;
      errors = result.errors;
    } catch {
      // A recursive schema over a document nested deeper than the stack allows.
      if (out.length < room) out.push({ in: where, pointer: "", expected: "a document nested less deeply" });
      return 1;
    }
    let count = 0;
    let suppress: { prefix: string; at: string } | undefined;
    for (const error of errors) {
      if (suppress) {
        const inside = error.keywordLocation.startsWith(suppress.prefix) || (error.keyword === "false" && error.instanceLocation.startsWith(suppress.at));
        if (inside) continue;
        suppress = undefined;
      }
      if (WRAPPERS.has(error.keyword)) continue;
      if (error.keyword === "anyOf" || error.keyword === "oneOf" || error.keyword === "propertyNames" || error.keyword === "contains") {
        suppress = { prefix: error.keywordLocation + "/", at: error.instanceLocation };
      }
      count++;
      if (out.length < room) out.push({ in: where, ...this.#describe(error) });
    }
    return count;
  }

  #describe(error: OutputUnit): { pointer: string; expected: string } {
    const pointer = toPointer(error.instanceLocation);
    if (error.keyword === "false") return { pointer, expected: "nothing here (the schema allows no value at this place)" };
    const { node, keyword } = this.#keywordAt(error.keywordLocation);
    const value = isObject(node) ? node[keyword] : undefined;
    switch (keyword) {
      case "type": {
        const names = Array.isArray(value) ? value : [value];
        return { pointer, expected: names.length === 1 ? `${article(String(names[0]))} ${names[0]}` : `one of the types ${names.join(", ")}` };
      }
      case "const": return { pointer, expected: `the value ${json(value)}` };
      case "enum": return { pointer, expected: `one of ${json(value)}` };
      case "required": {
        // cfworker reports the object; the missing member's pointer is more useful.
        const name = /required property "(.*)"\.$/s.exec(error.error)?.[1] ?? "";
        return { pointer: `${pointer}/${escapeToken(name)}`, expected: "a value (required property)" };
      }
      case "dependentRequired": {
        const [, has, needs] = /has "(.*)" but does not have "(.*)"\.$/s.exec(error.error) ?? [];
        return { pointer: `${pointer}/${escapeToken(needs ?? "")}`, expected: `a value (required when "${has}" is present)` };
      }
      case "minimum": return { pointer, expected: `a number >= ${value}` };
      case "maximum": return { pointer, expected: `a number <= ${value}` };
      case "exclusiveMinimum": return { pointer, expected: `a number > ${value}` };
      case "exclusiveMaximum": return { pointer, expected: `a number < ${value}` };
      case "multipleOf": return { pointer, expected: `a multiple of ${value}` };
      case "minLength": return { pointer, expected: `a string of at least ${value} characters` };
      case "maxLength": return { pointer, expected: `a string of at most ${value} characters` };
      case "pattern": return { pointer, expected: `a string matching ${json(value)}` };
      case "format": return { pointer, expected: `a string in the format ${json(value)}` };
      case "minItems": return { pointer, expected: `an array of at least ${value} items` };
      case "maxItems": return { pointer, expected: `an array of at most ${value} items` };
      case "uniqueItems": return { pointer, expected: "an array without duplicate items" };
      case "contains": return { pointer, expected: "an array with an item matching the contains schema" };
      case "minContains": return { pointer, expected: `an array with at least ${value} items matching the contains schema` };
      case "maxContains": return { pointer, expected: `an array with at most ${value} items matching the contains schema` };
      case "minProperties": return { pointer, expected: `an object with at least ${value} properties` };
      case "maxProperties": return { pointer, expected: `an object with at most ${value} properties` };
      case "propertyNames": return { pointer, expected: "property names matching the propertyNames schema" };
      case "not": return { pointer, expected: "a value that does not match the \"not\" schema" };
      case "anyOf": return { pointer, expected: `a value matching at least one of ${Array.isArray(value) ? value.length : "the"} alternatives (anyOf)` };
      case "oneOf": return { pointer, expected: `a value matching exactly one of ${Array.isArray(value) ? value.length : "the"} alternatives (oneOf)` };
      default: return { pointer, expected: `a value satisfying "${keyword}"` };
    }
  }

  /** The schema object holding the failing keyword, found by walking `#/a/$ref/b/keyword` through references. */
  #keywordAt(location: string): { node: unknown; keyword: string } {
    const segments = fragmentSegments(location.slice(1)) ?? [];
    const keyword = segments.pop() ?? "";
    let node: unknown = this.#root;
    for (const segment of segments) {
      if (segment === "$ref" && isObject(node)) {
        const target = (node as Schema).__absolute_ref__ ?? node.$ref;
        node = typeof target === "string" ? this.#lookup[target] : undefined;
      } else if (Array.isArray(node)) node = node[Number(segment)];
      else if (isObject(node)) node = node[segment];
      else return { node: undefined, keyword };
    }
    return { node, keyword };
  }
}

/** Keywords cfworker reports around the failures inside them (which are reported themselves). */
const WRAPPERS = new Set([
  "properties", "patternProperties", "additionalProperties", "unevaluatedProperties", "dependentSchemas",
  "items", "prefixItems", "unevaluatedItems", "$ref", "allOf", "then", "else",
]);

const article = (word: string): string => (/^[aeiou]/.test(word) ? "an" : "a");

/** `#/a/b%20c` (cfworker's URI fragment) as the RFC 6901 pointer `/a/b c`. */
function toPointer(location: string): string {
  try {
    return decodeURIComponent(location.slice(1));
  } catch {
    return location.slice(1);
  }
}

export const escapeToken = (token: string): string => token.replaceAll("~", "~0").replaceAll("/", "~1");
