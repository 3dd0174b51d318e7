/**
 * The route table compiled once per isolate: each route with its origin, path builder, header edits
 * and policy pipeline, indexed by the matcher.
 */
import type { Route, RouteTable } from "../config/index.ts";
import type { Policy, RouteHandler } from "../types.ts";
import { EVENT_HEADER } from "../rooms/backend.ts";
import { CONNECT_HEADER } from "../rooms/protocol.ts";
import { clientDropSet, compileOrigin, compilePathBuilder, compileQueryFilter, type CompiledOrigin, type HeaderEdits, type PathBuilder, type QueryFilter } from "../upstream/index.ts";
import { RouteMatcher } from "./matcher.ts";

export interface CompiledRoute {
  id: string;
  route: Route;
  /** Undefined for a room route, which a handler serves. */
  origin: CompiledOrigin | undefined;
  buildPath: PathBuilder;
  /** The client's query string minus credential parameters. */
  forwardQuery: QueryFilter;
  requestEdits: HeaderEdits;
  responseEdits: HeaderEdits;
  policies: Policy[];
  /** Serves the request instead of forwarding it (rooms, WebSocket pass-through). */
  handler: RouteHandler | undefined;
}

export interface CompiledTable {
  matcher: RouteMatcher<CompiledRoute>;
  routes: CompiledRoute[];
}

/** What each capability contributes to a route; assembled in src/pipeline.ts. */
export interface RouteBuilders {
  policies(route: Route, table: RouteTable): Policy[];
  handler(route: Route, table: RouteTable, origin: CompiledOrigin | undefined): RouteHandler | undefined;
}

const NO_BUILDERS: RouteBuilders = { policies: () => [], handler: () => undefined };

const edits = (e: Route["requestHeaders"], alsoRemove: string[] = []): HeaderEdits => ({
  set: Object.entries(e?.set ?? {}),
  remove: [...new Set([...(e?.remove ?? []), ...alsoRemove])],
});

/**
 * Headers the gateway writes for origins, on any route: every identity header in the table, the
 * rooms' internal headers, and the API key header when a route takes API keys (a new policy that
 * writes or consumes a header for the origin adds its name here).
 * They are gateway-owned on every route, so a client's copy is removed everywhere: otherwise a
 * public route to the same origin would carry a forged `x-user-id` that a JWT route sets.
 */
function gatewayOwnedNames(table: RouteTable): Set<string> {
  const names = new Set<string>([CONNECT_HEADER, EVENT_HEADER]);
  for (const route of table.routes) {
    for (const name of Object.keys(route.identityHeaders ?? {})) names.add(name.toLowerCase());
    // The API key is the gateway's credential: no origin gets one, not even behind a public route.
    if (route.auth !== "none" && route.auth.apiKey) names.add(table.apiKeys.header.toLowerCase());
  }
  return names;
}

/** A route's request edits, with the precomputed set of client headers it never forwards. */
function requestEdits(route: Route, table: RouteTable, owned: ReadonlySet<string>): HeaderEdits {
  const e = edits(route.requestHeaders, credentialHeaders(route, table));
  return { ...e, drop: clientDropSet([...owned, ...e.remove]), forwardUnderscores: route.forwardUnderscoreHeaders === true };
}

/**
 * Client headers that never reach the origin on this route: the API key (the origin gets the
 * verified key id instead, if anything), the bearer token unless the route forwards it, and any
 * client copy of the identity headers the gateway sets from a verified token.
 */
/** Query parameters that carry a token on this route (opt-in JWT `query` token sources). */
function credentialQueryParams(route: Route, table: RouteTable): string[] {
  if (route.auth === "none" || !route.auth.authorizer) return [];
  const sources = table.authorizers[route.auth.authorizer]?.tokenSources ?? [];
  return sources.flatMap((source) => ("query" in source ? [source.query] : []));
}

function credentialHeaders(route: Route, table: RouteTable): string[] {
  if (route.auth === "none") return [];
  const names: string[] = [];
  if (route.auth.apiKey) names.push(table.apiKeys.header.toLowerCase());
  if (route.auth.authorizer && !route.auth.forwardAuthorization) names.push("authorization");
  names.push(...Object.keys(route.identityHeaders ?? {}));
  return names;
}

export function compileRouteTable(table: RouteTable, builders: RouteBuilders = NO_BUILDERS): CompiledTable {
  const origins = new Map(Object.entries(table.origins).map(([name, o]) => [name, compileOrigin(name, o)]));
  const owned = gatewayOwnedNames(table);
  const routes = table.routes.map((route): CompiledRoute => {
    const origin = route.origin === undefined ? undefined : origins.get(route.origin)!;
    return {
      id: route.id,
      route,
      origin,
      buildPath: origin ? compilePathBuilder(route, origin) : (canonical) => canonical,
      forwardQuery: compileQueryFilter(credentialQueryParams(route, table)),
      requestEdits: requestEdits(route, table, owned),
      responseEdits: edits(route.responseHeaders),
      policies: builders.policies(route, table),
      handler: builders.handler(route, table, origin),
    };
  });
  const matcher = new RouteMatcher(routes.map((r) => ({ host: r.route.host, methods: r.route.methods, path: r.route.path, value: r })));
  return { matcher, routes };
}
