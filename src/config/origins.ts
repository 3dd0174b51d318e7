/**
 * The origins of the route-table schema (`origins.<name>`): one URL, weighted targets or a service
 * binding, with timeouts, sticky choice, retries, circuit breaker and health checks. The upstream
 * layer (src/upstream/) turns a validated origin into what forwarding uses; docs/upstreams.md.
 */
import { z } from "zod";
import { isObject, type Loose } from "./common.ts";

const OriginUrl = z.string().superRefine((value, ctx) => {
  let url: URL;
  try { url = new URL(value); } catch { ctx.addIssue({ code: "custom", message: "must be an absolute http(s) URL" }); return; }
  if (url.protocol !== "http:" && url.protocol !== "https:") ctx.addIssue({ code: "custom", message: "must use http or https" });
  if (url.search || url.hash) ctx.addIssue({ code: "custom", message: "must not have a query or fragment" });
  if (url.username || url.password) ctx.addIssue({ code: "custom", message: "must not carry credentials (use requestHeaders with a Worker secret instead)" });
});

/** A binding name as wrangler.toml's `[[services]] binding` spells it (a JavaScript identifier). */
const ServiceBinding = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, "must be the name of a service binding in wrangler.toml ([[services]] binding)");

export const STICKY_KEYS = ["apiKey", "jwt:sub", "ip"] as const;
export type StickyKey = (typeof STICKY_KEYS)[number];

/** Retry conditions: a connection refused or reset, a timeout, or an origin status (5xx). */
export const RETRY_CONDITIONS = ["connect", "timeout"] as const;

const RETRY_CONDITION_MESSAGE = `must be "connect", "timeout" or a 5xx status`;
const RetryCondition = z.union([z.enum(RETRY_CONDITIONS), z.number().int()], { error: RETRY_CONDITION_MESSAGE })
  .refine((v) => typeof v === "string" || (v >= 500 && v <= 599), RETRY_CONDITION_MESSAGE);

export const TargetSchema = z.strictObject({
  url: OriginUrl.optional().describe("Base URL of this target (like an origin's `url`). Give `url` or `service`."),
  service: ServiceBinding.optional().describe("A service binding to another Worker (wrangler.toml `[[services]]`), instead of a URL."),
  weight: z.number().int().min(0).max(1000).default(1)
    .describe("Share of traffic, relative to the other targets' weights. 0: no traffic (drained). Default 1."),
});

export const RetriesSchema = z.strictObject({
  attempts: z.number().int().min(1).max(5).default(1)
    .describe("Retries after the first try (so at most attempts + 1 tries). Default 1."),
  on: z.array(RetryCondition).min(1).default(["connect", 502, 503, 504])
    .describe(`What is retried: "connect" (refused or reset before an answer), "timeout" (no answer within timeoutMs) and 5xx statuses. Default ["connect", 502, 503, 504].`),
  budgetPercent: z.number().min(0).max(100).default(10)
    .describe("Retries per isolate may not exceed this percentage of the origin's requests in the last 10 s (plus 10). Default 10."),
}).describe("Retry safe requests on another target (docs/upstreams.md: GET, HEAD, OPTIONS, PUT, DELETE or an Idempotency-Key, and no body).");

export const CircuitBreakerSchema = z.strictObject({
  consecutiveFailures: z.number().int().min(1).max(1000).default(5)
    .describe("Failures in a row (refused, reset, timeout, 502, 503, 504) that open a target's circuit. Default 5."),
  openSec: z.number().int().min(1).max(3600).default(30)
    .describe("Seconds a target is skipped once open; then one probe request decides. Default 30."),
}).describe("Skip a failing target for a while, per isolate; every target open answers 503 origin_unavailable at once.");

