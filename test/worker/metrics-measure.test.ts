/**
 * A micro-measure of what metrics cost per request, inside workerd (`npm run measure`; figures go to
 * bench/FINDINGS.md): the same gateway answering from a stand-in policy (no origin, so the network
 * does not drown the figure) without a recorder, with the metrics recorder (flushing to the real
 * MetricsShard objects every 5 s as in production), and with the recorder plus an Analytics Engine
 * dataset (a stand-in: the real one exists only on Cloudflare), beside a recorder that does nothing
 * (what the core's access entry costs); and `record()` alone, per call.
 * Logging is off in all (LOG_REQUESTS=off in the test bindings), so the access entry is built only
 * for the recorder: the figure includes it.
 *
 * Timers in workerd advance only across I/O, so each batch is timed between two awaited I/O events
 * (a cache lookup). Cases are interleaved batch by batch; figures are the median of the batch means.
 * Asserts only what must hold: after the run, the shards hold exactly the requests sent.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { GatewayContext } from "../../src/context.ts";
import type { RequestLog } from "../../src/log.ts";
import { HOUR_MS, MetricsRecorder, MINUTE_MS, querySeries } from "../../src/metrics/index.ts";
import { gatewayFor, policiesWith, route, testPolicy } from "../support/worker-gateway.ts";

const BATCH = 2_000;
const BATCHES = 10;
const tick = async () => { await caches.default.match("https://tick.invalid/"); };
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
type Call = (path: string, init?: RequestInit) => Promise<Response>;

async function batchMicros(call: Call, path: string): Promise<number> {
  await tick();
  const started = performance.now();
  for (let i = 0; i < BATCH; i++) await (await call(path)).arrayBuffer();
  await tick();
  return ((performance.now() - started) * 1000) / BATCH;
}

describe("metrics cost (micro-measure)", () => {
  it.runIf(env.MEASURE === "1")("reports what the recorder adds per request, and records every request", async () => {
    const id = `measure-${crypto.randomUUID().slice(0, 8)}`;
    const table = { routes: [route(id, `/${id}`)] };
    const policies = policiesWith(testPolicy(async () => new Response("ok")));
    const recorder = new MetricsRecorder();
    const withAnalytics = new MetricsRecorder();
    let points = 0;
    const cases: Record<string, Call> = {
      none: gatewayFor(table, { policies }),
      recorder: gatewayFor(table, { policies, recorder }),
      analytics: gatewayFor({ routes: [route(`${id}-ae`, `/${id}`)] }, { policies, recorder: withAnalytics, bindings: { GATEWAY_ANALYTICS: { writeDataPoint: () => { points++; } } } }),
    };
    // A recorder that does nothing: what the core's access entry (built for the recorder when the log is off) costs.
    cases.entryOnly = gatewayFor(table, { policies, recorder: { record() {}, flush: async () => {} } });
    const samples: Record<string, number[]> = { none: [], entryOnly: [], recorder: [], analytics: [] };
    for (const call of Object.values(cases)) for (let i = 0; i < 200; i++) await (await call(`/${id}`)).arrayBuffer();
    for (let b = 0; b < BATCHES; b++) for (const [name, call] of Object.entries(cases)) samples[name]!.push(await batchMicros(call, `/${id}`));
    const us = Object.fromEntries(Object.entries(samples).map(([name, xs]) => [name, +median(xs).toFixed(2)]));

    // record() alone, with entries of a few shapes (codes, keys, latencies), on a warm cell.
    const c = { env: { ...env, GATEWAY_ANALYTICS: undefined }, executionCtx: { waitUntil() {} } } as unknown as GatewayContext;
    const entries: RequestLog[] = Array.from({ length: 60 }, (_, i) => ({
      time: "", requestId: "r", traceId: "t", routeId: `alone-${i % 3}`, method: "GET", path: "/", status: [200, 404, 429][i % 3]!,
      code: [undefined, "not_found", "rate_limited"][i % 3], origin: null, originMs: i % 3 === 0 ? i : null, totalMs: i * 3,
      keyId: i % 2 ? `key_${i % 4}` : undefined, sub: undefined, colo: undefined, bytesIn: null, bytesOut: 10, cache: undefined,
    }));
    const alone = new MetricsRecorder({ flushMs: 1e9 });
    const at = Date.now();
    const CALLS = 1_000_000;
    const nanos: number[] = [];
    for (let round = 0; round < 6; round++) {
      await tick();
      const started = performance.now();
      for (let i = 0; i < CALLS; i++) alone.record(c, entries[i % 60]!, at);
      await tick();
      nanos.push(((performance.now() - started) * 1e6) / CALLS);
    }

    const sent = 200 + BATCH * BATCHES;
    const ctx = { env, executionCtx: { waitUntil() {} } } as unknown as GatewayContext;
    await recorder.flush(ctx);
    const now = Date.now();
    const [series] = await querySeries(env.METRICS, { route: id, period: MINUTE_MS, from: now - (now % HOUR_MS) - HOUR_MS, to: now + HOUR_MS, step: HOUR_MS, topKeys: 0 });
    console.log(JSON.stringify({
      requestsPerCase: BATCH * BATCHES,
      noRecorderUs: us.none, recorderUs: us.recorder, recorderAddedUs: +(us.recorder! - us.none!).toFixed(2),
      recorderAndAnalyticsUs: us.analytics, analyticsAddedUs: +(us.analytics! - us.recorder!).toFixed(2),
      entryOnlyUs: us.entryOnly, recordAloneNs: +median(nanos.slice(1)).toFixed(1),
    }));
    expect(series!.totals.requests).toBe(sent);
    expect(points).toBe(sent);
  }, 120_000);
});
