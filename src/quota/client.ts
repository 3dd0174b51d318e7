/**
 * Calling a QuotaCounter from the Worker: counter names, plan resolution, and the one rule for a
 * counter that cannot answer.
 *
 * A call that fails or takes longer than LIMITER_TIMEOUT_MS is retried once on a fresh stub (a stub
 * is broken after an exception) with the same call id, so if the first call did reach the object the
 * retry gets the stored decision and nothing counts twice. An "overloaded" error is not retried: the
 * platform says retrying only adds load. After that the caller applies the plan's `onLimiterError`.
 */
import type { PlanConfig } from "./schema.ts";
import type { AcquireRequest, CounterDecision, ConsumeRequest, Grant, QuotaCounter, ReleaseRequest, Usage } from "./durable_object.ts";
import type { Limits } from "./decision.ts";
import { callWithOneRetry, withTimeout } from "../durable.ts";
import { durationMs } from "./periods.ts";

/** Per attempt. Generous: a healthy counter answers in milliseconds; a stuck one must not hang the request. */
export const LIMITER_TIMEOUT_MS = 2_000;

export interface ResolvedPlan {
  name: string;
  limits: Limits;
  onLimiterError: "closed" | "open";
  /** The rate as the table writes it (`3 per 10s`), for messages: people read their own units. */
  rateText?: string;
  counting: "leases" | "exact";
}

export function resolvePlan(name: string, plan: PlanConfig): ResolvedPlan {
  const limits: Limits = {};
  if (plan.rate) limits.rate = { limit: plan.rate.limit, perMs: durationMs(plan.rate.per), burst: plan.rate.burst ?? plan.rate.limit };
  if (plan.quota) limits.quota = { limit: plan.quota.limit, period: plan.quota.per };
  const resolved: ResolvedPlan = { name, limits, onLimiterError: plan.onLimiterError ?? "closed", counting: plan.counting ?? "leases" };
  if (plan.rate) resolved.rateText = `${plan.rate.limit} per ${plan.rate.per}`;
  return resolved;
}

/** The largest cost one request can ever be admitted at under `limits`. */
export function maxCost(limits: Limits): number {
  return Math.min(limits.rate?.burst ?? Infinity, limits.quota?.limit ?? Infinity);
}

/**
 * Durable Object names. A key's counter follows the key, not its plan, so changing a key's plan
 * keeps what it has used this period. Route limits by IP or claim are per plan: two routes on one
 * plan share the count, routes on different plans do not.
 */
export const counterName = {
  key: (keyId: string) => `key:${keyId}`,
  // The value is percent-encoded so a claim value with ":" can never read as another claim's name.
  identity: (plan: string, by: string, value: string) => `plan:${plan}:${by}:${encodeURIComponent(value)}`,
};

export type CounterNamespace = DurableObjectNamespace<QuotaCounter>;

/** The counter's decision; throws the last error when two attempts (or one overloaded) failed. */
export async function consumeOnce(ns: CounterNamespace, name: string, request: ConsumeRequest, timeoutMs = LIMITER_TIMEOUT_MS): Promise<CounterDecision> {
  return callWithOneRetry(() => ns.get(ns.idFromName(name)).consume(request) as Promise<CounterDecision>, timeoutMs);
}

/** A lease grant (leases.ts); retried like `consumeOnce`, with the same call id, so a lost answer grants nothing twice. */
export async function acquireOnce(ns: CounterNamespace, name: string, request: AcquireRequest, timeoutMs = LIMITER_TIMEOUT_MS): Promise<Grant> {
  return callWithOneRetry(() => ns.get(ns.idFromName(name)).acquire(request) as Promise<Grant>, timeoutMs);
}

/** Gives a lease's unspent units back; repeating it is harmless (the counter settles a lease once). */
export async function releaseOnce(ns: CounterNamespace, name: string, request: ReleaseRequest, timeoutMs = LIMITER_TIMEOUT_MS): Promise<void> {
  await callWithOneRetry(() => ns.get(ns.idFromName(name)).release(request) as Promise<void>, timeoutMs);
}

/** The counter's usage as the counter sees it: units on leases count as used (see leases.ts `unspent`). */
export async function counterUsage(ns: CounterNamespace, name: string, limits: Limits): Promise<Usage> {
  const stub = ns.get(ns.idFromName(name));
  return (await withTimeout(stub.usage(limits) as Promise<Usage>, LIMITER_TIMEOUT_MS)) as Usage;
}

/** Resets the named counter (QuotaCounter.reset) under the call rule: a reset is idempotent, so a retry is safe. */
/** The counter forgets its count and closes its open leases (the admin usage reset; usage.ts). */
export async function resetCounter(ns: CounterNamespace, name: string): Promise<void> {
  await callWithOneRetry(() => ns.get(ns.idFromName(name)).reset() as Promise<void>, LIMITER_TIMEOUT_MS);
}
