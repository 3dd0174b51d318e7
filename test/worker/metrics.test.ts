/**
 * Metrics through the real gateway app and the real MetricsShard objects: what is sent is what is
 * read back through the admin API (usage exactness), across a shard's eviction, per key, with
 * refusals, cache outcomes, bytes and latency; the shard's own rules (a batch applies once, keys
 * beyond the kept ones fold into "(other)", retention); Analytics Engine data points (a stand-in
 * dataset: the real one exists only on Cloudflare); the Prometheus exposition, read by a strict reader.
 */
import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { C, COUNTER_COUNT, type Aggregate } from "../../src/metrics/aggregate.ts";
import {
  HOUR_MS, KEYS_KEPT, MetricsRecorder, MINUTE_MS, OTHER_KEYS, querySeries, shardName, shardOf, UNROUTED,
  type MetricsShard, type SeriesResult,
} from "../../src/metrics/index.ts";
import { parsePrometheusText, sampleValue } from "../support/prometheus-format.ts";
import { ADMIN_HEADERS, createKey, errorOf, gatewayFor, route, type CallInit } from "../support/worker-gateway.ts";

const unique = (prefix: string) => `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
const ADMIN = { token: { env: "ADMIN_TOKEN" } };
const PLANS = { roomy: { quota: { limit: 1_000, per: "month" } }, two: { quota: { limit: 2, per: "month" } } };

type Call = ReturnType<typeof gatewayFor>;
interface MetricsAnswer { from: string; to: string; stepSeconds: number; resolution: string; routes: SeriesResult[] }

async function metricsOf(call: Call, query: string): Promise<MetricsAnswer> {
  const response = await call(`/_gateway/metrics?${query}`, { headers: ADMIN_HEADERS });
  if (response.status !== 200) throw new Error(`metrics answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as MetricsAnswer;
}

const routeTotals = async (call: Call, id: string) => (await metricsOf(call, `route=${encodeURIComponent(id)}`)).routes[0]?.totals;

async function send(call: Call, n: number, path: string, init: CallInit = {}): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) {
    const response = await call(path, init);
    await response.arrayBuffer();
    statuses.push(response.status);
  }
  return statuses;
}

const shardStub = (route: string) => env.METRICS.get(env.METRICS.idFromName(shardName(shardOf(route))));
const testShard = () => env.METRICS.get(env.METRICS.idFromName(`test:${crypto.randomUUID()}`));

function aggregate(requests: number, extra: Partial<Record<keyof typeof C, number>> = {}): Aggregate {
  const n = new Array<number>(COUNTER_COUNT).fill(0);
  n[C.requests] = requests;
  n[C.status2xx] = requests;
  for (const [name, value] of Object.entries(extra)) n[C[name as keyof typeof C]] = value;
  return { n, codes: {}, total: [3, requests], origin: [] };
}

