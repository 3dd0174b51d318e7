/**
 * The Prometheus text exposition format (version 0.0.4) of every route's all-time sums: counters
 * that only grow (the shard's `totals`, never pruned) and two latency histograms whose buckets are
 * exact sums of the log-linear buckets (histogram.ts), so `histogram_quantile` over them is as good
 * as the buckets allow. Per-key numbers are left out on purpose: a label per API key would give
 * Prometheus one series per key.
 */
import { Accumulator, C } from "./aggregate.ts";
import type { RouteTotals } from "./durable_object.ts";
import { countAtMost } from "./histogram.ts";

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Bucket bounds in ms: each is a bound of the log-linear histogram, so each count is exact. */
export const LE_MS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 120_000, 300_000];

const escapeLabel = (value: string): string => value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
const num = (value: number): string => (Number.isFinite(value) ? String(value) : value > 0 ? "+Inf" : value < 0 ? "-Inf" : "NaN");

export function prometheusText(totals: readonly RouteTotals[]): string {
  const routes = totals.map(({ route, a }) => ({ label: `route="${escapeLabel(route)}"`, acc: new Accumulator().add(a) }));
  const out: string[] = [];
  const family = (name: string, type: "counter" | "histogram", help: string, samples: () => void) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    samples();
  };

  family("gateway_requests_total", "counter", "Requests answered, by route and status class.", () => {
    for (const { label, acc } of routes) {
      ["1xx", "2xx", "3xx", "4xx", "5xx"].forEach((cls, i) => out.push(`gateway_requests_total{${label},class="${cls}"} ${num(acc.n[C.status1xx + i]!)}`));
    }
  });
  family("gateway_errors_total", "counter", "Responses the gateway answered with one of its error codes, by route and code.", () => {
    for (const { label, acc } of routes) {
      for (const [code, count] of [...acc.codes].sort(([a], [b]) => a.localeCompare(b))) out.push(`gateway_errors_total{${label},code="${escapeLabel(code)}"} ${num(count)}`);
    }
  });
  family("gateway_limiter_refusals_total", "counter", "Requests a rate limit or quota refused (429), by route.", () => {
    for (const { label, acc } of routes) out.push(`gateway_limiter_refusals_total{${label}} ${num(acc.n[C.refused]!)}`);
  });
  family("gateway_cache_responses_total", "counter", "Edge cache outcomes (hit, stale, miss), by route; routes without a cache have none.", () => {
    for (const { label, acc } of routes) {
      const counts = [["hit", acc.n[C.cacheHits]!], ["stale", acc.n[C.cacheStale]!], ["miss", acc.n[C.cacheMisses]!]] as const;
      if (counts.every(([, count]) => count === 0)) continue;
      for (const [result, count] of counts) out.push(`gateway_cache_responses_total{${label},result="${result}"} ${num(count)}`);
    }
  });
  family("gateway_request_bytes_total", "counter", "Request body bytes, from Content-Length (bodies streamed without one are not counted), by route.", () => {
    for (const { label, acc } of routes) out.push(`gateway_request_bytes_total{${label}} ${num(acc.n[C.bytesIn]!)}`);
  });
  family("gateway_response_bytes_total", "counter", "Response body bytes, from Content-Length (bodies streamed without one are not counted), by route.", () => {
    for (const { label, acc } of routes) out.push(`gateway_response_bytes_total{${label}} ${num(acc.n[C.bytesOut]!)}`);
  });
  const histogram = (name: string, help: string, pick: (acc: Accumulator) => { dense: Float64Array; count: number; sumMs: number }) => {
    family(name, "histogram", help, () => {
      for (const { label, acc } of routes) {
        const { dense, count, sumMs } = pick(acc);
        for (const le of LE_MS) out.push(`${name}_bucket{${label},le="${le / 1000}"} ${num(countAtMost(dense, le))}`);
        out.push(`${name}_bucket{${label},le="+Inf"} ${num(count)}`, `${name}_sum{${label}} ${num(sumMs / 1000)}`, `${name}_count{${label}} ${num(count)}`);
      }
    });
  };
  histogram("gateway_request_duration_seconds", "Time from the request's arrival to the gateway's response headers, by route.",
    (acc) => ({ dense: acc.total, count: acc.n[C.requests]!, sumMs: acc.n[C.totalMsSum]! }));
  histogram("gateway_origin_duration_seconds", "Time from sending to the origin to its response headers, by route (requests that reached the origin).",
    (acc) => ({ dense: acc.origin, count: acc.n[C.originCount]!, sumMs: acc.n[C.originMsSum]! }));
  return out.join("\n") + "\n";
}
