/**
 * The Hono app: request id and trace context, one log line per request (and one record for the
 * metrics recorder, when the Worker entry passes one), the JSON error envelope, the admin API, and
 * the gateway handler (canonicalize -> match -> the route's policy chain -> forward). Built once
 * per isolate. It names no capability: the policies come in as a list, and each route's chain is
 * compiled from it at startup (src/router/compile.ts). The Worker secrets the table names (each
 * declared by its owner) are checked on the first request, the first moment `env` exists.
 */
import { Hono } from "hono";
import { adminSecrets, createAdminApi, type AdminTable, type ConsoleAssets } from "./admin/index.ts";
import type { CoreTable } from "./config/core.ts";
import { setResponseHeader, type GatewayEnv } from "./context.ts";
import { coreErrors, toErrorResponse } from "./errors.ts";
import { accessEntry, logRequest, subjectForLog } from "./log.ts";
import type { RequestRecorder } from "./observe.ts";
import type { AnyPolicy, RouteLookup } from "./policy.ts";
import { canonicalizePath, compileRouteTable } from "./router/index.ts";
import { secretsCheck } from "./secrets.ts";
import { traceOf } from "./trace.ts";

const REQUEST_ID = /^[\w\-=]{1,255}$/;

export interface GatewayOptions {
  /** The policies, in pipeline order (src/policies/index.ts; tests pass their own). */
  policies?: readonly AnyPolicy[];
  /** Counts every request to the gateway's routes (the metrics service; the Worker entry passes it). */
  recorder?: RequestRecorder;
  /** The console's built assets (the Worker entry passes `@edge-gateway/console`); none, no console page. */
  console?: ConsoleAssets;
}

export function createGateway(table: CoreTable & AdminTable & Record<string, unknown>, options: GatewayOptions = {}) {
  const policies = options.policies ?? [];
  const { matcher, routes, origins } = compileRouteTable(table, policies);
  const app = new Hono<GatewayEnv>();
  const checkSecrets = secretsCheck([...adminSecrets(table.admin), ...policies.flatMap((p) => p.secrets?.(table) ?? [])]);

  const recorder = options.recorder;
  const subjectMode = table.logging?.sub ?? "hash";
  const adminPrefix = table.admin?.pathPrefix;
  const isAdmin = (path: string) => adminPrefix !== undefined && (path === adminPrefix || path.startsWith(adminPrefix + "/"));

  app.use(async function requestContext(c, next) {
    const started = Date.now();
    checkSecrets(c.env);
    // A valid incoming X-Request-Id is kept (the same rule as Hono's request-id middleware, which
    // is not used because its c.header() makes Hono rebuild every response once more).
    const incoming = c.req.header("x-request-id");
    c.set("requestId", incoming !== undefined && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID());
    const headers = c.req.raw.headers;
    c.set("trace", traceOf(headers.get("traceparent"), headers.get("tracestate")));
    await next();
    // Every response carries the request id, errors and origin responses included.
    setResponseHeader(c, "x-request-id", c.get("requestId"));
    const now = Date.now();
    const route = c.get("route");
    if (route?.serverTiming) setResponseHeader(c, "server-timing", serverTimingOf(now - started, c.get("serverTimings"), c.get("originMs")));
    const log = c.env?.LOG_REQUESTS !== "off";
    const record = recorder !== undefined && (route !== undefined || !isAdmin(c.req.path));
    if (!log && !record) return;
    const subject = subjectForLog(c.get("subject"), subjectMode);
    const entry = accessEntry(c, started, now, typeof subject === "object" ? await subject : subject);
    if (log) logRequest(entry);
    if (record) recorder.record(c, entry, started);
  });

  app.onError((err, c) => toErrorResponse(err, c));

  if (table.admin) app.route(table.admin.pathPrefix, createAdminApi(table, table.admin, { recorder, compiled: routes, origins, console: options.console }));

  // Table-wide middleware of the policies that have it, registered after the admin API so they
  // wrap the gateway's routes only, and before the handler so they see its errors too.
  const lookup: RouteLookup = {
    find(url, method) {
      const canonical = canonicalizePath(url.pathname);
      if (!canonical.ok) return undefined;
      const found = matcher.match(url.hostname, method, canonical.path);
      return found.kind === "match" ? found.value : undefined;
    },
  };
  for (const policy of policies) {
    const middleware = policy.wrap?.(table, lookup);
    if (middleware) app.use("*", middleware);
  }

  app.all("*", async function gateway(c) {
    const url = new URL(c.req.url);
    const canonical = canonicalizePath(url.pathname);
    if (!canonical.ok) throw coreErrors.bad_path(`Request path rejected: ${canonical.reason}.`);

    const match = matcher.match(url.hostname, c.req.method, canonical.path);
    if (match.kind === "not-found") throw coreErrors.not_found("No route matches this request.");
    if (match.kind === "method-not-allowed") {
      const allow = match.allow.join(", ");
      throw coreErrors.method_not_allowed(`Method ${c.req.method} is not allowed here; allowed: ${allow}.`, { allow });
    }
    const route = match.value;
    c.set("route", route);
    c.set("match", { canonicalPath: canonical.path, params: match.params, rest: match.rest });
    return route.run(c);
  });

  return app;
}

/** `gw` (the whole time in the gateway), then each timed policy's own time, then the origin's. */
function serverTimingOf(totalMs: number, timings: Map<string, number> | undefined, originMs: number | undefined): string {
  let value = `gw;dur=${ms(totalMs)}`;
  if (timings) for (const [name, spent] of timings) value += `, ${name};dur=${ms(spent)}`;
  if (originMs !== undefined) value += `, origin;dur=${ms(originMs)}`;
  return value;
}

const ms = (value: number): string => String(Math.max(0, Math.round(value * 10) / 10));
