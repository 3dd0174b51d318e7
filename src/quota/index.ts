export { quotaPolicies, keyPlanLimit, routeRateLimit } from "./policy.ts";
export { QuotaCounter } from "./durable_object.ts";
export { counterName, resolvePlan, usageOf, type ResolvedPlan } from "./client.ts";