export const HealthCheckSchema = z.strictObject({
  path: z.string().regex(/^\/[\x21-\x7e]*$/, "must be a path starting with / (visible ASCII, no spaces)")
    .describe("Path probed with GET on each target (after the target URL's own path). 2xx and 3xx are healthy."),
  intervalSec: z.number().int().min(10).max(3600).default(30)
    .refine((s) => 60 % s === 0 || s % 60 === 0, "must divide a minute (10, 12, 15, 20, 30) or be whole minutes (60, 120, ...): probes run from a once-a-minute Cron Trigger")
    .describe("Seconds between probes. Default 30."),
  timeoutMs: z.number().int().min(100).max(30_000).default(2000)
    .describe("A probe without response headers in this time fails. Default 2000."),
  unhealthyAfter: z.number().int().min(1).max(10).default(2)
    .describe("Failed probes in a row that take a target out of traffic. Default 2."),
  healthyAfter: z.number().int().min(1).max(10).default(2)
    .describe("Passed probes in a row that bring it back. Default 2."),
}).describe("Active health checks from the Worker's Cron Trigger; an unhealthy target gets no traffic until it recovers.");

export const OriginSchema = z.strictObject({
  url: OriginUrl.optional().describe("Base URL of the origin. Its path is a prefix joined before the forwarded path. Give one of url, targets or service."),
  targets: z.array(TargetSchema).min(1).max(16).optional()
    .describe("Several URLs (or services), chosen by weight: canary, blue/green, failover. See docs/upstreams.md."),
  service: ServiceBinding.optional()
    .describe("Forward to another Worker through this service binding (wrangler.toml `[[services]]`): no public hop."),
  timeoutMs: z.number().int().min(1).max(300_000).default(30_000)
    .describe("How long to wait for the origin's response headers before answering 504. Default 30000."),
  hostHeader: z.string().regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, "must be a host name").optional()
    .describe("Host header to send instead of the URL's host (honoured by Cloudflare for hosts in your zone)."),
  stickyBy: z.enum(STICKY_KEYS).nullable().optional()
    .describe(`Keep a caller on one target (consistent hash): "apiKey" (the verified key's id), "jwt:sub" (the verified token's subject) or "ip". Default: none.`),
  retries: RetriesSchema.optional(),
  circuitBreaker: CircuitBreakerSchema.optional(),
  healthCheck: HealthCheckSchema.optional(),
}).check(z.superRefine((origin, ctx) => checkOrigin(origin as Loose, ctx), { when: () => true }));

/** Rules between an origin's fields; runs even when a field failed, so it reads them defensively. */
function checkOrigin(origin: Loose, ctx: z.RefinementCtx): void {
  if (!isObject(origin)) return;
  const issue = (message: string, ...path: (string | number)[]) => ctx.addIssue({ code: "custom", path, message });
  const kinds = (["url", "targets", "service"] as const).filter((k) => origin[k] !== undefined);
  if (kinds.length === 0) issue("required: url, targets or service");
  if (kinds.length > 1) issue(`give one of url, targets or service, not ${kinds.join(" and ")}`, kinds[1]!);
  if (Array.isArray(origin.targets)) {
    const seen = new Map<string, number>();
    let weight = 0;
    origin.targets.forEach((target, i) => {
      if (!isObject(target)) return;
      const hasUrl = target.url !== undefined, hasService = target.service !== undefined;
      if (hasUrl === hasService) issue(hasUrl ? "give url or service, not both" : "required: url or service", "targets", i);
      weight += typeof target.weight === "number" ? target.weight : target.weight === undefined ? 1 : 0;
      const id = hasUrl ? `url ${String(target.url)}` : `service ${String(target.service)}`;
      const first = seen.get(id);
      if (first !== undefined) issue(`duplicates targets[${first}]`, "targets", i);
      else seen.set(id, i);
    });
    if (origin.targets.length > 0 && weight <= 0) issue("at least one target needs a weight above 0", "targets");
  }
  const targetCount = Array.isArray(origin.targets) ? origin.targets.length : 1;
  if (origin.stickyBy !== undefined && origin.stickyBy !== null && targetCount < 2) issue("needs two or more targets to choose between", "stickyBy");
}

export type Origin = z.output<typeof OriginSchema>;
export type OriginTarget = z.output<typeof TargetSchema>;
