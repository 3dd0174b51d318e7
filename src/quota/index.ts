/**
 * The quota service: QuotaCounter Durable Objects (one per counted identity), their client, plan
 * resolution, identities and the RateLimit header fields. The rate-limit policy and the admin API
 * use it through here.
 */
// The class itself is exported by the Worker entry from ./durable_object.ts (see src/keys/index.ts).
export type { QuotaCounter, ConsumeRequest, CounterDecision, AcquireRequest, Grant, ReleaseRequest, Usage } from "./durable_object.ts";
export { consumeOnce, counterName, maxCost, resolvePlan, LIMITER_TIMEOUT_MS, type CounterNamespace, type ResolvedPlan } from "./client.ts";
export type { Decision, Limits } from "./decision.ts";
export { quotaErrors } from "./errors.ts";
export { leases, LeaseBook, type LeaseContext, type Taken } from "./leases.ts";
export { resetUsage, usageOf, type KeyUsage } from "./usage.ts";
export { RateLimitHeaders, rateLimitFields, retryAfterSeconds } from "./headers.ts";
export { addressKey, claimKey } from "./identity.ts";
export { PlanSchema, PERIODS, Duration, type PlanConfig } from "./schema.ts";
