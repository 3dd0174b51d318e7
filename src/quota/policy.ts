/**
 * Rate-limit and quota policies. Two sources of limits can apply to a route, in this order:
 *
 * 1. `rateLimit: { plan, by }` counts the caller, identified by `by`, against the named plan:
 *    `ip` (CF-Connecting-IP, IPv6 by /64), `jwt:<claim>` (a verified claim), `apiKey` (the key id).
 * 2. `auth.apiKey: true` counts the key against the key's own plan (the customer's contract).
 *
 * Both run when both are configured; the route limit runs first so that a request it refuses does
 * not spend the key's quota. Each is one Durable Object call (see client.ts for retries and failure).
 */
import type { Route, RouteTable } from "../config/index.ts";
import { GatewayError } from "../errors.ts";
import type { GatewayContext, Policy } from "../types.ts";
import { consumeOnce, counterName, maxCost, resolvePlan, type ResolvedPlan } from "./client.ts";
import type { Decision } from "./decision.ts";
import { addRateLimitHeaders, retryAfterSeconds } from "./headers.ts";
import { addressKey, claimKey } from "./identity.ts";

/** The policies `route` needs, in order; none when it neither rate-limits nor requires a key. */
export function quotaPolicies(route: Route, table: RouteTable): Policy[] {
  const policies: Policy[] = [];
  if (route.rateLimit) policies.push(routeRateLimit(route, table));
  if (typeof route.auth === "object" && route.auth.apiKey === true) policies.push(keyPlanLimit(route, table));
  return policies;
}

export function routeRateLimit(route: Route, table: RouteTable): Policy {
  const config = route.rateLimit;
  if (!config) throw new TypeError(`route "${route.id}": rateLimit is required`);
  const planConfig = table.plans[config.plan];
  if (!planConfig) throw new TypeError(`route "${route.id}": unknown plan "${config.plan}"`);
  const plan = resolvePlan(config.plan, planConfig);
  const cost = route.cost;
  if (cost > maxCost(plan.limits)) throw new TypeError(`route "${route.id}": cost ${cost} exceeds what plan "${plan.name}" can ever admit (${maxCost(plan.limits)})`);
  const by = config.by;
  const scope = `${plan.name}-${by.replace(/:/g, "-")}`;
  const claim = by.startsWith("jwt:") ? by.slice(4) : undefined;

  return async function rateLimit(c) {
    let identity: string | null;
    if (by === "ip") {
      const ip = c.req.header("cf-connecting-ip");
      identity = ip === undefined ? null : addressKey(ip);
      if (identity === null) throw new GatewayError(400, "client_ip_unknown", "The client address could not be determined.");
    } else if (by === "apiKey") {
      identity = c.get("apiKey")?.id ?? null;
      if (identity === null) throw new GatewayError(401, "api_key_missing", "An API key is required.");
    } else {
      // Claims put on the context by the JWT authorizer, which runs before this policy.
      const claims = (c as unknown as { get(key: string): unknown }).get("jwt");
      if (claims === undefined || claims === null) throw new GatewayError(401, "unauthenticated", "A valid token is required.");
      identity = claimKey(claims, claim!);
      if (identity === null) throw new GatewayError(403, "rate_limit_claim_missing", `The token has no usable "${claim}" claim to count requests by.`);
    }
    await enforce(c, counterName.identity(plan.name, by, identity), plan, cost, scope);
  };
}

export function keyPlanLimit(route: Route, table: RouteTable): Policy {
  const plans = new Map(Object.entries(table.plans).map(([name, plan]) => [name, resolvePlan(name, plan)]));
  const cost = route.cost;
  return async function keyPlanLimit(c) {
    const key = c.get("apiKey");
    if (!key) throw new GatewayError(401, "api_key_missing", "An API key is required.");
    const plan = plans.get(key.plan);
    // A key whose plan was removed from routes.json: refused rather than counted against nothing.
    if (!plan) throw new GatewayError(403, "plan_unknown", `The key's plan "${key.plan}" is not configured on this gateway.`);
    if (cost > maxCost(plan.limits)) throw new GatewayError(403, "cost_exceeds_plan", `This route costs ${cost} units; plan "${plan.name}" admits at most ${maxCost(plan.limits)} at once.`);
    await enforce(c, counterName.key(key.id), plan, cost, plan.name);
  };
}

async function enforce(c: GatewayContext, counter: string, plan: ResolvedPlan, cost: number, scope: string): Promise<void> {
  // A fresh id per request and counter: the client's X-Request-Id is never used, or a client could
  // replay an id to get a stored "allowed" decision for free.
  let decision: Decision;
  try {
    decision = await consumeOnce(c.env.QUOTA, counter, { callId: crypto.randomUUID(), cost, limits: plan.limits });
  } catch (err) {
    // One line for the operator; the counter name is left out (it holds client addresses and claims).
    console.error(JSON.stringify({
      requestId: c.get("requestId"), code: "limiter_unavailable", plan: plan.name, mode: plan.onLimiterError,
      error: err instanceof Error ? err.message : String(err),
    }));
    if (plan.onLimiterError === "open") return;
    throw new GatewayError(503, "limiter_unavailable", "The rate limiter is unavailable; try again shortly.", { "retry-after": "1" });
  }
  let headers = c.get("responseHeaders");
  if (!headers) { headers = new Headers(); c.set("responseHeaders", headers); }
  addRateLimitHeaders(headers, scope, decision);
  if (!decision.allowed) throw refusal(plan, decision, headers);
}

function refusal(plan: ResolvedPlan, decision: Decision, headers: Headers): GatewayError {
  const extra = { ...Object.fromEntries(headers), "retry-after": retryAfterSeconds(decision.retryAfterMs) };
  if (decision.refusedBy === "quota") {
    const q = decision.quota!;
    return new GatewayError(429, "quota_exceeded", `Quota of plan "${plan.name}" exhausted: ${q.limit} per ${q.period} (UTC); it resets at ${new Date(q.periodEnd).toISOString()}.`, extra);
  }
  const r = decision.rate!;
  return new GatewayError(429, "rate_limited", `Rate limit of plan "${plan.name}" exceeded: ${r.limit} per ${r.perMs} ms, burst ${r.burst}; retry after ${extra["retry-after"]} s.`, extra);
}
