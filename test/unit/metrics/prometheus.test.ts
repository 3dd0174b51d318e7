/** The Prometheus exposition of the totals, read back with a strict reader of the text format. */
import { describe, expect, it } from "vitest";
import { C, COUNTER_COUNT, type Aggregate } from "../../../src/metrics/aggregate.ts";
import { BUCKETS, bucketOf, toSparse } from "../../../src/metrics/histogram.ts";
import { LE_MS, prometheusText } from "../../../src/metrics/prometheus.ts";
import { parsePrometheusText, sampleValue } from "../../support/prometheus-format.ts";

function aggregateOf(latencies: number[], codes: Record<string, number> = {}): Aggregate {
  const n = new Array<number>(COUNTER_COUNT).fill(0);
  const total = new Float64Array(BUCKETS);
  for (const ms of latencies) total[bucketOf(ms)]! += 1;
  n[C.requests] = latencies.length;
  n[C.status2xx] = latencies.length;
  n[C.totalMsSum] = latencies.reduce((a, b) => a + b, 0);
  n[C.bytesOut] = 123;
  return { n, codes, total: toSparse(total), origin: [] };
}

describe("the Prometheus text format", () => {
  const text = prometheusText([
    { route: "users.get", a: aggregateOf([3, 7, 40, 900], { not_found: 1 }) },
    { route: 'odd"route\\', a: aggregateOf([1]) },
  ]);
  const families = parsePrometheusText(text);

  it("reads back under the strict reader, every family typed and described", () => {
    for (const family of families.values()) {
      expect(family.help, family.name).toBeTruthy();
      expect(["counter", "histogram"]).toContain(family.type);
    }
    expect([...families.keys()]).toEqual(expect.arrayContaining([
      "gateway_requests_total", "gateway_errors_total", "gateway_request_duration_seconds", "gateway_origin_duration_seconds",
      "gateway_request_bytes_total", "gateway_response_bytes_total", "gateway_limiter_refusals_total",
    ]));
  });

  it("gives per-route counters and a histogram whose buckets, sum and count match the requests", () => {
    const route = { route: "users.get" };
    expect(sampleValue(families, "gateway_requests_total", { ...route, class: "2xx" })).toBe(4);
    expect(sampleValue(families, "gateway_errors_total", { ...route, code: "not_found" })).toBe(1);
    expect(sampleValue(families, "gateway_response_bytes_total", route)).toBe(123);
    expect(sampleValue(families, "gateway_request_duration_seconds_count", route)).toBe(4);
    expect(sampleValue(families, "gateway_request_duration_seconds_sum", route)).toBeCloseTo(0.95, 6);
    expect(sampleValue(families, "gateway_request_duration_seconds_bucket", { ...route, le: "0.005" })).toBe(1);
    expect(sampleValue(families, "gateway_request_duration_seconds_bucket", { ...route, le: "0.05" })).toBe(3);
    expect(sampleValue(families, "gateway_request_duration_seconds_bucket", { ...route, le: "1" })).toBe(4);
    expect(families.get("gateway_request_duration_seconds")!.samples.filter((s) => s.labels.route === "users.get")).toHaveLength(LE_MS.length + 3);
  });

  it("escapes label values", () => {
    expect(text).toContain('route="odd\\"route\\\\"');
    expect(sampleValue(families, "gateway_requests_total", { route: 'odd"route\\', class: "2xx" })).toBe(1);
  });

  it("the reader refuses what Prometheus would refuse (it can fail)", () => {
    const bad = [
      "no_newline_at_end 1",
      "metric{label=\"unterminated} 1\n",
      "1starts_with_digit 1\n",
      "m{__reserved=\"x\"} 1\n",
      "m one\n",
      "# TYPE c_total counter\nc_total -1\n",
      "# TYPE c counter\nc 1\n",
      "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
      "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",
      "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",
      "a_total 1\nb_total 1\na_total{x=\"1\"} 2\n",
      "a_total 1\na_total 2\n",
      "a_total 1\n# TYPE a_total counter\n",
    ];
    for (const text of bad) expect(() => parsePrometheusText(text), JSON.stringify(text)).toThrow();
  });
});