describe("usage exactness through the admin API", () => {
  it("reads back exactly the requests sent, by status class, with bytes and origin latency", async () => {
    const id = unique("exact");
    const call = gatewayFor({ admin: ADMIN, routes: [route(id, `/${id}/*`)] }, { recorder: new MetricsRecorder() });
    await send(call, 30, `/${id}/a`);
    await send(call, 5, `/${id}/b`, { headers: { "x-origin-status": "503" } });
    // A client sends Content-Length; a Request made in the test has none unless given.
    await send(call, 5, `/${id}/c`, { method: "POST", body: "x".repeat(100), headers: { "content-length": "100" } });
    // Bytes out are known from the origin's Content-Length; the echo's own JSON is chunked and counts nothing.
    await send(call, 4, `/${id}/d`, { headers: { "x-origin-bytes": "1000", "x-origin-headers": JSON.stringify({ "content-length": "1000" }) } });

    const totals = await routeTotals(call, id);
    expect(totals).toMatchObject({ requests: 44, status: { "1xx": 0, "2xx": 39, "3xx": 0, "4xx": 0, "5xx": 5 }, errors: {}, refused: 0 });
    expect(totals!.bytes).toEqual({ in: 500, out: 4000 });
    expect(totals!.latencyMs.origin.count).toBe(44);
    expect(totals!.latencyMs.total.count).toBe(44);
  });

  it("keeps every applied count when the shard object is evicted, and goes on counting after", async () => {
    const id = unique("evict");
    const call = gatewayFor({ admin: ADMIN, routes: [route(id, `/${id}`)] }, { recorder: new MetricsRecorder() });
    await send(call, 12, `/${id}`);
    expect((await routeTotals(call, id))!.requests).toBe(12);

    await evictDurableObject(shardStub(id));
    expect((await routeTotals(call, id))!.requests).toBe(12);
    await send(call, 7, `/${id}`);
    expect((await routeTotals(call, id))!.requests).toBe(19);
  });

  it("flushes on its own within the flush interval, from a request's waitUntil", async () => {
    const id = unique("interval");
    const recorder = new MetricsRecorder({ flushMs: 200 });
    const call = gatewayFor({ routes: [route(id, `/${id}`)] }, { recorder });
    const now = Date.now();
    const read = () => querySeries(env.METRICS, { route: id, period: MINUTE_MS, from: now - (now % MINUTE_MS) - HOUR_MS, to: now + HOUR_MS, step: HOUR_MS, topKeys: 0 });

    await send(call, 3, `/${id}`);
    expect(await read()).toEqual([]); // still in the isolate
    expect(recorder.pending).toBe(3);
    await new Promise((resolve) => setTimeout(resolve, 250));
    await send(call, 1, `/${id}`); // past the interval: this request's waitUntil sends everything
    expect(recorder.pending).toBe(0);
    expect((await read())[0]!.totals.requests).toBe(4);
  });

  it("counts refusals and gateway error codes, and requests no route matched under (none)", async () => {
    const id = unique("refuse");
    const call = gatewayFor({ admin: ADMIN, plans: PLANS, routes: [route(id, `/${id}`, { rateLimit: { plan: "two", by: "ip" } })] }, { recorder: new MetricsRecorder() });
    const before = (await routeTotals(call, UNROUTED))?.errors.not_found ?? 0;
    expect(await send(call, 5, `/${id}`, { clientIp: `198.51.100.${Math.floor(Math.random() * 250)}` })).toEqual([200, 200, 429, 429, 429]);
    await send(call, 2, `/${unique("nowhere")}`);

    const totals = await routeTotals(call, id);
    expect(totals).toMatchObject({ requests: 5, refused: 3, errors: { quota_exceeded: 3 }, status: { "2xx": 2, "4xx": 3 } });
    expect(totals!.latencyMs.origin.count).toBe(2); // refused requests never reached the origin
    expect((await routeTotals(call, UNROUTED))!.errors.not_found).toBe(before + 2); // the admin reads themselves are not counted
  });

  it("counts edge cache hits and misses from Cache-Status", async () => {
    const id = unique("cached");
    const call = gatewayFor({ admin: ADMIN, routes: [route(id, `/${id}/*`, { cache: { ttlSec: 60 } })] }, { recorder: new MetricsRecorder() });
    const first = await call(`/${id}/page`);
    await first.arrayBuffer();
    expect(first.headers.get("cache-status")).toContain("fwd=miss");
    await send(call, 3, `/${id}/page`);
    expect((await routeTotals(call, id))!.cache).toEqual({ hits: 3, stale: 0, misses: 1 });
  });

  it("measures latency with a mergeable histogram: percentiles follow the origin's delay", async () => {
    const id = unique("slow");
    const call = gatewayFor({ admin: ADMIN, routes: [route(id, `/${id}`)] }, { recorder: new MetricsRecorder() });
    await send(call, 4, `/${id}`);
    await send(call, 6, `/${id}`, { headers: { "x-origin-delay": "60" } });
    const { latencyMs } = (await routeTotals(call, id))!;
    expect(latencyMs.origin.p90!).toBeGreaterThanOrEqual(60);
    expect(latencyMs.total.p50!).toBeGreaterThanOrEqual(60);
    expect(latencyMs.total.p99!).toBeLessThan(1_000);
    expect(latencyMs.total.mean!).toBeGreaterThanOrEqual(36); // 6 of 10 took 60 ms or more
  });

  it("gives points per step in the range asked for", async () => {
    const id = unique("steps");
    const call = gatewayFor({ admin: ADMIN, routes: [route(id, `/${id}`)] }, { recorder: new MetricsRecorder() });
    await send(call, 3, `/${id}`);
    const now = Date.now();
    const answer = await metricsOf(call, `route=${id}&from=${Math.floor((now - 10 * MINUTE_MS) / 1000)}&step=5m`);
    expect(answer).toMatchObject({ stepSeconds: 300, resolution: "minute" });
    expect(answer.routes[0]!.points.reduce((sum, p) => sum + p.requests, 0)).toBe(3);
    expect(new Date(answer.from).getTime() % MINUTE_MS).toBe(0);
    const hourly = await metricsOf(call, `route=${id}&step=1h&from=${new Date(now - 3 * HOUR_MS).toISOString()}`);
    expect(hourly).toMatchObject({ stepSeconds: 3600, resolution: "hour" });
    expect(hourly.routes[0]!.totals.requests).toBe(3);
  });
});

