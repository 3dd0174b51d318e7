/**
 * The route table compiled once per isolate: each route with its origin, path builder, header edits
 * and policy pipeline, indexed by the matcher.
 */
import type { Route, RouteTable } from "../config/index.ts";
import type { Policy } from "../types.ts";
import { compileOrigin, compilePathBuilder, type CompiledOrigin, type HeaderEdits, type PathBuilder } from "../upstream/index.ts";
import { RouteMatcher } from "./matcher.ts";

export interface CompiledRoute {
  id: string;
  route: Route;
  origin: CompiledOrigin;
  buildPath: PathBuilder;
  requestEdits: HeaderEdits;
  responseEdits: HeaderEdits;
  policies: Policy[];
}

export interface CompiledTable {
  matcher: RouteMatcher<CompiledRoute>;
  routes: CompiledRoute[];
}

/** Builds the policies of one route; later capabilities (auth, quotas) plug in here. */
export type PolicyBuilder = (route: Route, table: RouteTable) => Policy[];

const edits = (e: Route["requestHeaders"]): HeaderEdits => ({
  set: Object.entries(e?.set ?? {}),
  remove: e?.remove ?? [],
});

export function compileRouteTable(table: RouteTable, buildPolicies: PolicyBuilder = () => []): CompiledTable {
  const origins = new Map(Object.entries(table.origins).map(([name, o]) => [name, compileOrigin(name, o)]));
  const routes = table.routes.map((route): CompiledRoute => {
    const origin = origins.get(route.origin)!;
    return {
      id: route.id,
      route,
      origin,
      buildPath: compilePathBuilder(route, origin),
      requestEdits: edits(route.requestHeaders),
      responseEdits: edits(route.responseHeaders),
      policies: buildPolicies(route, table),
    };
  });
  const matcher = new RouteMatcher(routes.map((r) => ({ host: r.route.host, methods: r.route.methods, path: r.route.path, value: r })));
  return { matcher, routes };
}
