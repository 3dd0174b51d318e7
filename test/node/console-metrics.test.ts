/**
 * The Overview's readers (src/admin/ui/client/metrics.ts): the metrics API's answer as one series
 * per route, and requests per minute from sampled key quotas when the gateway has no metrics API.
 * The views here are made by the metrics service's own code (Accumulator.view(), as the shards make
 * them); test/worker/console-metrics.test.ts reads whole answers of the real API.
 */
import { describe, expect, it } from "vitest";
import { readMetrics, UsageSampler } from "../../src/admin/ui/client/metrics.ts";
import { Accumulator, C, COUNTER_COUNT, type Aggregate } from "../../src/metrics/aggregate.ts";

/** The view of `requests` requests, `failed` of them 5xx, all taking `ms` (as a shard computes it). */
function view(requests: number, failed: number, ms: number) {
  const n = new Array<number>(COUNTER_COUNT).fill(0);
  n[C.requests] = requests;
  n[C.status2xx] = requests - failed;
  n[C.status5xx] = failed;
  n[C.totalMsSum] = requests * ms;
  const a: Aggregate = { n, codes: {}, total: requests > 0 ? [ms, requests] : [], origin: [] };
  return new Accumulator().add(a).view();
}

const T = Date.parse("2026-11-29T12:00:00.000Z");
const iso = (ms: number) => new Date(ms).toISOString();
/** An answer as src/admin/metrics.ts shapes it. */
const answer = (stepSeconds: number, minutes: number, routes: { route: string; points: { at: number; view: ReturnType<typeof view> }[] }[]) => ({
  from: iso(T), to: iso(T + minutes * 60_000), stepSeconds, resolution: "minute", flushSeconds: 5,
  routes: routes.map((r) => ({
    route: r.route, key: null,
    // The range's totals: here as if every request took 10 ms.
    totals: view(r.points.reduce((s, p) => s + p.view.requests, 0), r.points.reduce((s, p) => s + p.view.status["5xx"], 0), 10),
    points: r.points.map((p) => ({ at: iso(p.at), ...p.view })),
    topKeys: [],
  })),
});

describe("reading the metrics API", () => {
  it("gives every step of the range per route, a step without requests as 0 per minute and no rate or latency", () => {
    const body = answer(60, 3, [{ route: "orders", points: [{ at: T, view: view(60, 6, 10) }, { at: T + 120_000, view: view(30, 0, 40) }] }]);
    const reading = readMetrics(body)!;
    expect(reading).toMatchObject({ from: T, to: T + 180_000, stepMs: 60_000 });
    expect(reading.routes).toHaveLength(1);
    expect(reading.routes[0]!.id).toBe("orders");
    expect(reading.routes[0]!.points).toEqual([
      { at: T, perMinute: 60, errorRate: 0.1, p50: 10, p99: 10 },
      { at: T + 60_000, perMinute: 0, errorRate: null, p50: null, p99: null },
      { at: T + 120_000, perMinute: 30, errorRate: 0, p50: 40, p99: 40 },
    ]);
    expect(reading.routes[0]!.totals).toEqual({ requests: 90, errorRate: 6 / 90, p50: 10, p99: 10 });
  });

  it("scales a longer step to requests per minute", () => {
    const reading = readMetrics(answer(300, 5, [{ route: "orders", points: [{ at: T, view: view(600, 0, 5) }] }]))!;
    expect(reading.routes[0]!.points).toEqual([{ at: T, perMinute: 120, errorRate: 0, p50: 5, p99: 5 }]);
  });

  it("reads a range without traffic as no routes", () => {
    expect(readMetrics(answer(60, 30, []))).toMatchObject({ stepMs: 60_000, routes: [] });
  });

  it("answers null for any answer not in the API's shape, rather than charting nothing", () => {
    const good = answer(60, 2, [{ route: "orders", points: [{ at: T, view: view(6, 0, 1) }] }]);
    const broken: unknown[] = [
      null, [], { nothing: true },
      // The shape the console once guessed: a bare series.
      { step: 60, series: [{ at: T, ...view(6, 0, 1) }] },
      { ...good, stepSeconds: "60" },
      { ...good, from: "yesterday" },
      { ...good, routes: [{ ...good.routes[0], points: [{ at: T, requests: 6 }] }] },
      { ...good, routes: [{ ...good.routes[0], points: [{ ...good.routes[0]!.points[0], at: "soon" }] }] },
      { ...good, routes: [{ ...good.routes[0], totals: undefined }] },
      { ...good, routes: [{ route: 7, totals: good.routes[0]!.totals, points: [] }] },
    ];
    expect(readMetrics(good)).not.toBeNull();
    for (const body of broken) expect(readMetrics(body), JSON.stringify(body)).toBeNull();
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