describe("per API key", () => {
  it("lists the busiest keys of a route, and one key's own series", async () => {
    const id = unique("keyed");
    const call = gatewayFor({ admin: ADMIN, plans: PLANS, routes: [route(id, `/${id}`, { auth: { apiKey: true } })] }, { recorder: new MetricsRecorder() });
    const keys = [await createKey(call, { plan: "roomy" }), await createKey(call, { plan: "roomy" }), await createKey(call, { plan: "roomy" })];
    for (const [key, n] of [[keys[0]!, 2], [keys[1]!, 5], [keys[2]!, 1]] as const) await send(call, n, `/${id}`, { headers: { "x-api-key": key.key } });
    await send(call, 2, `/${id}`); // no key: 401, counted for the route, for no key

    const series = (await metricsOf(call, `route=${id}`)).routes[0]!;
    expect(series.totals).toMatchObject({ requests: 10, status: { "2xx": 8, "4xx": 2 }, errors: { api_key_missing: 2 } });
    expect(series.topKeys!.map((k) => [k.key, k.requests])).toEqual([[keys[1]!.id, 5], [keys[0]!.id, 2], [keys[2]!.id, 1]]);
    expect((await metricsOf(call, `route=${id}&top=1`)).routes[0]!.topKeys).toHaveLength(1);

    const one = (await metricsOf(call, `route=${id}&key=${keys[1]!.id}`)).routes;
    expect(one).toHaveLength(1);
    expect(one[0]).toMatchObject({ route: id, key: keys[1]!.id, totals: { requests: 5, status: { "2xx": 5 } } });
    expect(one[0]!.topKeys).toBeUndefined();
  });

  it(`keeps the ${KEYS_KEPT} busiest keys of a period and sums the rest into "${OTHER_KEYS}", the route's own count untouched`, async () => {
    const shard = testShard();
    const at = Date.now() - (Date.now() % MINUTE_MS);
    const entries = Array.from({ length: 30 }, (_, i) => ({ at, route: "r", key: `key_${String(i).padStart(20, "0")}`, a: aggregate(i + 1) }));
    const total = entries.reduce((sum, e) => sum + e.a.n[C.requests]!, 0);
    await shard.ingest({ id: crypto.randomUUID(), entries: [{ at, route: "r", key: "", a: aggregate(total) }, ...entries] });

    const [series] = await shard.query({ route: "r", period: MINUTE_MS, from: at, to: at + MINUTE_MS, step: MINUTE_MS, topKeys: 100 });
    const keys = series!.topKeys!;
    expect(keys).toHaveLength(KEYS_KEPT + 1);
    expect(keys[0]).toMatchObject({ key: entries[29]!.key, requests: 30 });
    expect(keys.find((k) => k.key === OTHER_KEYS)!.requests).toBe(1 + 2 + 3 + 4 + 5);
    expect(keys.reduce((sum, k) => sum + k.requests, 0)).toBe(total);
    expect(series!.totals.requests).toBe(total);
  });
});

