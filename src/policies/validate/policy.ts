/**
 * The request-validation middleware of a route (`validate`): path parameter patterns, the query and
 * the headers as JSON Schemas over their parsed values, the body's media type against an allow-list
 * (415 `unsupported_media_type`), and a JSON body (`application/json`, `*+json`) against a JSON
 * Schema. Every problem is collected before answering, so one 400 `validation_failed` lists them
 * all (at most MAX_PROBLEMS), each as `{ in, pointer, expected }`: where, and what the schema
 * wanted there. The values sent are never echoed: not in the message, not in the problems.
 *
 * A JSON body is buffered to be parsed (validation must finish before the origin sees a byte), capped
 * by `maxBodyBytes` with hono/body-limit (413 `payload_too_large`), and the buffered bytes are what
 * is forwarded: the stream is read once. Other bodies, and every body on a route without a body
 * schema, are not read here and stream to the origin as usual.
 *
 * Hand-written rather than hono/validator: that reads the body through c.req's body cache without
 * a cap, answers a malformed body with its own 400, and stops at the first refusal of its callback;
 * the gateway needs the cap, the bytes back for forwarding, and every problem in one answer.
 */
import { bodyLimit } from "hono/body-limit";
import type { GatewayContext, GatewayMiddleware } from "../../context.ts";
import { coreErrors, defineErrors } from "../../errors.ts";
import { CompiledSchema, escapeToken, type JsonSchemaValue, type Problem } from "./json_schema.ts";

export const validateErrors = defineErrors("validate", {
  validation_failed: {
    status: 400,
    meaning: "The request does not match the route's `validate` schemas; `error.problems` lists each problem (`in`, `pointer`, `expected`), at most 20. Values sent are never echoed.",
  },
});

/** Problems listed in one answer; the message says how many there were in all. */
export const MAX_PROBLEMS = 20;

export interface ValidateOptions {
  routeId: string;
  query?: JsonSchemaValue;
  headers?: JsonSchemaValue;
  body?: JsonSchemaValue;
  /** Media types a body may have (`type/subtype`, `type/*`, `type/*+suffix`). */
  contentTypes?: readonly string[];
  /** Path parameter name -> pattern its decoded value must match whole. */
  params?: Readonly<Record<string, string>>;
  maxBodyBytes: number;
}

/** The media types of JSON bodies, the ones a body schema applies to. */
export const isJsonMediaType = (essence: string): boolean => essence === "application/json" || /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+\+json$/.test(essence);
const JSON_TYPES = ["application/json", "*/*+json"];
/** Methods whose requests are expected to carry a body: a body schema on them requires one. */
const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);

export function validateRequest(options: ValidateOptions): GatewayMiddleware {
  const { routeId, maxBodyBytes } = options;
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1) throw new TypeError(`route "${routeId}": validate.maxBodyBytes must be a positive integer`);
  const params = Object.entries(options.params ?? {}).map(([name, pattern]) => {
    try {
      return { name, pattern, regex: new RegExp(`^(?:${pattern})$`, "u") };
    } catch {
      throw new TypeError(`route "${routeId}": validate.params.${name}: not a valid regular expression`);
    }
  });
  const query = options.query === undefined ? undefined : { schema: new CompiledSchema(options.query), shape: shapeOf(options.query) };
  const headers = options.headers === undefined ? undefined : { schema: new CompiledSchema(options.headers), shape: shapeOf(options.headers) };
  const body = options.body === undefined ? undefined : new CompiledSchema(options.body);
  // With a body schema and no allow-list, only JSON bodies are accepted: otherwise a client could
  // send the same bytes as text/plain and pass unchecked.
  const allowed = options.contentTypes ?? (body ? JSON_TYPES : undefined);
  const acceptsType = allowed === undefined ? undefined : mediaTypeMatcher(allowed);
  const limit = bodyLimit({
    maxSize: maxBodyBytes,
    onError: () => { throw coreErrors.payload_too_large(`A body checked by this route may be at most ${maxBodyBytes} bytes.`); },
  });

  return async function validateRequest(c, next) {
    const problems: Problem[] = [];
    let total = 0;
    if (params.length > 0) {
      const values = c.get("match").params;
      for (const { name, pattern, regex } of params) {
        const value = values[name];
        if (value !== undefined && !regex.test(decoded(value))) {
          total++;
          if (problems.length < MAX_PROBLEMS) problems.push({ in: "params", pointer: `/${escapeToken(name)}`, expected: `a value matching ${JSON.stringify(pattern)}` });
        }
      }
    }
    if (query) total += query.schema.check(queryObject(new URL(c.req.url).searchParams, query.shape), "query", problems, MAX_PROBLEMS);
    if (headers) total += headers.schema.check(headersObject(c.req.raw.headers, headers.shape), "headers", problems, MAX_PROBLEMS);

    const request = c.req.raw;
    // GET and HEAD bodies are the core's to refuse (body_not_allowed); they are never read here.
    const bodyAllowed = request.method !== "GET" && request.method !== "HEAD";
    const hasBody = bodyAllowed && request.body !== null && request.headers.get("content-length") !== "0";
    if (hasBody && acceptsType) {
      const essence = mediaTypeEssence(request.headers.get("content-type"));
      if (!acceptsType(essence))
        throw coreErrors.unsupported_media_type(`This route accepts bodies of type ${allowed!.join(", ")}${essence ? "" : "; the request has no Content-Type"}.`);
      if (body && isJsonMediaType(essence)) {
        let parsed: { ok: true; value: unknown } | undefined;
        await limit(c, async () => { parsed = await readJson(c, maxBodyBytes); });
        total += body.check(parsed!.value, "body", problems, MAX_PROBLEMS);
      }
    } else if (!hasBody && body && BODY_METHODS.has(request.method)) {
      total++;
      if (problems.length < MAX_PROBLEMS) problems.push({ in: "body", pointer: "", expected: "a JSON body" });
    }
    if (total > 0) throw failed(problems, total);
    await next();
  };
}

