/**
 * The Hono app: request id, one log line per request, the JSON error envelope, and the gateway
 * handler (canonicalize -> match -> policies -> forward). Built once per isolate.
 */
import { Hono, type Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { RouteTable } from "./config/index.ts";
import { GatewayError, errorResponse } from "./errors.ts";
import { logRequest } from "./log.ts";
import { createAdminApi } from "./admin/index.ts";
import { gatewayBuilders } from "./pipeline.ts";
import { canonicalizePath, compileRouteTable, type RouteBuilders } from "./router/index.ts";
import type { GatewayEnv } from "./types.ts";
import { applyResponseEdits, forwardToOrigin, forwardingHeaders } from "./upstream/index.ts";

const REQUEST_ID = /^[\w\-=]{1,255}$/;

/** Sets a header on the final response, copying it once if its headers are immutable (a Durable Object's answer). */
function setResponseHeader(c: Context<GatewayEnv>, name: string, value: string): void {
  try {
    c.res.headers.set(name, value);
  } catch {
    const res = c.res;
    const copy = new Response(res.body, { status: res.status, statusText: res.statusText, headers: res.headers, webSocket: res.webSocket });
    copy.headers.set(name, value);
    c.res = copy;
  }
}

export interface GatewayOptions {
  /** Replaces the capabilities' policy and handler builders (tests of the core alone). */
  builders?: RouteBuilders;
}

export function createGateway(table: RouteTable, options: GatewayOptions = {}) {
  const { matcher } = compileRouteTable(table, options.builders ?? gatewayBuilders);
  const app = new Hono<GatewayEnv>();

  app.use(async function requestContext(c, next) {
    const started = Date.now();
    // A valid incoming X-Request-Id is kept (the same rule as Hono's request-id middleware, which
    // is not used because its c.header() makes Hono rebuild every response once more).
    const incoming = c.req.header("x-request-id");
    c.set("requestId", incoming !== undefined && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID());
    await next();
    // Every response carries the request id, errors and origin responses included.
    setResponseHeader(c, "x-request-id", c.get("requestId"));
    if (c.env?.LOG_REQUESTS === "off") return;
    const route = c.get("route");
    logRequest({
      time: new Date(started).toISOString(),
      requestId: c.get("requestId"),
      routeId: route?.id ?? null,
      method: c.req.method,
      path: new URL(c.req.url).pathname,
      status: c.res.status,
      ...(c.get("errorCode") ? { code: c.get("errorCode") } : {}),
      origin: route?.origin?.name ?? null,
      originMs: c.get("originMs") ?? null,
      totalMs: Date.now() - started,
    });
  });

  app.onError((err, c) => {
    let error: GatewayError;
    if (err instanceof GatewayError) error = err;
    else if (err instanceof HTTPException && err.status < 500) error = new GatewayError(err.status, "bad_request", err.message || "Bad request.");
    else {
      // Unknown failure: logged for the operator, answered without internals.
      console.error(JSON.stringify({ requestId: c.get("requestId"), error: String(err instanceof Error ? err.stack ?? err.message : err) }));
      error = new GatewayError(500, "internal_error", "The gateway failed to handle the request.");
    }
    c.set("errorCode", error.code);
    return errorResponse(c, error);
  });

  if (table.admin) app.route(table.admin.pathPrefix, createAdminApi(table, table.admin));

  app.all("*", async function gateway(c) {
    const url = new URL(c.req.url);
    const canonical = canonicalizePath(url.pathname);
    if (!canonical.ok) throw new GatewayError(400, "bad_path", `Request path rejected: ${canonical.reason}.`);

    const match = matcher.match(url.hostname, c.req.method, canonical.path);
    if (match.kind === "not-found") throw new GatewayError(404, "not_found", "No route matches this request.");
    if (match.kind === "method-not-allowed") {
      const allow = match.allow.join(", ");
      throw new GatewayError(405, "method_not_allowed", `Method ${c.req.method} is not allowed here; allowed: ${allow}.`, { allow });
    }
    const route = match.value;
    c.set("route", route);

    for (const policy of route.policies) {
      const answer = await policy(c);
      if (answer) return answer;
    }

    if (route.handler) return route.handler(c, { canonicalPath: canonical.path, params: match.params, rest: match.rest });
    const origin = route.origin!;

    const headers = forwardingHeaders(c, url, route.requestEdits);

    const target = route.buildPath(canonical.path, match.params, match.rest) + route.forwardQuery(url.search);
    const sent = Date.now();
    const response = await forwardToOrigin(c.req.raw, origin, target, headers);
    c.set("originMs", Date.now() - sent);
    applyResponseEdits(response.headers, route.responseEdits, c.get("requestId"));
    const extra = c.get("responseHeaders");
    if (extra) for (const [name, value] of extra) response.headers.set(name, value);
    return response;
  });

  return app;
}
