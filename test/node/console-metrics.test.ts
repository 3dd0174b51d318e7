/**
 * The Overview's readers (src/admin/ui/client/metrics.ts): the metrics API's answer as points, and
 * requests per minute from sampled key quotas when the gateway has no metrics API.
 */
import { describe, expect, it } from "vitest";
import { readMetrics, UsageSampler } from "../../src/admin/ui/client/metrics.ts";

/** One minute's view as the metrics service defines it (requests, status classes, latency percentiles). */
const view = (requests: number, failed: number, p50: number, p99: number) => ({
  requests,
  status: { "1xx": 0, "2xx": requests - failed, "3xx": 0, "4xx": failed, "5xx": 0 },
  errors: {}, refused: 0, cache: { hits: 0, stale: 0, misses: 0 }, bytes: { in: 0, out: 0 },
  latencyMs: { total: { count: requests, mean: p50, p50, p90: p99, p99, max: p99 }, origin: { count: 0, mean: null, p50: null, p90: null, p99: null, max: null } },
});

describe("reading the metrics API", () => {
  it("reads a series of per-minute views, in time order, as requests per minute, error rate and percentiles", () => {
    const t = Date.parse("2026-11-29T12:00:00Z");
    const body = { step: 60, series: [{ at: t + 60_000, ...view(30, 3, 12, 80) }, { at: t, ...view(60, 0, 10, 40) }] };
    expect(readMetrics(body, 60_000)).toEqual([
      { at: t, perMinute: 60, errorRate: 0, p50: 10, p99: 40 },
      { at: t + 60_000, perMinute: 30, errorRate: 0.1, p50: 12, p99: 80 },
    ]);
  });

  it("takes a time in epoch seconds as seconds", () => {
    expect(readMetrics({ series: [{ t: 1_795_000_000, requests: 6 }] }, 60_000)?.[0]?.at).toBe(1_795_000_000_000);
  });

  it("scales to a minute when a step is longer, and takes ISO times and nested views", () => {
    const body = { stepMs: 300_000, points: [{ start: "2026-01-01T00:00:00Z", view: view(600, 60, 5, 9) }] };
    expect(readMetrics(body, 60_000)).toEqual([{ at: Date.parse("2026-01-01T00:00:00Z"), perMinute: 120, errorRate: 0.1, p50: 5, p99: 9 }]);
  });

  it("gives no error rate without requests, and null for a percentile it does not have", () => {
    expect(readMetrics({ series: [{ at: 1_795_000_000_000, requests: 0 }] }, 60_000)).toEqual([{ at: 1_795_000_000_000, perMinute: 0, errorRate: null, p50: null, p99: null }]);
  });

  it("answers null for a shape it cannot read, and an empty list for an empty series", () => {
    expect(readMetrics({ nothing: true }, 60_000)).toBeNull();
    expect(readMetrics({ series: [{ when: "now", count: 3 }] }, 60_000)).toBeNull();
    expect(readMetrics({ series: [] }, 60_000)).toEqual([]);
  });
});

describe("requests per minute from key usage", () => {
  it("needs two samples, then rates the difference per key and in total", () => {
    const sampler = new UsageSampler();
    expect(sampler.add(0, new Map([["a", 10], ["b", 0]]))).toBeNull();
    expect(sampler.add(30_000, new Map([["a", 16], ["b", 3]]))).toBe(18);
    expect(sampler.rateOf("a")).toBe(12);
    expect(sampler.rateOf("b")).toBe(6);
    expect(sampler.series()).toEqual([{ at: 30_000, perMinute: 18 }]);
  });

  it("reads a smaller count as a new period or a reset: all of it was used since", () => {
    const sampler = new UsageSampler();
    sampler.add(0, new Map([["a", 90]]));
    expect(sampler.add(60_000, new Map([["a", 4]]))).toBe(4);
  });

  it("keeps only the last `keep` points", () => {
    const sampler = new UsageSampler(2);
    for (let i = 0; i < 5; i++) sampler.add(i * 1000, new Map([["a", i]]));
    expect(sampler.series().map((p) => p.at)).toEqual([3000, 4000]);
  });
});
