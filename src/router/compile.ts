/**
 * The route table compiled once per isolate: each route with its forwarding plan and its chain of
 * policy middleware, indexed by the matcher. The policies come in as a list (src/policies/index.ts,
 * passed by the Worker entry); nothing here names one. A route's chain holds only the policies it
 * uses, so a policy a route does not use costs that route nothing.
 */
import type { CoreRoute, CoreTable } from "../config/core.ts";
import type { GatewayContext, GatewayMiddleware } from "../context.ts";
import { replaceResponse } from "../context.ts";
import { toErrorResponse } from "../errors.ts";
import type { AnyPolicy } from "../policy.ts";
import {
  clientDropSet, compileOrigin, compilePathBuilder, compileQueryFilter, forwarderOf, webSocketPassThrough,
  type CompiledOrigin, type ForwardPlan, type HeaderEdits, type RouteMatch,
} from "../upstream/index.ts";
import { RouteMatcher } from "./matcher.ts";

export interface CompiledRoute {
  id: string;
  route: CoreRoute;
  /** Where and how the route forwards; undefined for a route a policy answers (a room). */
  plan: ForwardPlan | undefined;
  /** Header edits for anything sent on a client's behalf (also a room's connect event). */
  requestEdits: HeaderEdits;
  /** Names of the policies in this route's chain, in order (docs, the console). */
  policies: string[];
  /** Whether responses carry Server-Timing (the route's `serverTiming`, else the table's). */
  serverTiming: boolean;
  /** Runs the route's chain and forwarding; resolves with the response (errors become envelopes). */
  run: (c: GatewayContext) => Promise<Response>;
}

export interface CompiledTable {
  matcher: RouteMatcher<CompiledRoute>;
  routes: CompiledRoute[];
  /**
   * Every origin of the table, in table order, compiled once and shared by the routes that use it:
   * their targets' circuit breakers are the live ones (the admin API's upstreams view reads them).
   */
  origins: ReadonlyMap<string, CompiledOrigin>;
}

declare module "hono" {
  interface ContextVariableMap {
    /** The matched route (set before its chain runs). */
    route: CompiledRoute | undefined;
    /** What the matcher found: the canonical path, path parameters, the wildcard rest. */
    match: RouteMatch;
  }
}

type Table = CoreTable & Record<string, unknown>;

const edits = (e: CoreRoute["requestHeaders"], alsoRemove: Iterable<string> = []): HeaderEdits => ({
  set: Object.entries(e?.set ?? {}),
  remove: [...new Set([...(e?.remove ?? []), ...alsoRemove])],
});

export function compileRouteTable(table: Table, policies: readonly AnyPolicy[] = []): CompiledTable {
  const origins = new Map(Object.entries(table.origins).map(([name, o]) => [name, compileOrigin(name, o)]));
  // Headers any policy writes for the origin anywhere in the table (identity from a token, the
  // rooms' internal headers): gateway-owned on every route, so no client copy reaches an origin on
  // any route, not even a public route to an origin that another route sends a verified identity.
  const owned = new Set<string>();
  for (const policy of policies) for (const name of policy.originHeaders?.(table) ?? []) owned.add(name.toLowerCase());

  const routes = table.routes.map((route): CompiledRoute => {
    const serverTiming = route.serverTiming ?? table.serverTiming ?? false;
    const withheldHeaders = [...owned], withheldQuery: string[] = [];
    const chain: GatewayMiddleware[] = [];
    const names: string[] = [];
    const timingNames: string[] = [];
    for (const policy of policies) {
      const withheld = policy.withheld?.(route, table);
      if (withheld?.headers) withheldHeaders.push(...withheld.headers.map((h) => h.toLowerCase()));
      if (withheld?.query) withheldQuery.push(...withheld.query);
      const middleware = policy.create(route, table);
      if (middleware) {
        chain.push(serverTiming && policy.timing !== undefined ? timed(policy.timing, middleware) : middleware);
        names.push(policy.name);
        if (policy.timing !== undefined && !timingNames.includes(policy.timing)) timingNames.push(policy.timing);
      }
    }
    const shared = route.origin === undefined ? undefined : origins.get(route.origin)!;
    // A route's own timeoutMs overrides its origin's, for this route only.
    const origin = shared && route.timeoutMs !== undefined ? { ...shared, timeoutMs: route.timeoutMs } : shared;
    const requestEdits = edits(route.requestHeaders, withheldHeaders);
    // One precomputed set per route, so forwarding does one lookup per client header.
    requestEdits.drop = clientDropSet(requestEdits.remove);
    requestEdits.forwardUnderscores = route.forwardUnderscoreHeaders === true;
    const plan: ForwardPlan | undefined = origin && {
      origin,
      buildPath: compilePathBuilder(route, origin),
      forwardQuery: compileQueryFilter(withheldQuery),
      requestEdits,
      responseEdits: edits(route.responseHeaders),
    };
    const terminal = plan === undefined
      ? noOrigin(route.id)
      : route.websocket ? (c: GatewayContext) => webSocketPassThrough(c, plan, c.get("match")) : forwarderOf(plan);
    const chained = composeChain(chain, terminal);
    // Entries in pipeline order, each 0 until its policy runs (a refusal upstream leaves the later at 0).
    const run = serverTiming ? (c: GatewayContext) => { c.set("serverTimings", new Map(timingNames.map((name) => [name, 0]))); return chained(c); } : chained;
    return { id: route.id, route, plan, requestEdits, policies: names, serverTiming, run };
  });
  const matcher = new RouteMatcher(routes.map((r) => ({ host: r.route.host, methods: r.route.methods, path: r.route.path, value: r })));
  return { matcher, routes, origins };
}

