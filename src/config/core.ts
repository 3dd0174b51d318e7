/**
 * The core of the route-table schema: the fields every route and table has whatever policies run
 * (matching, the origin, path rewriting, header edits). src/config/assemble.ts merges them with the
 * policies' fragments and checks, so nothing here knows of a policy.
 */
import { z } from "zod";
import { SecretRef, headerName } from "./common.ts";

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

const OriginUrl = z.string().superRefine((value, ctx) => {
  let url: URL;
  try { url = new URL(value); } catch { ctx.addIssue({ code: "custom", message: "must be an absolute http(s) URL" }); return; }
  if (url.protocol !== "http:" && url.protocol !== "https:") ctx.addIssue({ code: "custom", message: "must use http or https" });
  if (url.search || url.hash) ctx.addIssue({ code: "custom", message: "must not have a query or fragment" });
  if (url.username || url.password) ctx.addIssue({ code: "custom", message: "must not carry credentials (use requestHeaders with a Worker secret instead)" });
});

/** A binding name as wrangler.toml's `[[services]] binding` spells it (a JavaScript identifier). */
const ServiceBinding = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, "must be the name of a service binding in wrangler.toml ([[services]] binding)");

export const STICKY_KEYS = ["apiKey", "jwt:sub", "ip"] as const;
export type StickyKey = (typeof STICKY_KEYS)[number];

/** Retry conditions: a connection refused or reset, a timeout, or an origin status (5xx). */
export const RETRY_CONDITIONS = ["connect", "timeout"] as const;

const RETRY_CONDITION_MESSAGE = `must be "connect", "timeout" or a 5xx status`;
const RetryCondition = z.union([z.enum(RETRY_CONDITIONS), z.number().int()], { error: RETRY_CONDITION_MESSAGE })
  .refine((v) => typeof v === "string" || (v >= 500 && v <= 599), RETRY_CONDITION_MESSAGE);

export const TargetSchema = z.strictObject({
  url: OriginUrl.optional().describe("Base URL of this target (like an origin's `url`). Give `url` or `service`."),
  service: ServiceBinding.optional().describe("A service binding to another Worker (wrangler.toml `[[services]]`), instead of a URL."),
  weight: z.number().int().min(0).max(1000).default(1)
    .describe("Share of traffic, relative to the other targets' weights. 0: no traffic (drained). Default 1."),
});

export const RetriesSchema = z.strictObject({
  attempts: z.number().int().min(1).max(5).default(1)
    .describe("Retries after the first try (so at most attempts + 1 tries). Default 1."),
  on: z.array(RetryCondition).min(1).default(["connect", 502, 503, 504])
    .describe(`What is retried: "connect" (refused or reset before an answer), "timeout" (no answer within timeoutMs) and 5xx statuses. Default ["connect", 502, 503, 504].`),
  budgetPercent: z.number().min(0).max(100).default(10)
    .describe("Retries per isolate may not exceed this percentage of the origin's requests in the last 10 s (plus 10). Default 10."),
}).describe("Retry safe requests on another target (docs/upstreams.md: GET, HEAD, OPTIONS, PUT, DELETE or an Idempotency-Key, and no body).");

export const CircuitBreakerSchema = z.strictObject({
  consecutiveFailures: z.number().int().min(1).max(1000).default(5)
    .describe("Failures in a row (refused, reset, timeout, 502, 503, 504) that open a target's circuit. Default 5."),
  openSec: z.number().int().min(1).max(3600).default(30)
    .describe("Seconds a target is skipped once open; then one probe request decides. Default 30."),
}).describe("Skip a failing target for a while, per isolate; every target open answers 503 origin_unavailable at once.");

