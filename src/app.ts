/**
 * The Hono app: request id, one log line per request, the JSON error envelope, the admin API, and
 * the gateway handler (canonicalize -> match -> the route's policy chain -> forward). Built once
 * per isolate. It names no capability: the policies come in as a list, and each route's chain is
 * compiled from it at startup (src/router/compile.ts).
 */
import { Hono } from "hono";
import { createAdminApi, type AdminTable, type ConsoleAssets } from "./admin/index.ts";
import type { CoreTable } from "./config/core.ts";
import { setResponseHeader, type GatewayEnv } from "./context.ts";
import { coreErrors, toErrorResponse } from "./errors.ts";
import { logRequest } from "./log.ts";
import type { AnyPolicy, RouteLookup } from "./policy.ts";
import { canonicalizePath, compileRouteTable } from "./router/index.ts";

const REQUEST_ID = /^[\w\-=]{1,255}$/;

export interface GatewayOptions {
  /** The policies, in pipeline order (src/policies/index.ts; tests pass their own). */
  policies?: readonly AnyPolicy[];
  /** The console's built assets (the Worker entry passes `@edge-gateway/console`); none, no console page. */
  console?: ConsoleAssets;
}

export function createGateway(table: CoreTable & AdminTable & Record<string, unknown>, options: GatewayOptions = {}) {
  const policies = options.policies ?? [];
  const { matcher, routes } = compileRouteTable(table, policies);
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
      origin: route?.plan?.origin.name ?? null,
      originMs: c.get("originMs") ?? null,
      totalMs: Date.now() - started,
    });
  });

  app.onError((err, c) => toErrorResponse(err, c));

  if (table.admin) app.route(table.admin.pathPrefix, createAdminApi(table, table.admin, routes, options.console));

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