function failed(problems: Problem[], total: number) {
  const listed = problems.map((p) => `${p.in} ${p.pointer || "(root)"}: ${p.expected}`).join("; ");
  const more = total > problems.length ? ` (the first ${problems.length} are listed)` : "";
  return validateErrors.validation_failed(`The request failed validation with ${total} problem${total === 1 ? "" : "s"}${more}: ${listed}.`, {}, { problems });
}

const fatalUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/**
 * Reads the body (hono/body-limit has already refused one over the cap, by Content-Length or while
 * counting a chunked one), parses it, and puts the bytes back as the request's body for forwarding.
 */
async function readJson(c: GatewayContext, maxBodyBytes: number): Promise<{ ok: true; value: unknown }> {
  const bytes = new Uint8Array(await c.req.raw.arrayBuffer());
  if (bytes.byteLength > maxBodyBytes) throw coreErrors.payload_too_large(`A body checked by this route may be at most ${maxBodyBytes} bytes.`);
  c.req.raw = new Request(c.req.raw, { body: bytes });
  try {
    return { ok: true, value: JSON.parse(fatalUtf8.decode(bytes)) };
  } catch {
    throw coreErrors.invalid_json("The body is not valid JSON (UTF-8).");
  }
}

function decoded(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** `application/json; charset=utf-8` -> `application/json`; "" when absent. */
export function mediaTypeEssence(header: string | null): string {
  if (header === null) return "";
  const semicolon = header.indexOf(";");
  return (semicolon < 0 ? header : header.slice(0, semicolon)).trim().toLowerCase();
}

/** A test for essences against an allow-list of `type/subtype`, `type/*` and `type/*+suffix` (either part may be `*`). */
export function mediaTypeMatcher(allowed: readonly string[]): (essence: string) => boolean {
  const exact = new Set<string>();
  const tests: ((type: string, subtype: string) => boolean)[] = [];
  for (const entry of allowed) {
    const [type, subtype] = entry.toLowerCase().split("/") as [string, string];
    if (type !== "*" && !subtype.includes("*")) { exact.add(`${type}/${subtype}`); continue; }
    const suffix = subtype.startsWith("*+") ? subtype.slice(1) : undefined;
    tests.push((t, s) => (type === "*" || t === type) && (subtype === "*" || (suffix !== undefined && s.endsWith(suffix) && s.length > suffix.length)));
  }
  return (essence) => {
    if (exact.has(essence)) return true;
    const slash = essence.indexOf("/");
    if (slash <= 0) return false;
    const type = essence.slice(0, slash), subtype = essence.slice(slash + 1);
    return tests.some((test) => test(type, subtype));
  };
}

/**
 * How to read each named member of a query or headers schema, from its `properties`: an array
 * (every value of a repeated parameter) or one value, and the types a string may be read as.
 */
interface Member { array: boolean; types: ReadonlySet<string> | undefined }
type Shape = ReadonlyMap<string, Member>;

const typesOf = (schema: unknown): Set<string> | undefined => {
  if (typeof schema !== "object" || schema === null) return undefined;
  const type = (schema as { type?: unknown }).type;
  return type === undefined ? undefined : new Set((Array.isArray(type) ? type : [type]).filter((t): t is string => typeof t === "string"));
};

function shapeOf(schema: JsonSchemaValue): Shape {
  const shape = new Map<string, Member>();
  const properties = typeof schema === "object" ? schema.properties : undefined;
  if (typeof properties !== "object" || properties === null) return shape;
  for (const [name, member] of Object.entries(properties)) {
    const types = typesOf(member);
    const array = types?.has("array") === true;
    shape.set(name, { array, types: array ? typesOf((member as { items?: unknown }).items) : types });
  }
  return shape;
}

const NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;

/**
 * A query or header value as the schema's type for it asks: a number, a boolean or null when the
 * text is exactly one and the schema does not also accept a string; otherwise the text.
 */
function coerce(text: string, types: ReadonlySet<string> | undefined): unknown {
  if (types === undefined || types.has("string")) return text;
  if ((types.has("integer") || types.has("number")) && NUMBER.test(text)) return Number(text);
  if (types.has("boolean") && (text === "true" || text === "false")) return text === "true";
  if (types.has("null") && text === "") return null;
  return text;
}

/**
 * The query as an object: a parameter the schema types as an array holds all its values; any other
 * holds its one value, or, when repeated, an array of all of them (which a non-array schema refuses,
 * so `?id=1&id=2` cannot slip a second value past a check of the first).
 */
export function queryObject(params: URLSearchParams, shape: Shape): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const seen = new Map<string, string[]>();
  for (const [name, value] of params) {
    const values = seen.get(name);
    if (values) values.push(value);
    else seen.set(name, [value]);
  }
  for (const [name, values] of seen) {
    const member = shape.get(name);
    const items = values.map((v) => coerce(v, member?.types));
    out[name] = member?.array || items.length > 1 ? items : items[0];
  }
  return out;
}

/** Request headers as an object of lowercase names; repeated headers arrive joined by ", " (the Fetch API). */
export function headersObject(headers: Headers, shape: Shape): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of headers) {
    const member = shape.get(name);
    out[name] = member?.array ? value.split(",").map((v) => coerce(v.trim(), member.types)) : coerce(value, member?.types);
  }
  return out;
}
