/** routes.json pieces owned by usage plans and rate limits (issue 4). */
import { z } from "zod";

export const PERIODS = ["minute", "hour", "day", "week", "month"] as const;
const DURATION = /^(\d+)(ms|s|m|h)$/;

export const Duration = z.string().regex(DURATION, "must be a duration like 1s, 500ms, 1m or 1h");

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
}).refine((p) => p.rate || p.quota, "a plan needs rate, quota or both");
export type PlanConfig = z.output<typeof PlanSchema>;

export const RateLimitSchema = z.strictObject({
  plan: z.string().describe("Name of a plan in `plans`."),
  by: z.string().regex(/^(ip|apiKey|jwt:[A-Za-z0-9_.:-]+)$/, `must be "ip", "apiKey" or "jwt:<claim>"`)
    .describe("Who is counted: client IP (IPv6 by /64), the API key, or a JWT claim."),
});

export const ApiKeysSchema = z.strictObject({
  header: z.string().default("x-api-key").describe("Header carrying the API key. Default x-api-key."),
}).describe("How API keys are presented.");