export const HealthCheckSchema = z.strictObject({
  path: z.string().regex(/^\/[\x21-\x7e]*$/, "must be a path starting with / (visible ASCII, no spaces)")
    .describe("Path probed with GET on each target (after the target URL's own path). 2xx and 3xx are healthy."),
  intervalSec: z.number().int().min(10).max(3600).default(30)
    .refine((s) => 60 % s === 0 || s % 60 === 0, "must divide a minute (10, 12, 15, 20, 30) or be whole minutes (60, 120, ...): probes run from a once-a-minute Cron Trigger")
    .describe("Seconds between probes. Default 30."),
  timeoutMs: z.number().int().min(100).max(30_000).default(2000)
    .describe("A probe without response headers in this time fails. Default 2000."),
  unhealthyAfter: z.number().int().min(1).max(10).default(2)
    .describe("Failed probes in a row that take a target out of traffic. Default 2."),
  healthyAfter: z.number().int().min(1).max(10).default(2)
    .describe("Passed probes in a row that bring it back. Default 2."),
}).describe("Active health checks from the Worker's Cron Trigger; an unhealthy target gets no traffic until it recovers.");

export const OriginSchema = z.strictObject({
  url: OriginUrl.optional().describe("Base URL of the origin. Its path is a prefix joined before the forwarded path. Give one of url, targets or service."),
  targets: z.array(TargetSchema).min(1).max(16).optional()
    .describe("Several URLs (or services), chosen by weight: canary, blue/green, failover. See docs/upstreams.md."),
  service: ServiceBinding.optional()
    .describe("Forward to another Worker through this service binding (wrangler.toml `[[services]]`): no public hop."),
  timeoutMs: z.number().int().min(1).max(300_000).default(30_000)
    .describe("How long to wait for the origin's response headers before answering 504. Default 30000."),
  hostHeader: z.string().regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, "must be a host name").optional()
    .describe("Host header to send instead of the URL's host (honoured by Cloudflare for hosts in your zone)."),
  stickyBy: z.enum(STICKY_KEYS).nullable().optional()
    .describe(`Keep a caller on one target (consistent hash): "apiKey" (the verified key's id), "jwt:sub" (the verified token's subject) or "ip". Default: none.`),
  retries: RetriesSchema.optional(),
  circuitBreaker: CircuitBreakerSchema.optional(),
  healthCheck: HealthCheckSchema.optional(),
}).check(z.superRefine((origin, ctx) => checkOrigin(origin as Loose, ctx), { when: () => true }));

/** Rules between an origin's fields; runs even when a field failed, so it reads them defensively. */
function checkOrigin(origin: Loose, ctx: z.RefinementCtx): void {
  if (!isObject(origin)) return;
  const issue = (message: string, ...path: (string | number)[]) => ctx.addIssue({ code: "custom", path, message });
  const kinds = (["url", "targets", "service"] as const).filter((k) => origin[k] !== undefined);
  if (kinds.length === 0) issue("required: url, targets or service");
  if (kinds.length > 1) issue(`give one of url, targets or service, not ${kinds.join(" and ")}`, kinds[1]!);
  if (Array.isArray(origin.targets)) {
    const seen = new Map<string, number>();
    let weight = 0;
    origin.targets.forEach((target, i) => {
      if (!isObject(target)) return;
      const hasUrl = target.url !== undefined, hasService = target.service !== undefined;
      if (hasUrl === hasService) issue(hasUrl ? "give url or service, not both" : "required: url or service", "targets", i);
      weight += typeof target.weight === "number" ? target.weight : target.weight === undefined ? 1 : 0;
      const id = hasUrl ? `url ${String(target.url)}` : `service ${String(target.service)}`;
      const first = seen.get(id);
      if (first !== undefined) issue(`duplicates targets[${first}]`, "targets", i);
      else seen.set(id, i);
    });
    if (origin.targets.length > 0 && weight <= 0) issue("at least one target needs a weight above 0", "targets");
  }
  const targetCount = Array.isArray(origin.targets) ? origin.targets.length : 1;
  if (origin.stickyBy !== undefined && origin.stickyBy !== null && targetCount < 2) issue("needs two or more targets to choose between", "stickyBy");
}

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
export type Loose = Record<string, unknown>;

/** A route's core fields; `auth` is "none" or an object whose members the policies define. */
export type CoreRoute = z.output<typeof CoreRouteObject> & { auth: "none" | Loose };
export type Origin = z.output<typeof OriginSchema>;
export type OriginTarget = z.output<typeof TargetSchema>;
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
export const NAMES_OF = (v: unknown): Set<string> => new Set(isObject(v) ? Object.keys(v) : []);
export const isObject = (v: unknown): v is Loose => typeof v === "object" && v !== null && !Array.isArray(v);
export const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
