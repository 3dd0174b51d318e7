/**
 * Rate limits and quotas on a route. Two sources of limits can apply, checked in this order:
 *
 * 1. `rateLimit: { plan, by }` counts the caller, identified by `by`, against the named plan:
 *    `ip` (CF-Connecting-IP, IPv6 by /64), `jwt:<claim>` (a verified claim), `apiKey` (the key id).
 * 2. `auth.apiKey: true` counts the key against the key's own plan (the customer's contract).
 *
 * Both run when both are configured; the route limit runs first so that a request it refuses does
 * not spend the key's quota. Under a plan's default counting (leases), a request spends from this
 * isolate's lease and reaches the counter only when it holds none (src/quota/leases.ts); under
 * `counting: "exact"`, each limit is one QuotaCounter call (src/quota/client.ts has the retry rule).
 * Either way a counter that cannot answer is handled by the plan's `onLimiterError`.
 * The RateLimit header fields of every limit checked go on the response, whatever it is.
 */
import type { GatewayContext, GatewayMiddleware } from "../../context.ts";
import { setResponseHeader, waitUntilOf } from "../../context.ts";
import { defineErrors, errorText, logEvent } from "../../errors.ts";
import { keyErrors } from "../../keys/index.ts";
import {
  addressKey, claimKey, consumeOnce, counterName, leases, maxCost, quotaErrors, RateLimitHeaders, resolvePlan, retryAfterSeconds,
  type Decision, type LeaseContext, type PlanConfig, type ResolvedPlan,
} from "../../quota/index.ts";

export const rateLimitErrors = defineErrors("rate-limit", {
  rate_limited: { status: 429, meaning: "The plan's token bucket is empty; `Retry-After` says when a unit is back." },
  quota_exceeded: { status: 429, meaning: "The plan's calendar quota is used up; `Retry-After` says when the period ends." },
  client_ip_unknown: { status: 400, meaning: "The route counts by client address and the request has no usable CF-Connecting-IP." },
  unauthenticated: { status: 401, meaning: "The route counts by a JWT claim and no verified token is on the request." },
  rate_limit_claim_missing: { status: 403, meaning: "The route counts by a JWT claim the verified token does not carry." },
  cost_exceeds_plan: { status: 403, meaning: "The route's cost is more than the key's plan can ever admit at once." },
});

type By = string;
interface Check { counter: string; plan: ResolvedPlan; scope: string }

export interface RateLimitOptions {
  routeId: string;
  cost: number;
  plans: Record<string, PlanConfig>;
  /** The route's own limit, if any. */
  rateLimit?: { plan: string; by: By };
  /** Count the caller's API key against the key's own plan. */
  keyPlan: boolean;
}

export function rateLimit(options: RateLimitOptions): GatewayMiddleware {
  const { routeId, cost } = options;
  const plans = new Map(Object.entries(options.plans).map(([name, plan]) => [name, resolvePlan(name, plan)]));
  let routeLimit: ((c: GatewayContext) => Check) | undefined;
  if (options.rateLimit) {
    const { plan: planName, by } = options.rateLimit;
    const plan = plans.get(planName);
    if (!plan) throw new TypeError(`route "${routeId}": unknown plan "${planName}"`);
    if (cost > maxCost(plan.limits)) throw new TypeError(`route "${routeId}": cost ${cost} exceeds what plan "${plan.name}" can ever admit (${maxCost(plan.limits)})`);
    const scope = `${plan.name}-${by.replace(/:/g, "-")}`;
    const claim = by.startsWith("jwt:") ? by.slice(4) : undefined;
    routeLimit = (c) => ({ counter: counterName.identity(plan.name, by, identityOf(c, by, claim)), plan, scope });
  }
  const keyPlan = options.keyPlan ? (c: GatewayContext): Check => {
    const key = c.get("apiKey");
    if (!key) throw keyErrors.api_key_missing("An API key is required.");
    const plan = plans.get(key.plan);
    // A key whose plan was removed from routes.json: refused rather than counted against nothing.
    if (!plan) throw quotaErrors.plan_unknown(`The key's plan "${key.plan}" is not configured on this gateway.`);
    if (cost > maxCost(plan.limits)) throw rateLimitErrors.cost_exceeds_plan(`This route costs ${cost} units; plan "${plan.name}" admits at most ${maxCost(plan.limits)} at once.`);
    return { counter: counterName.key(key.id), plan, scope: plan.name };
  } : undefined;
  const checks = [routeLimit, keyPlan].filter((check) => check !== undefined);
  if (checks.length === 0) throw new TypeError(`route "${routeId}": rate-limit policy without a limit`);

  return async function rateLimit(c, next) {
    const headers = new RateLimitHeaders();
    for (const check of checks) await enforce(c, check(c), cost, headers);
    await next();
    for (const [name, value] of headers.entries()) setResponseHeader(c, name, value, true);
  };
}

