/**
 * Where the Overview's numbers come from, without the DOM (tested in Node):
 *
 * 1. The metrics API (`GET <admin>/metrics?route=&from=&to=&step=`), when the gateway has it: one
 *    series per route of per-step views (requests, status classes, latency percentiles). The reader
 *    is tolerant of where the series sits in the answer and of how a point names its time, and
 *    takes the view's fields as the metrics service defines them (docs/console.md: Overview).
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

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

function timeOf(item: Record<string, unknown>): number | null {
  for (const name of ["at", "t", "time", "start", "from", "minute"]) {
    const value = item[name];
    if (typeof value === "number" && Number.isFinite(value)) return value < 1e12 ? value * 1000 : value;
    if (typeof value === "string") {
      const parsed = Date.parse(value);
      if (!Number.isNaN(parsed)) return parsed;
    }
  }
  return null;
}

function pointsArray(body: unknown): unknown[] | null {
  if (Array.isArray(body)) return body;
  if (!isObject(body)) return null;
  for (const name of ["series", "points", "minutes", "buckets", "data", "steps"]) {
    const value = body[name];
    if (Array.isArray(value)) return value;
  }
  return null;
}

/** Step length in ms: the answer's own `step` (seconds or ms), else the asked one. */
function stepOf(body: unknown, askedMs: number): number {
  const step = isObject(body) ? num(body.step) ?? num(body.stepMs) : null;
  if (step === null || step <= 0) return askedMs;
  return step < 10_000 ? step * 1000 : step;
}

/** One metrics view as a point; null when it is not one. */
function pointOf(item: unknown, stepMs: number): Point | null {
  if (!isObject(item)) return null;
  const at = timeOf(item);
  const view = isObject(item.view) ? item.view : isObject(item.metrics) ? item.metrics : item;
  const requests = num(view.requests);
  if (at === null || requests === null) return null;
  const status = isObject(view.status) ? view.status : {};
  const failed = (num(status["4xx"]) ?? 0) + (num(status["5xx"]) ?? 0);
  const latency = isObject(view.latencyMs) ? view.latencyMs : isObject(view.latency) ? view.latency : {};
  const total = isObject(latency.total) ? latency.total : latency;
  return {
    at,
    perMinute: (requests * 60_000) / stepMs,
    errorRate: requests > 0 ? failed / requests : null,
    p50: num(total.p50),
    p99: num(total.p99),
  };
}

/** The metrics API's answer as points in time order, or null when it holds none we can read. */
export function readMetrics(body: unknown, askedStepMs: number): Point[] | null {
  const items = pointsArray(body);
  if (!items) return null;
  const stepMs = stepOf(body, askedStepMs);
  const points = items.map((item) => pointOf(item, stepMs)).filter((p): p is Point => p !== null);
  if (items.length > 0 && points.length === 0) return null;
  return points.sort((a, b) => a.at - b.at);
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
