/**
 * Rate limits and quotas (`rateLimit` and `cost` on a route, `plans` table-wide): a thin policy
 * over the quota service (src/quota/). Also enforces an API key's own plan on `auth.apiKey` routes.
 */
import { z } from "zod";
import { isObject, ORIGIN_NAME, str } from "../../config/core.ts";
import { PlanSchema } from "../../quota/index.ts";
import { definePolicy } from "../../policy.ts";
import { rateLimit, rateLimitErrors } from "./policy.ts";

export { rateLimit, rateLimitErrors } from "./policy.ts";

export const RateLimitSchema = z.strictObject({
  plan: z.string().describe("Name of a plan in `plans`."),
  by: z.string().regex(/^(ip|apiKey|jwt:[A-Za-z0-9_.:-]+)$/, `must be "ip", "apiKey" or "jwt:<claim>"`)
    .describe("Who is counted: client IP (IPv6 by /64), the API key, or a JWT claim."),
});

const int = (v: unknown): number | undefined => (typeof v === "number" && Number.isInteger(v) ? v : undefined);

/** The most units a raw plan admits in one request (the quota's limit, or the bucket: burst, else limit). */
function admitsAtOnce(plan: unknown): { units: number; because: string } | undefined {
  if (!isObject(plan)) return undefined;
  const rate = isObject(plan.rate) ? plan.rate : undefined;
  const quota = isObject(plan.quota) ? plan.quota : undefined;
  const bucket = int(rate?.burst) ?? int(rate?.limit);
  const limits = [
    ...(bucket !== undefined ? [{ units: bucket, because: int(rate?.burst) !== undefined ? `rate.burst ${bucket}` : `rate.limit ${bucket}, its burst` }] : []),
    ...(int(quota?.limit) !== undefined ? [{ units: int(quota?.limit)!, because: `quota.limit ${int(quota?.limit)}` }] : []),
  ];
  return limits.sort((a, b) => a.units - b.units)[0];
}
/** `auth.apiKey` is `true` or `{ scopes }` (the api-key policy's field; read here, not imported: policies stay apart). */
const takesApiKey = (auth: Record<string, unknown> | undefined): boolean => auth?.apiKey === true || (typeof auth?.apiKey === "object" && auth.apiKey !== null);

export const rateLimitPolicy = definePolicy({
  name: "rate-limit",
  timing: "limit",
  summary: "Counts requests against a plan's token bucket and calendar quota in QuotaCounter Durable Objects.",
  routeFields: {
    cost: z.number().int().min(1).max(1_000_000).default(1).describe("Units one request consumes from rate limits and quotas."),
    rateLimit: RateLimitSchema.optional().describe("Count callers against a plan (API-key routes use the key's plan)."),
  },
  tableFields: {
    plans: z.record(z.string().regex(ORIGIN_NAME, "plan names are letters, digits, _ and - (up to 64)"), PlanSchema).default({}).describe("Named usage plans."),
  },
  errors: rateLimitErrors,
  checkRoute({ table, route, issue }) {
    const rateLimit = isObject(route.rateLimit) ? route.rateLimit : undefined;
    const auth = isObject(route.auth) ? route.auth : undefined;
    const plans = isObject(table.plans) ? table.plans : {};
    const cost = typeof route.cost === "number" ? route.cost : 1;
    const plan = str(rateLimit?.plan);
    if (plan !== undefined && !Object.hasOwn(plans, plan)) issue(`unknown plan "${plan}"`, "rateLimit", "plan");
    else if (plan !== undefined) {
      const most = admitsAtOnce(plans[plan]);
      if (most !== undefined && cost > most.units)
        issue(`is ${cost}, but plan "${plan}" admits at most ${most.units} at once (${most.because}): every request would be refused`, "cost");
    }
    const by = str(rateLimit?.by);
    if (by?.startsWith("jwt:") && str(auth?.authorizer) === undefined) issue(`"${by}" needs a JWT authorizer on the route`, "rateLimit", "by");
    if (by === "apiKey" && !takesApiKey(auth)) issue(`"apiKey" needs auth.apiKey on the route`, "rateLimit", "by");
    if (takesApiKey(auth)) {
      // Each key is counted against its plan: with no plan, no key can be issued and none admitted.
      const names = Object.keys(plans);
      if (names.length === 0) issue(`API keys are counted against their plan and "plans" is empty: add a plan to issue keys on`, "auth", "apiKey");
      else {
        const fits = names.filter((name) => (admitsAtOnce(plans[name])?.units ?? Infinity) >= cost);
        if (fits.length === 0) issue(`is ${cost}, more than any plan admits at once: no key could ever use this route`, "cost");
      }
    }
  },
  create(route, table) {
    const keyPlan = route.auth !== "none" && takesApiKey(route.auth);
    if (!route.rateLimit && !keyPlan) return undefined;
    return rateLimit({ routeId: route.id, cost: route.cost, plans: table.plans, rateLimit: route.rateLimit, keyPlan });
  },
});