/** A route without an origin reaches here only if the policy that answers it did not. */
function noOrigin(id: string) {
  return (): Promise<Response> => Promise.reject(new TypeError(`route "${id}" has no origin and no policy answered it`));
}

/**
 * A policy's middleware that adds its own time (not the time of what runs inside its `next()`) to
 * the request's Server-Timing entry `name`. Only routes with Server-Timing get this wrapper, built
 * at startup, so a route without it pays nothing. Workers timers move only across I/O (a Spectre
 * mitigation), so a step that does no I/O, such as verifying an HS256 token, reads 0 ms.
 */
function timed(name: string, handler: GatewayMiddleware): GatewayMiddleware {
  return async function timedPolicy(c, next) {
    const started = performance.now();
    let inner = 0;
    try {
      return await handler(c, async () => {
        const entered = performance.now();
        try { await next(); } finally { inner += performance.now() - entered; }
      });
    } finally {
      const timings = c.get("serverTimings");
      if (timings) timings.set(name, (timings.get(name) ?? 0) + (performance.now() - started - inner));
    }
  };
}

/**
 * Runs `middleware` in order around `terminal`, Hono's onion model: a middleware may refuse (throw),
 * answer (return a Response without calling next) or act on the response after `await next()`.
 * `next()` never throws: a refusal or fault inside it becomes the error envelope in `c.res`, so an
 * outer policy sees and can decorate gateway errors too. Written here rather than with Hono's
 * `compose` because that one is not a public export, and because assigning `c.res` over an existing
 * response makes Hono rebuild it; this chain assigns it once (replaceResponse only on an error after
 * a response). Built once per route: per request it is one closure call per policy.
 */
export function composeChain(middleware: readonly GatewayMiddleware[], terminal: (c: GatewayContext) => Promise<Response>): (c: GatewayContext) => Promise<Response> {
  if (middleware.length === 0) return terminal;
  let run = async (c: GatewayContext): Promise<void> => {
    try {
      c.res = await terminal(c);
    } catch (err) {
      replaceResponse(c, toErrorResponse(err, c));
    }
  };
  for (let i = middleware.length - 1; i >= 0; i--) {
    const handler = middleware[i]!, inner = run;
    const next = (c: GatewayContext) => () => inner(c);
    run = async (c) => {
      try {
        const answer = await handler(c, next(c));
        if (answer instanceof Response) replaceResponse(c, answer);
      } catch (err) {
        replaceResponse(c, toErrorResponse(err, c));
      }
    };
  }
  const outer = run;
  return async (c) => {
    await outer(c);
    return c.res;
  };
}
