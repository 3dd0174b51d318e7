/**
 * The core of the route-table schema: the fields every route and table has whatever policies run
 * (matching, the origin, path rewriting, header edits). src/config/assemble.ts merges them with the
 * policies' fragments and checks, so nothing here knows of a policy.
 */
import { z } from "zod";
import { SecretRef, headerName, isObject, type Loose } from "./common.ts";
import { OriginSchema, type Origin } from "./origins.ts";

// The loose-config guards live in common.ts (origins.ts needs them too); most callers import them from here.
export { isObject, NAMES_OF, str, type Loose } from "./common.ts";

export const HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

/** Headers the gateway owns on the way to the origin; a route may not set or remove them. */
export const GATEWAY_OWNED_REQUEST_HEADERS = [
  "host", "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
  "transfer-encoding", "upgrade", "content-length", "x-forwarded-for", "x-forwarded-host",
  "x-forwarded-proto", "forwarded", "x-request-id", "cf-connecting-ip", "x-real-ip",
  "traceparent", "tracestate",
] as const;
export const GATEWAY_OWNED_RESPONSE_HEADERS = [
  "connection", "keep-alive", "transfer-encoding", "upgrade", "content-length", "x-request-id", "trailer",
] as const;

// Visible ASCII and spaces/tabs inside; no CR/LF, so a configured value can never split a header.
export const HEADER_VALUE = /^[\t\x20-\x7e]*$/;
const ROUTE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
export const ORIGIN_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
// One path segment of a pattern: RFC 3986 pchar without ';' (the gateway refuses ';' in paths),
// written the way the canonicalizer writes it (no percent-encoded unreserved characters).
const STATIC_SEGMENT = /^(?:[A-Za-z0-9\-._~!$&'()*+,=@]|%(?![46][1-9A-Fa-f]|[57][0-9Aa]|3[0-9]|2[DEde]|5[Ff]|7[Ee])[0-9A-F]{2})+$/;
const PARAM_SEGMENT = /^:[A-Za-z_][A-Za-z0-9_]*$/;
const HOST_PATTERN = /^(\*\.)?(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;


/** A path pattern: `/static/:param/*`. `*` may only end the pattern, as a whole segment. */
export const PathPattern = z.string().superRefine((path, ctx) => {
  for (const problem of pathPatternProblems(path)) ctx.addIssue({ code: "custom", message: problem });
});

export function pathPatternProblems(path: string): string[] {
  if (!path.startsWith("/")) return ["must start with /"];
  if (path === "/") return [];
  const segments = path.slice(1).split("/");
  const problems: string[] = [];
  const names = new Set<string>();
  segments.forEach((segment, i) => {
    const last = i === segments.length - 1;
    const advice = foreignNotation(segment);
    if (segment === "*") {
      if (!last) problems.push(`"*" may only be the last segment`);
    } else if (advice !== undefined) {
      problems.push(advice);
    } else if (segment.startsWith(":")) {
      if (!PARAM_SEGMENT.test(segment)) problems.push(`"${segment}" is not a valid parameter name`);
      else if (names.has(segment)) problems.push(`parameter "${segment}" appears twice`);
      names.add(segment);
    } else if (segment === "") {
      problems.push(last ? "must not end with / (write the path without it; matching ignores a trailing /)" : "must not contain an empty segment (//)");
    } else if (segment === "." || segment === "..") {
      problems.push("must not contain dot segments");
    } else if (!STATIC_SEGMENT.test(segment)) {
      problems.push(`segment "${segment}" has characters a canonical path never contains (write it percent-encoded, uppercase hex, without ';')`);
    }
  });
  return problems;
}

/**
 * Advice for a segment written in another router's notation, which would otherwise be a literal
 * segment that matches nothing useful: OpenAPI's `{id}`, API Gateway's `{proxy+}`, globs.
 */
function foreignNotation(segment: string): string | undefined {
  const param = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(segment);
  if (param) return `"${segment}" is OpenAPI's notation: write ":${param[1]}" for a parameter`;
  if (/^\{[^{}]*\+\}$/.test(segment)) return `"${segment}" is API Gateway's notation: write "*" as the last segment for the rest of the path`;
  if (segment.includes("{") || segment.includes("}"))
    return `segment "${segment}" has { or }: a parameter is a whole segment written ":name" (for a literal brace, write %7B or %7D)`;
  if (segment === "**") return `"**" is not a pattern here: write "*" as the last segment for the rest of the path`;
  if (segment.includes("*"))
    return `"${segment}": "*" matches only as the whole last segment ("/files/*" is the rest of the path), never inside a segment`;
  return undefined;
}

const HeaderEdits = (owned: readonly string[]) =>
  z.strictObject({
    set: z.record(headerName, z.string().regex(HEADER_VALUE, "must be visible ASCII (no line breaks)")).optional()
      .describe("Headers to set, replacing any value already present."),
    remove: z.array(headerName).optional().describe("Headers to remove."),
  }).superRefine((edits, ctx) => {
    for (const [key, names] of [["set", Object.keys(edits.set ?? {})], ["remove", edits.remove ?? []]] as const) {
      names.forEach((name, i) => {
        if (owned.includes(name))
          ctx.addIssue({ code: "custom", path: key === "set" ? [key, name] : [key, i], message: `"${name}" is managed by the gateway and cannot be changed by a route` });
      });
    }
  });

/** Route fields of the core: matching, the origin and what is sent to it. */
export const coreRouteFields = {
  id: z.string().regex(ROUTE_ID, "must be 1-128 characters of letters, digits and . _ : -")
    .describe("Unique name of the route; appears in logs and errors."),
  methods: z.array(z.enum(HTTP_METHODS)).min(1).optional()
    .describe("Methods the route answers. Omitted: every method."),
  host: z.string().transform((h) => h.toLowerCase()).pipe(z.string().regex(HOST_PATTERN, "must be a host name or *.domain")).optional()
    .describe("Host to match: exact (api.example.com) or wildcard (*.example.com). Omitted: any host."),
  path: PathPattern.describe("Path pattern: static segments, :params, and a final * for the rest of the path."),
  origin: z.string().optional().describe("Name of the origin in `origins` to forward to (every route but one a policy answers, such as a room)."),
  timeoutMs: z.number().int().min(1).max(300_000).optional()
    .describe("How long this route waits for the origin's response headers before answering 504, instead of the origin's timeoutMs."),
  websocket: z.boolean().optional().describe("Proxy WebSocket upgrades to the origin's WebSocket."),
  rewrite: PathPattern.optional()
    .describe("Path sent to the origin; :params and * are substituted from the match."),
  stripPrefix: z.string().optional()
    .describe("Prefix removed from the matched path before forwarding (ignored with rewrite)."),
  forwardUnderscoreHeaders: z.boolean().optional()
    .describe("Forward client headers whose names contain _ (default false: dropped, as nginx and Apache do). Even when true, a name that reads as a gateway-owned, identity or dropped header with _ as - is dropped."),
  requestHeaders: HeaderEdits(GATEWAY_OWNED_REQUEST_HEADERS).optional()
    .describe("Headers changed on the way to the origin."),
  responseHeaders: HeaderEdits(GATEWAY_OWNED_RESPONSE_HEADERS).optional()
    .describe("Headers changed on the way back to the client."),
  serverTiming: z.boolean().optional()
    .describe("Add a Server-Timing header (gw, auth, limit, origin durations in ms) to this route's responses; overrides the table-wide `serverTiming`. Off unless turned on: it tells every client how long each step took."),
};

/** Table-wide: Server-Timing on every route that does not say otherwise. */
export const ServerTimingSchema = z.boolean().default(false)
  .describe("Add a Server-Timing header to the responses of every route without its own `serverTiming`. Default false.");

export const LoggingSchema = z.strictObject({
  sub: z.enum(["plain", "hash", "off"]).default("hash")
    .describe(`How the access log line (and Analytics Engine, where bound) shows a verified JWT's \`sub\`: "plain" as is, "hash" as the first 32 hex digits of its SHA-256 (default; compute it from a known sub to find its lines), "off" not at all.`),
}).default({ sub: "hash" }).describe("What the per-request access log line carries (docs/metrics.md).");

export const AdminSchema = z.strictObject({
  pathPrefix: z.string().regex(/^\/[A-Za-z0-9._~-]+$/, "must be one path segment like /_gateway").default("/_gateway")
    .describe("Path prefix of the admin API (one segment). Default /_gateway."),
  token: SecretRef.describe("Worker secret holding the admin bearer token. Missing secret: admin API off."),
}).optional().describe("Management API (keys, usage, rooms).");

const CoreRouteObject = z.strictObject(coreRouteFields);
/** Raw, possibly invalid input: cross-field checks read it defensively. */

/** A route's core fields; `auth` is "none" or an object whose members the policies define. */
export type CoreRoute = z.output<typeof CoreRouteObject> & { auth: "none" | Loose };
export interface CoreTable {
  origins: Record<string, Origin>;
  routes: CoreRoute[];
  admin?: z.output<typeof AdminSchema>;
  serverTiming?: boolean;
  logging?: z.output<typeof LoggingSchema>;
}

/**
 * Route fields that only mean something when the route forwards to an origin: a policy that answers
 * routes itself (a static answer, a redirect) reports them, so such a route never carries a setting
 * that silently does nothing.
 */
export const FORWARDING_FIELDS = ["origin", "websocket", "rewrite", "stripPrefix", "forwardUnderscoreHeaders", "requestHeaders", "responseHeaders"] as const;

/**
 * For a policy that sends to an origin by itself (a room's backend events, a mirror): the origin
 * must be one plain `url`, because only forwarding knows targets, services, retries, breakers and
 * health checks. Undefined when `origin` (raw) is such an origin, else the problem.
 */
export function notPlainUrlOrigin(origin: unknown): string | undefined {
  if (!isObject(origin)) return undefined;
  const extra = ["targets", "service", "retries", "circuitBreaker", "healthCheck"].filter((k) => origin[k] !== undefined);
  return extra.length === 0 ? undefined : `must name an origin with a plain url (this one has ${extra.join(", ")}, which only forwarding uses)`;
}

/** Names of a table's own keys, for policies' reference checks. */
