/** Usage plans in routes.json (`plans`): the limits the counters enforce. */
import { z } from "zod";

export const PERIODS = ["minute", "hour", "day", "week", "month"] as const;
const DURATION = /^(\d+)(ms|s|m|h)$/;

export const Duration = z.string().regex(DURATION, "must be a duration like 1s, 500ms, 1m or 1h")
  .refine((d) => { const m = DURATION.exec(d); return m === null || (Number(m[1]) > 0 && Number.isSafeInteger(Number(m[1]) * 3_600_000)); }, "must be longer than 0 (and not absurdly long)");

export const PlanSchema = z.strictObject({
  rate: z.strictObject({
    limit: z.number().int().min(1).describe("Requests (cost units) refilled per `per`."),
    per: Duration.describe("Refill interval, e.g. 1s."),
    burst: z.number().int().min(1).optional().describe("Bucket size. Default: limit."),
  }).optional().describe("Token bucket: steady rate plus burst."),
  quota: z.strictObject({
    limit: z.number().int().min(1).describe("Requests (cost units) per calendar period."),
    per: z.enum(PERIODS).describe("Calendar period in UTC; weeks start on Monday."),
  }).optional().describe("Requests per calendar period."),
  onLimiterError: z.enum(["closed", "open"]).optional()
    .describe("When the counter cannot be reached: closed (503, default for quotas) or open (admit)."),
  counting: z.enum(["leases", "exact"]).optional()
    .describe("leases (default): isolates take leases of units from the counter and spend them in memory, never over-admitting; exact: one counter call per request."),
}).refine((p) => p.rate || p.quota, "a plan needs rate, quota or both");
export type PlanConfig = z.output<typeof PlanSchema>;
