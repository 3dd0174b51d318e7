/**
 * Reading the metrics (under the admin prefix, behind its token):
 *
 *   GET /metrics?route=&key=&from=&to=&step=&top=   per-route (or per-key) series as JSON
 *   GET /metrics/prometheus                         every route's counters and histograms, for scraping
 *
 * Both first send what this isolate has counted and not yet flushed, so what the caller's own
 * traffic did through this isolate is always in the answer; other isolates' traffic is in it
 * within their flush interval (FLUSH_MS). docs/metrics.md describes the fields.
 */
import { Hono } from "hono";
import { z } from "zod";
import type { GatewayContext, GatewayEnv } from "../context.ts";
import { coreErrors, defineErrors, errorText, logEvent } from "../errors.ts";
import {
  allTotals, FLUSH_MS, HOUR_MS, MINUTE_MS, MINUTES_KEPT_MS, HOURS_KEPT_MS, PROMETHEUS_CONTENT_TYPE, prometheusText, querySeries,
} from "../metrics/index.ts";
import type { RequestRecorder } from "../observe.ts";
import { queryOf } from "./input.ts";

const metricsAdminErrors = defineErrors("admin", {
  metrics_unavailable: { status: 503, meaning: "The metrics could not be read (a MetricsShard did not answer after one retry); `Retry-After` says when to retry." },
});

/** Points per series at most: a larger range needs a larger step. */
export const MAX_POINTS = 1_440;
const DAY_MS = 24 * HOUR_MS;

const Time = z.string().max(40).optional();
const Query = z.strictObject({
  route: z.string().min(1).max(200).optional(),
  key: z.string().min(1).max(100).optional(),
  from: Time,
  to: Time,
  step: z.string().regex(/^\d{1,9}[smhd]?$/, `must be seconds or a duration like "60s", "5m", "1h", "1d"`).optional(),
  top: z.coerce.number().int().min(0).max(100).default(10),
});

/** ISO 8601, or seconds since the epoch. */
function parseTime(value: string, name: string): number {
  const ms = /^\d{1,12}$/.test(value) ? Number(value) * 1000 : Date.parse(value);
  if (!Number.isFinite(ms)) throw coreErrors.invalid_request(`${name}: must be an ISO 8601 time or seconds since the epoch.`);
  return ms;
}

const UNIT_MS = { s: 1000, m: MINUTE_MS, h: HOUR_MS, d: DAY_MS } as const;
function parseStep(value: string): number {
  const unit = /[smhd]$/.test(value) ? (value.slice(-1) as keyof typeof UNIT_MS) : "s";
  const ms = Number(unit === "s" && !value.endsWith("s") ? value : value.slice(0, -1)) * UNIT_MS[unit];
  if (ms < MINUTE_MS || ms % MINUTE_MS !== 0) throw coreErrors.invalid_request("step: must be whole minutes (60s at least).");
  return ms;
}

export function createMetricsApi(recorder: RequestRecorder | undefined) {
  const api = new Hono<GatewayEnv>();

  const flushFirst = async (c: GatewayContext) => {
    try {
      await recorder?.flush(c);
    } catch (err) {
      logEvent("warn", "metrics_flush_failed", { requestId: c.get("requestId"), error: errorText(err) });
    }
  };
  const unavailable = (c: GatewayContext, err: unknown) => {
    logEvent("error", "metrics_unavailable", { requestId: c.get("requestId"), error: errorText(err) });
    return metricsAdminErrors.metrics_unavailable("The metrics cannot be read right now; try again shortly.", { "retry-after": "1" });
  };

  api.get("/", queryOf(Query), async (c) => {
    const q = c.req.valid("query");
    const now = Date.now();
    const to = q.to !== undefined ? parseTime(q.to, "to") : now;
    let from = q.from !== undefined ? parseTime(q.from, "from") : to - HOUR_MS;
    if (from >= to) throw coreErrors.invalid_request("from: must be before to.");
    if (from < now - HOURS_KEPT_MS) from = now - HOURS_KEPT_MS;
    const needsHours = from < now - MINUTES_KEPT_MS;
    const step = q.step !== undefined
      ? parseStep(q.step)
      : [MINUTE_MS, 5 * MINUTE_MS, HOUR_MS, DAY_MS].find((s) => (!needsHours || s % HOUR_MS === 0) && Math.ceil((to - from) / s) <= MAX_POINTS) ?? DAY_MS;
    if (needsHours && step % HOUR_MS !== 0) throw coreErrors.invalid_request("step: minutes are kept 7 days; for a range that starts earlier, use whole hours (1h, 1d).");
    const period = step % HOUR_MS === 0 ? HOUR_MS : MINUTE_MS;
    const start = from - (from % period);
    const end = to % period === 0 ? to : to - (to % period) + period;
    if (Math.ceil((end - start) / step) > MAX_POINTS) throw coreErrors.invalid_request(`step: at most ${MAX_POINTS} points per series; use a larger step or a shorter range.`);

    await flushFirst(c);
    let series;
    try {
      series = await querySeries(c.env.METRICS, { route: q.route, key: q.key, period, from: start, to: end, step, topKeys: q.top });
    } catch (err) {
      throw unavailable(c, err);
    }
    const iso = (ms: number) => new Date(ms).toISOString();
    return c.json({
      from: iso(start),
      to: iso(end),
      stepSeconds: step / 1000,
      resolution: period === HOUR_MS ? "hour" : "minute",
      flushSeconds: FLUSH_MS / 1000,
      routes: series.map((s) => ({ ...s, points: s.points.map((p) => ({ ...p, at: iso(p.at) })) })),
    }, 200, { "cache-control": "no-store" });
  });

  api.get("/prometheus", async (c) => {
    await flushFirst(c);
    let text: string;
    try {
      text = prometheusText(await allTotals(c.env.METRICS));
    } catch (err) {
      throw unavailable(c, err);
    }
    return c.body(text, 200, { "content-type": PROMETHEUS_CONTENT_TYPE, "cache-control": "no-store" });
  });

  return api;
}
