/**
 * The unit of metrics: what a set of requests added up to (one route, or one key on a route, over
 * one period), as plain data that merges by addition. Isolates send these, the MetricsShard stores
 * them per minute, per hour and in all-time totals, and the admin API reads them back as views.
 *
 * The counters are a fixed vector; new counters are only ever appended, so a row stored before a
 * counter existed reads it as 0.
 */
import { addSparse, BUCKETS, mergeSparse, quantile, upperBound, type SparseHistogram } from "./histogram.ts";

export const COUNTERS = [
  "requests",
  "status1xx", "status2xx", "status3xx", "status4xx", "status5xx",
  /** Responses the gateway answered with an error code of its own (the envelope). */
  "gatewayErrors",
  /** Gateway-made 429s: a rate limit or quota refused the request. */
  "refused",
  "cacheHits", "cacheStale", "cacheMisses",
  /** Origin retries (origins with targets and `retries`; each retried try counts one). */
  "retries",
  "bytesIn", "bytesOut",
  "totalMsSum", "originMsSum", "originCount",
] as const;
export type CounterName = (typeof COUNTERS)[number];
export const C = Object.fromEntries(COUNTERS.map((name, i) => [name, i])) as { readonly [K in CounterName]: number };
export const COUNTER_COUNT = COUNTERS.length;

/** What a set of requests added up to, as stored and sent. */
export interface Aggregate {
  /** Counters, in COUNTERS order. */
  n: number[];
  /** Requests per gateway error code. */
  codes: Record<string, number>;
  /** Total latency histogram (sparse). */
  total: SparseHistogram;
  /** Origin latency histogram (sparse), of the requests that reached the origin. */
  origin: SparseHistogram;
}

export const emptyAggregate = (): Aggregate => ({ n: new Array<number>(COUNTER_COUNT).fill(0), codes: {}, total: [], origin: [] });

/** a + b, as a new aggregate. */
export function merge(a: Aggregate, b: Aggregate): Aggregate {
  const n = new Array<number>(Math.max(a.n.length, b.n.length, COUNTER_COUNT)).fill(0);
  for (let i = 0; i < a.n.length; i++) n[i]! += a.n[i]!;
  for (let i = 0; i < b.n.length; i++) n[i]! += b.n[i]!;
  const codes = { ...a.codes };
  for (const [code, count] of Object.entries(b.codes)) codes[code] = (codes[code] ?? 0) + count;
  return { n, codes, total: mergeSparse(a.total, b.total), origin: mergeSparse(a.origin, b.origin) };
}

/** True when `value` has the shape of an Aggregate (storage and RPC input are checked, never trusted). */
export function isAggregate(value: unknown): value is Aggregate {
  if (typeof value !== "object" || value === null) return false;
  const a = value as Record<string, unknown>;
  const numbers = (v: unknown, max: number) => Array.isArray(v) && v.length <= max && v.every((x) => typeof x === "number" && Number.isFinite(x) && x >= 0);
  if (!numbers(a.n, 64) || !numbers(a.total, BUCKETS * 2) || !numbers(a.origin, BUCKETS * 2)) return false;
  if (typeof a.codes !== "object" || a.codes === null || Array.isArray(a.codes)) return false;
  const codes = Object.entries(a.codes);
  return codes.length <= 200 && codes.every(([code, count]) => /^[a-z][a-z0-9_]{0,63}$/.test(code) && typeof count === "number" && Number.isFinite(count) && count >= 0);
}

/** Many aggregates summed, with dense histograms for reading percentiles. */
export class Accumulator {
  readonly n = new Float64Array(COUNTER_COUNT);
  readonly codes = new Map<string, number>();
  readonly total = new Float64Array(BUCKETS);
  readonly origin = new Float64Array(BUCKETS);

  add(a: Aggregate): this {
    for (let i = 0; i < COUNTER_COUNT && i < a.n.length; i++) this.n[i]! += a.n[i]!;
    for (const [code, count] of Object.entries(a.codes)) this.codes.set(code, (this.codes.get(code) ?? 0) + count);
    addSparse(this.total, a.total);
    addSparse(this.origin, a.origin);
    return this;
  }

  get requests(): number { return this.n[C.requests]!; }

  view(): MetricsView {
    const n = this.n;
    const errors: Record<string, number> = {};
    for (const [code, count] of [...this.codes].sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0]))) errors[code] = count;
    return {
      requests: n[C.requests]!,
      status: { "1xx": n[C.status1xx]!, "2xx": n[C.status2xx]!, "3xx": n[C.status3xx]!, "4xx": n[C.status4xx]!, "5xx": n[C.status5xx]! },
      errors,
      refused: n[C.refused]!,
      cache: { hits: n[C.cacheHits]!, stale: n[C.cacheStale]!, misses: n[C.cacheMisses]! },
      bytes: { in: n[C.bytesIn]!, out: n[C.bytesOut]! },
      latencyMs: {
        total: latency(this.total, n[C.requests]!, n[C.totalMsSum]!),
        origin: latency(this.origin, n[C.originCount]!, n[C.originMsSum]!),
      },
    };
  }
}

export interface LatencyView {
  count: number;
  mean: number | null;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
}

export interface MetricsView {
  requests: number;
  status: { "1xx": number; "2xx": number; "3xx": number; "4xx": number; "5xx": number };
  /** Gateway error codes, most frequent first. */
  errors: Record<string, number>;
  refused: number;
  cache: { hits: number; stale: number; misses: number };
  bytes: { in: number; out: number };
  latencyMs: { total: LatencyView; origin: LatencyView };
}

function latency(dense: Float64Array, count: number, sum: number): LatencyView {
  let top = -1;
  for (let i = dense.length - 1; i >= 0; i--) if (dense[i]! > 0) { top = i; break; }
  return {
    count,
    mean: count > 0 ? Math.round((sum / count) * 100) / 100 : null,
    p50: quantile(dense, 0.5),
    p90: quantile(dense, 0.9),
    p99: quantile(dense, 0.99),
    max: top < 0 ? null : Number.isFinite(upperBound(top)) ? upperBound(top) : null,
  };
}