describe("the MetricsShard object", () => {
  it("applies a batch once: a resent batch (a retry whose first attempt landed) counts nothing twice", async () => {
    const shard = testShard();
    const at = Date.now() - (Date.now() % MINUTE_MS);
    const batch = { id: crypto.randomUUID(), entries: [{ at, route: "r", key: "", a: aggregate(7) }] };
    expect(await shard.ingest(batch)).toEqual({ applied: true });
    expect(await shard.ingest(batch)).toEqual({ applied: false });
    expect(await shard.ingest({ ...batch, id: crypto.randomUUID() })).toEqual({ applied: true });
    const [series] = await shard.query({ route: "r", period: MINUTE_MS, from: at, to: at + MINUTE_MS, step: MINUTE_MS, topKeys: 0 });
    expect(series!.totals.requests).toBe(14);
    expect(await shard.totals()).toEqual([{ route: "r", a: expect.objectContaining({ n: expect.arrayContaining([14]) }) }]);
  });

  it("refuses a malformed batch rather than storing it", async () => {
    const shard = testShard();
    const at = Date.now() - (Date.now() % MINUTE_MS);
    // Called on the instance: an RPC refusal would also surface as workerd's uncaught rejection in the test runner.
    await runInDurableObject(shard, (instance: MetricsShard) => {
      expect(() => instance.ingest({ id: "x", entries: [{ at: at + 1, route: "r", key: "", a: aggregate(1) }] })).toThrow(/start of a minute/);
      expect(() => instance.ingest({ id: "x", entries: [{ at, route: "r", key: "", a: { n: [-1], codes: {}, total: [], origin: [] } }] })).toThrow(/aggregate/);
      expect(() => instance.ingest({ id: "", entries: [] })).toThrow(/id/);
    });
    expect(await shard.totals()).toEqual([]);
  });

  it("keeps minutes 7 days and hours 90 days, pruned by its alarm; the Prometheus totals stay", async () => {
    const shard = testShard();
    const start = Date.UTC(2026, 0, 10, 12, 30);
    const clock = { now: start };
    await runInDurableObject(shard, (instance: MetricsShard) => { instance.clock = () => clock.now; });
    await shard.ingest({ id: crypto.randomUUID(), entries: [{ at: start, route: "r", key: "", a: aggregate(5) }, { at: start, route: "r", key: "key_1", a: aggregate(5) }] });
    const rows = () => runInDurableObject(shard, (_: MetricsShard, state) =>
      state.storage.sql.exec<{ period: number; n: number }>("SELECT period, count(*) AS n FROM series GROUP BY period ORDER BY period").toArray().map((r) => [r.period, r.n]));
    expect(await rows()).toEqual([[MINUTE_MS, 2], [HOUR_MS, 2]]);

    clock.now = start + 6 * 24 * HOUR_MS;
    expect(await runDurableObjectAlarm(shard)).toBe(true);
    expect(await rows()).toEqual([[MINUTE_MS, 2], [HOUR_MS, 2]]);
    clock.now = start + 8 * 24 * HOUR_MS;
    await runDurableObjectAlarm(shard);
    expect(await rows()).toEqual([[HOUR_MS, 2]]);
    clock.now = start + 91 * 24 * HOUR_MS;
    await runDurableObjectAlarm(shard);
    expect(await rows()).toEqual([]);
    expect((await shard.totals())[0]!.a.n[C.requests]).toBe(5);
  });
});

