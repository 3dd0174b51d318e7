/**
 * Where the Overview's numbers come from, without the DOM (tested in Node and, against a real
 * answer of the metrics API, in workerd: test/worker/console-metrics.test.ts):
 *
 * 1. The metrics API (`GET <admin>/metrics?from=&to=&step=`, src/admin/metrics.ts, docs/metrics.md),
 *    when the gateway has it: `{ from, to, stepSeconds, routes: [{ route, totals, points }] }`, one
 *    entry per route with traffic in the range, its `points` only the steps that had requests, each
 *    `{ at: ISO, ...view }` with the view's `requests`, `status` classes and `latencyMs.total`
 *    percentiles. The reader checks that shape and answers null for anything else (a console and a
 *    gateway of different versions): the page shows that as an error, never as empty charts.
 * 2. Otherwise (the API answers 404), key usage: the quota counters of the listed keys, sampled at
 *    each refresh; the difference between two samples is the requests admitted in between. That
 *    gives requests per minute (per key and in total) and nothing about errors or latency, which
 *    the page says.
 */

export interface Point {
  /** Start of the step, ms since epoch. */
  at: number;
  /** Requests per minute over the step. */
  perMinute: number;
  /** Share of responses with status 4xx or 5xx, null without requests. */
  errorRate: number | null;
  p50: number | null;
  p99: number | null;
}

/** One route over the whole range (its `totals`): exact sums and merged-histogram percentiles. */
export interface RouteSummary {
  requests: number;
  errorRate: number | null;
  p50: number | null;
  p99: number | null;
}

export interface RouteSeries {
  id: string;
  totals: RouteSummary;
  /** Every step of the range in time order; a step without requests reads 0 per minute. */
  points: Point[];
}

export interface MetricsReading {
  from: number;
  to: number;
  stepMs: number;
  routes: RouteSeries[];
}

/** Steps per series at most (the API's own MAX_POINTS): a bound on the gap filling below. */
const MAX_POINTS = 1_440;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
const time = (v: unknown): number | null => {
  if (typeof v !== "string") return null;
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? null : ms;
};
/** A percentile: a number, or null when the range had no requests. */
const percentile = (v: unknown): number | null | undefined => (v === null ? null : num(v) ?? undefined);

/** A metrics view (docs/metrics.md) as its request count, error rate and p50/p99; null when it is not one. */
function viewOf(view: unknown): RouteSummary | null {
  if (!isObject(view) || !isObject(view.status) || !isObject(view.latencyMs) || !isObject(view.latencyMs.total)) return null;
  const requests = num(view.requests);
  const failed4 = num(view.status["4xx"]), failed5 = num(view.status["5xx"]);
  const p50 = percentile(view.latencyMs.total.p50), p99 = percentile(view.latencyMs.total.p99);
  if (requests === null || failed4 === null || failed5 === null || p50 === undefined || p99 === undefined) return null;
  return { requests, errorRate: requests > 0 ? (failed4 + failed5) / requests : null, p50, p99 };
}

/** The metrics API's answer as one series per route, or null when it is not the shape this console reads. */
export function readMetrics(body: unknown): MetricsReading | null {
  if (!isObject(body) || !Array.isArray(body.routes)) return null;
  const from = time(body.from), to = time(body.to), stepSeconds = num(body.stepSeconds);
  if (from === null || to === null || stepSeconds === null || stepSeconds <= 0 || to <= from) return null;
  const stepMs = stepSeconds * 1000;
  if ((to - from) / stepMs > MAX_POINTS) return null;
  const routes: RouteSeries[] = [];
  for (const entry of body.routes) {
    if (!isObject(entry) || typeof entry.route !== "string" || !Array.isArray(entry.points)) return null;
    const totals = viewOf(entry.totals);
    if (!totals) return null;
    const byStep = new Map<number, RouteSummary>();
    for (const item of entry.points) {
      const at = isObject(item) ? time(item.at) : null;
      const view = viewOf(item);
      if (at === null || !view) return null;
      byStep.set(at, view);
    }
    const points: Point[] = [];
    for (let at = from; at < to; at += stepMs) {
      const view = byStep.get(at);
      points.push(view
        ? { at, perMinute: (view.requests * 60_000) / stepMs, errorRate: view.errorRate, p50: view.p50, p99: view.p99 }
        : { at, perMinute: 0, errorRate: null, p50: null, p99: null });
    }
    routes.push({ id: entry.route, totals, points });
  }
  return { from, to, stepMs, routes };
}

/** Quota counters of keys sampled over time; rates from the differences. */
export class UsageSampler {
  readonly #last = new Map<string, { at: number; used: number }>();
  readonly #total: { at: number; perMinute: number }[] = [];
  readonly #perKey = new Map<string, number>();
  readonly keep: number;
  constructor(keep = 60) { this.keep = keep; }

  /** Records one sample (`used` per key id at `at`); returns requests/min since the previous one. */
  add(at: number, used: ReadonlyMap<string, number>): number | null {
    let admitted = 0, counted = false, span = 0;
    for (const [id, now] of used) {
      const before = this.#last.get(id);
      this.#last.set(id, { at, used: now });
      if (!before || at <= before.at) continue;
      // A smaller count is a new period or a reset: what is counted now was all used since.
      const delta = now >= before.used ? now - before.used : now;
      admitted += delta;
      span = Math.max(span, at - before.at);
      this.#perKey.set(id, (delta * 60_000) / (at - before.at));
      counted = true;
    }
    if (!counted || span <= 0) return null;
    const perMinute = (admitted * 60_000) / span;
    this.#total.push({ at, perMinute });
    if (this.#total.length > this.keep) this.#total.shift();
    return perMinute;
  }

  series(): readonly { at: number; perMinute: number }[] { return this.#total; }
  /** Requests per minute of a key over the last interval, if sampled twice. */
  rateOf(id: string): number | null { return this.#perKey.get(id) ?? null; }
}
