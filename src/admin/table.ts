/**
 * Read-only views of the route table (under the admin prefix, behind its token), for the console
 * and for operators:
 *
 *   GET /plans    { plans: [{ name, rate, quota, onLimiterError }] }   every plan with its limits
 *   GET /routes   { routes: [{ id, ..., origin, policies }] }          every route as configured,
 *                 its origin's settings, and the policies that run on it in pipeline order
 *
 * Both answers are computed once, when the admin API is built: the table cannot change while the
 * isolate lives. Nothing secret is in them: the table holds secret names ({ "env": NAME }), never values.
 */
import { Hono } from "hono";
import type { CoreRoute } from "../config/core.ts";
import type { Origin } from "../config/origins.ts";
import type { GatewayEnv } from "../context.ts";
import type { PlanConfig } from "../quota/index.ts";

/** What the routes view reads of the compiled table (src/router/compile.ts). */
export interface CompiledRouteInfo {
  id: string;
  /** The policies in the route's chain, in the order they run. */
  policies: readonly string[];
}

export interface TableViewSource {
  origins: Record<string, Origin>;
  routes: readonly (CoreRoute & Record<string, unknown>)[];
  plans?: Record<string, PlanConfig>;
}

export function planList(plans: Record<string, PlanConfig>) {
  return Object.entries(plans).map(([name, plan]) => ({
    name,
    rate: plan.rate ? { limit: plan.rate.limit, per: plan.rate.per, burst: plan.rate.burst ?? plan.rate.limit } : null,
    quota: plan.quota ? { limit: plan.quota.limit, per: plan.quota.per } : null,
    onLimiterError: plan.onLimiterError ?? "closed",
  }));
}

export function createPlansApi(plans: Record<string, PlanConfig>) {
  const body = { plans: planList(plans) };
  const api = new Hono<GatewayEnv>();
  api.get("/", (c) => c.json(body));
  return api;
}

export function createRoutesApi(table: TableViewSource, compiled: readonly CompiledRouteInfo[]) {
  const chains = new Map(compiled.map((r) => [r.id, r.policies]));
  const body = {
    routes: table.routes.map((route) => ({
      ...route,
      // The origin's own settings (its URL, timeout and whatever else it declares) next to its name.
      origin: route.origin === undefined ? null : { name: route.origin, ...table.origins[route.origin] },
      policies: chains.get(route.id) ?? [],
    })),
  };
  const api = new Hono<GatewayEnv>();
  api.get("/", (c) => c.json(body));
  return api;
}
