/**
 * Request validation (`validate` on a route): path parameter patterns, query and headers as JSON
 * Schemas over their parsed values, a content-type allow-list, and a JSON body against a JSON
 * Schema. Schemas are checked with the route table (every problem by its JSON path) and compiled
 * once per route at isolate start; nothing is generated or evaluated at run time.
 */
import { z } from "zod";
import { isObject, str } from "../../config/core.ts";
import { definePolicy } from "../../policy.ts";
import { jsonSchemaProblems, type JsonSchemaValue } from "./json_schema.ts";
import { isJsonMediaType, validateErrors, validateRequest } from "./policy.ts";

export { validateErrors, validateRequest, MAX_PROBLEMS } from "./policy.ts";
export { CompiledSchema, jsonSchemaProblems, type Problem } from "./json_schema.ts";

/** Default cap of a JSON body read for validation. */
export const DEFAULT_MAX_BODY_BYTES = 1_048_576;
const MAX_MAX_BODY_BYTES = 16 * 1_048_576;

const JsonSchema = z.union([z.boolean(), z.record(z.string(), z.unknown())], { error: "must be a JSON Schema: an object or true/false" })
  .superRefine((schema, ctx) => {
    for (const problem of jsonSchemaProblems(schema)) ctx.addIssue({ code: "custom", path: problem.path, message: problem.message });
  })
  // Editors that read routes.schema.json check the schema against the JSON Schema meta-schema.
  .meta({ $ref: "https://json-schema.org/draft/2020-12/schema" }) as unknown as z.ZodType<JsonSchemaValue>;

const MEDIA_RANGE = /^(?:[a-z0-9!#$&^_.+-]+|\*)\/(?:[a-z0-9!#$&^_.+-]+|\*|\*\+[a-z0-9!#$&^_.-]+)$/;

export const ValidateSchema = z.strictObject({
  params: z.record(z.string(), z.string().min(1)).optional()
    .describe("Path parameter -> regular expression its percent-decoded value must match whole (Unicode mode)."),
  query: JsonSchema.optional()
    .describe("JSON Schema (2020-12) over the query as an object; values are strings, read as numbers or booleans where the property's type asks, arrays when repeated."),
  headers: JsonSchema.optional()
    .describe("JSON Schema (2020-12) over the request headers as an object with lowercase names; values read as for query."),
  body: JsonSchema.optional()
    .describe("JSON Schema (2020-12) over a JSON body (application/json or */*+json). Without contentTypes, only JSON bodies are accepted."),
  contentTypes: z.array(z.string().transform((s) => s.toLowerCase()).pipe(z.string().regex(MEDIA_RANGE, "must be a media type such as application/json, text/*, or application/*+json"))).min(1).optional()
    .describe("Media types a request body may have (type/subtype, type/*, type/*+suffix); any other is 415. A request without a body is not checked."),
  maxBodyBytes: z.number().int().min(1).max(MAX_MAX_BODY_BYTES).default(DEFAULT_MAX_BODY_BYTES)
    .describe("Largest JSON body read for validation (413 above). Default 1048576 (1 MiB)."),
}).describe("Validate requests before they reach the origin (400 validation_failed, 415, 413).");

const pathParams = (path: string | undefined): Set<string> =>
  new Set((path ?? "").split("/").filter((s) => s.startsWith(":")).map((s) => s.slice(1)));

export const validatePolicy = definePolicy({
  name: "validate",
  summary: "Checks path parameters, query, headers, content type and JSON body against the route's schemas before the origin sees the request.",
  routeFields: { validate: ValidateSchema.optional() },
  errors: validateErrors,
  checkRoute({ route, issue }) {
    const validate = isObject(route.validate) ? route.validate : undefined;
    if (!validate) return;
    const params = pathParams(str(route.path));
    for (const name of Object.keys(isObject(validate.params) ? validate.params : {})) {
      if (!params.has(name)) issue(`"${name}" is not a parameter of the path "${str(route.path)}"`, "validate", "params", name);
    }
    for (const [name, pattern] of Object.entries(isObject(validate.params) ? validate.params : {})) {
      if (typeof pattern !== "string") continue;
      try { new RegExp(pattern, "u"); } catch { issue("not a valid regular expression (Unicode mode)", "validate", "params", name); }
    }
    for (const part of ["query", "headers"] as const) {
      const schema = validate[part];
      if (!isObject(schema)) continue;
      const type = schema.type;
      if (type !== undefined && type !== "object" && !(Array.isArray(type) && type.includes("object")))
        issue(`the ${part} is an object: its schema's type must be "object"`, "validate", part, "type");
    }
    const headers = isObject(validate.headers) ? validate.headers : undefined;
    if (headers) {
      for (const name of Object.keys(isObject(headers.properties) ? headers.properties : {})) {
        if (name !== name.toLowerCase()) issue(`header names are matched in lowercase: write "${name.toLowerCase()}"`, "validate", "headers", "properties", name);
      }
      if (Array.isArray(headers.required)) headers.required.forEach((name, i) => {
        if (typeof name === "string" && name !== name.toLowerCase()) issue(`header names are matched in lowercase: write "${name.toLowerCase()}"`, "validate", "headers", "required", i);
      });
      if (headers.additionalProperties === false)
        issue("every request carries headers a schema cannot list (browsers', proxies', Cloudflare's cf-*); additionalProperties: false would refuse them all", "validate", "headers", "additionalProperties");
    }
    const methods = Array.isArray(route.methods) ? route.methods : undefined;
    const bodyless = methods !== undefined && methods.every((m) => m === "GET" || m === "HEAD");
    if (bodyless && (validate.body !== undefined || validate.contentTypes !== undefined))
      issue("the route takes only GET/HEAD, whose bodies are refused: a body check never applies", "validate", validate.body !== undefined ? "body" : "contentTypes");
    if (route.websocket === true && (validate.body !== undefined || validate.contentTypes !== undefined))
      issue("a WebSocket upgrade has no body to check", "validate", validate.body !== undefined ? "body" : "contentTypes");
    if (validate.body !== undefined && Array.isArray(validate.contentTypes)) {
      const types = validate.contentTypes.filter((t): t is string => typeof t === "string").map((t) => t.toLowerCase());
      if (!types.some((t) => isJsonMediaType(t) || t === "*/*" || t === "application/*" || t.endsWith("/*+json")))
        issue("no JSON media type is allowed, so the body schema would never apply", "validate", "contentTypes");
    }
  },
  create(route) {
    const validate = route.validate;
    if (!validate) return undefined;
    return validateRequest({ routeId: route.id, ...validate });
  },
});
