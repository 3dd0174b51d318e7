/**
 * Rate limits and quotas (`rateLimit` and `cost` on a route, `plans` table-wide): a thin policy
 * over the quota service (src/quota/). Also enforces an API key's own plan on `auth.apiKey` routes.
 */
import { z } from "zod";
import { NAMES_OF, ORIGIN_NAME } from "../../config/core.ts";
import { PlanSchema } from "../../quota/index.ts";
import { definePolicy } from "../../policy.ts";
import { rateLimit, rateLimitErrors } from "./policy.ts";

export { rateLimit, rateLimitErrors } from "./policy.ts";

export const RateLimitSchema = z.strictObject({
  plan: z.string().describe("Name of a plan in `plans`."),
  by: z.string().regex(/^(ip|apiKey|jwt:[A-Za-z0-9_.:-]+)$/, `must be "ip", "apiKey" or "jwt:<claim>"`)
    .describe("Who is counted: client IP (IPv6 by /64), the API key, or a JWT claim."),
});

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
/** `auth.apiKey` is `true` or `{ scopes }` (the api-key policy's field; read here, not imported: policies stay apart). */
const takesApiKey = (auth: Record<string, unknown> | undefined): boolean => auth?.apiKey === true || (typeof auth?.apiKey === "object" && auth.apiKey !== null);

export const rateLimitPolicy = definePolicy({
  name: "rate-limit",
  summary: "Counts requests against a plan's token bucket and calendar quota in QuotaCounter Durable Objects.",
  routeFields: {
    cost: z.number().int().min(1).max(1_000_000).default(1).describe("Units one request consumes from rate limits and quotas."),
    rateLimit: RateLimitSchema.optional().describe("Count callers against a plan (API-key routes use the key's plan)."),
  },
  tableFields: {
    plans: z.record(z.string().regex(ORIGIN_NAME), PlanSchema).default({}).describe("Named usage plans."),
  },
  errors: rateLimitErrors,
  checkRoute({ table, route, issue }) {
    const rateLimit = typeof route.rateLimit === "object" && route.rateLimit !== null ? (route.rateLimit as Record<string, unknown>) : undefined;
    const auth = typeof route.auth === "object" && route.auth !== null ? (route.auth as Record<string, unknown>) : undefined;
    const plan = str(rateLimit?.plan);
    if (plan !== undefined && !NAMES_OF(table.plans).has(plan)) issue(`unknown plan "${plan}"`, "rateLimit", "plan");
    const by = str(rateLimit?.by);
    if (by?.startsWith("jwt:") && str(auth?.authorizer) === undefined) issue(`"${by}" needs a JWT authorizer on the route`, "rateLimit", "by");
    if (by === "apiKey" && !takesApiKey(auth)) issue(`"apiKey" needs auth.apiKey on the route`, "rateLimit", "by");
  },
  create(route, table) {
    const keyPlan = route.auth !== "none" && takesApiKey(route.auth);
    if (!route.rateLimit && !keyPlan) return undefined;
    return rateLimit({ routeId: route.id, cost: route.cost, plans: table.plans, rateLimit: route.rateLimit, keyPlan });
  },
});