describe("Workers Analytics Engine", () => {
  /** A stand-in for the dataset binding, which exists only on Cloudflare. */
  const fakeDataset = () => {
    const points: AnalyticsEngineDataPoint[] = [];
    return { points, dataset: { writeDataPoint: (point?: AnalyticsEngineDataPoint) => { points.push(point!); } } };
  };

  it("writes one data point per request, in the documented schema", async () => {
    const id = unique("ae");
    const { points, dataset } = fakeDataset();
    const call = gatewayFor({ routes: [route(id, `/${id}/*`)] }, { recorder: new MetricsRecorder(), bindings: { GATEWAY_ANALYTICS: dataset } });
    await send(call, 3, `/${id}/x`);
    await send(call, 1, `/${id}/y`, { method: "POST", body: "hello", headers: { "content-length": "5" } });
    expect(points).toHaveLength(4);
    const [route_, method, path, statusClass, code, keyId, sub, colo, cache, origin, traceId, requestId] = points[3]!.blobs!;
    expect({ route_, method, path, statusClass, code, keyId, sub, cache, origin }).toEqual({
      route_: id, method: "POST", path: `/${id}/y`, statusClass: "2xx", code: "", keyId: "", sub: "", cache: "", origin: "echo",
    });
    expect(typeof colo).toBe("string");
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    const [status, totalMs, originMs, bytesIn, bytesOut, refused, gatewayError] = points[3]!.doubles!;
    expect({ status, bytesIn, refused, gatewayError }).toEqual({ status: 200, bytesIn: 5, refused: 0, gatewayError: 0 });
    expect(totalMs).toBeGreaterThanOrEqual(originMs!);
    expect(bytesOut).toBe(-1); // the echo's body is chunked: no Content-Length, so unknown
    expect(points[3]!.indexes).toEqual([id]);
  });

  it("writes nothing, and counts nothing, with RECORD_METRICS off", async () => {
    const id = unique("off");
    const { points, dataset } = fakeDataset();
    const recorder = new MetricsRecorder();
    const call = gatewayFor({ routes: [route(id, `/${id}`)] }, { recorder, bindings: { GATEWAY_ANALYTICS: dataset, RECORD_METRICS: "off" } });
    await send(call, 3, `/${id}`);
    expect(points).toHaveLength(0);
    expect(recorder.pending).toBe(0);
  });
});

describe("the metrics admin endpoints", () => {
  it("serve the Prometheus text format with per-route counters and histograms, behind the admin token", async () => {
    const id = unique("prom");
    const call = gatewayFor({ admin: ADMIN, routes: [route(id, `/${id}`)] }, { recorder: new MetricsRecorder() });
    await send(call, 9, `/${id}`);
    await send(call, 1, `/${id}`, { headers: { "x-origin-status": "404" } });

    expect((await call("/_gateway/metrics/prometheus")).status).toBe(401);
    const response = await call("/_gateway/metrics/prometheus", { headers: ADMIN_HEADERS });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const families = parsePrometheusText(await response.text());
    expect(sampleValue(families, "gateway_requests_total", { route: id, class: "2xx" })).toBe(9);
    expect(sampleValue(families, "gateway_requests_total", { route: id, class: "4xx" })).toBe(1);
    expect(sampleValue(families, "gateway_request_duration_seconds_count", { route: id })).toBe(10);
    expect(sampleValue(families, "gateway_request_duration_seconds_bucket", { route: id, le: "+Inf" })).toBe(10);
    expect(sampleValue(families, "gateway_origin_duration_seconds_count", { route: id })).toBe(10);
  });

  it("refuses a query it cannot answer well, in the envelope", async () => {
    const call = gatewayFor({ admin: ADMIN, routes: [route("q", "/q")] }, { recorder: new MetricsRecorder() });
    for (const query of ["step=30s", "step=soon", "from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "from=yesterday", `from=${Math.floor(Date.now() / 1000) - 2 * 86_400}&step=1m`, "top=101", "extra=1"]) {
      const response = await call(`/_gateway/metrics?${query}`, { headers: ADMIN_HEADERS });
      expect(response.status, query).toBe(400);
      expect((await errorOf(response)).code, query).toBe("invalid_request");
    }
    expect((await call("/_gateway/metrics?from=" + Math.floor(Date.now() / 1000 - 30 * 86_400), { headers: ADMIN_HEADERS })).status).toBe(200); // older: hours, by default
  });
});