/** Who the request counts as under `by`; refuses when that cannot be known. */
function identityOf(c: GatewayContext, by: By, claim: string | undefined): string {
  if (by === "ip") {
    const ip = c.req.header("cf-connecting-ip");
    const key = ip === undefined ? null : addressKey(ip);
    if (key === null) throw rateLimitErrors.client_ip_unknown("The client address could not be determined.");
    return key;
  }
  if (by === "apiKey") {
    const id = c.get("apiKey")?.id;
    if (id === undefined) throw keyErrors.api_key_missing("An API key is required.");
    return id;
  }
  // Claims put on the context by the JWT authorizer, which runs before this policy.
  const claims = c.get("jwt");
  if (claims === undefined || claims === null) throw rateLimitErrors.unauthenticated("A valid token is required.");
  const key = claimKey(claims, claim!);
  if (key === null) throw rateLimitErrors.rate_limit_claim_missing(`The token has no usable "${claim}" claim to count requests by.`);
  return key;
}

async function enforce(c: GatewayContext, { counter, plan, scope }: Check, cost: number, headers: RateLimitHeaders): Promise<void> {
  // A fresh id per request and counter: the client's X-Request-Id is never used, or a client could
  // replay an id to get a stored "allowed" decision for free.
  let decision: Decision;
  try {
    if (plan.counting === "exact") {
      decision = await consumeOnce(c.env.QUOTA, counter, { callId: crypto.randomUUID(), cost, limits: plan.limits });
    } else {
      const taken = await leases.take(leaseContext(c), counter, plan, cost);
      if (!taken.ok) throw taken.error;
      decision = taken.decision;
    }
  } catch (err) {
    // The counter name is left out of the log: it holds client addresses and claims.
    logEvent("error", "limiter_unavailable", { requestId: c.get("requestId"), plan: plan.name, mode: plan.onLimiterError, error: errorText(err) });
    if (plan.onLimiterError === "open") return;
    throw quotaErrors.limiter_unavailable("The rate limiter is unavailable; try again shortly.", { "retry-after": "1" });
  }
  headers.add(scope, decision);
  if (!decision.allowed) throw refusal(plan, decision, headers);
}

/** What a lease call needs of the request: its binding and waitUntil, nothing kept beyond the call. */
function leaseContext(c: GatewayContext): LeaseContext {
  const requestId = c.get("requestId");
  return {
    ns: c.env.QUOTA,
    waitUntil: waitUntilOf(c),
    onBackgroundError: (what, plan, err) => logEvent("warn", what === "renewal" ? "lease_renewal_failed" : "lease_release_failed", { requestId, plan, error: errorText(err) }),
  };
}

function refusal(plan: ResolvedPlan, decision: Decision, headers: RateLimitHeaders) {
  const extra = { ...Object.fromEntries(headers.entries()), "retry-after": retryAfterSeconds(decision.retryAfterMs) };
  if (decision.refusedBy === "quota") {
    const q = decision.quota!;
    return rateLimitErrors.quota_exceeded(`Quota of plan "${plan.name}" exhausted: ${q.limit} per ${q.period} (UTC); it resets at ${new Date(q.periodEnd).toISOString()}.`, extra);
  }
  const r = decision.rate!;
  const rate = plan.rateText ?? `${r.limit} per ${r.perMs}ms`;
  return rateLimitErrors.rate_limited(`Rate limit of plan "${plan.name}" exceeded: ${rate}, burst ${r.burst}; retry after ${extra["retry-after"]} s.`, extra);
}
