/**
 * The metrics recorder's hot path allocates nothing once a route has its cell for the minute: a
 * million recorded requests cause no young-generation collection (at most one already due), where
 * the same loop making one small object per request causes about ten. Run in Node (the same V8 as workerd) because Node reports
 * each collection (perf_hooks "gc" entries) and workerd does not; the loop is synchronous, so only
 * its own allocations can start a collection.
 */
import { constants, PerformanceObserver, type PerformanceEntry } from "node:perf_hooks";
import { describe, expect, it } from "vitest";
import type { GatewayContext } from "../../src/context.ts";
import type { RequestLog } from "../../src/log.ts";
import { MetricsRecorder } from "../../src/metrics/recorder.ts";

const CALLS = 1_000_000;

function entry(i: number): RequestLog {
  const status = [200, 200, 201, 404, 429, 503][i % 6]!;
  return {
    time: "2026-11-30T10:00:00.000Z", requestId: `req-${i}`, traceId: "0af7651916cd43dd8448eb211c80319c",
    routeId: `route-${i % 3}`, method: "GET", path: "/x", status,
    code: status === 404 ? "not_found" : status === 429 ? "rate_limited" : undefined,
    origin: "echo", originMs: status === 429 ? null : 3 + (i % 40) * 7, totalMs: 4 + (i % 40) * 7,
    keyId: i % 2 === 0 ? `key_${String(i % 5).padStart(20, "0")}` : undefined, sub: undefined, colo: "AMS",
    bytesIn: i % 4 === 0 ? 120 : null, bytesOut: 2048, cache: i % 5 === 0 ? "hit" : undefined,
  };
}

/**
 * Young-generation collections (scavenges) during `run`, as V8 reports them through perf_hooks. A
 * scavenge happens when new objects fill the young generation, so it counts allocation; one may
 * already be due when the loop starts (the test file's own earlier allocations), hence "at most one".
 */
async function collectionsDuring(run: () => void): Promise<number> {
  let count = 0;
  const minor = (entry: PerformanceEntry) => (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR;
  const observer = new PerformanceObserver((list) => { count += list.getEntries().filter(minor).length; });
  observer.observe({ entryTypes: ["gc"] });
  await new Promise((resolve) => setImmediate(resolve));
  count = 0;
  run();
  await new Promise((resolve) => setTimeout(resolve, 50)); // entries are delivered after the loop
  observer.disconnect();
  return count;
}

describe("the metrics recorder's hot path", () => {
  it(`allocates nothing per request: ${CALLS} records, no scavenge of their own (a loop of small objects scavenges)`, async () => {
    const recorder = new MetricsRecorder({ flushMs: 1e9 });
    const c = { env: { METRICS: {} }, executionCtx: { waitUntil() {} } } as unknown as GatewayContext;
    const entries = Array.from({ length: 240 }, (_, i) => entry(i));
    const startedAt = Date.UTC(2026, 10, 30, 10, 0, 5);
    const record = (n: number) => { for (let i = 0; i < n; i++) recorder.record(c, entries[i % 240]!, startedAt); };
    record(300_000); // warm-up: the cells exist, the code is optimized

    let sink: unknown;
    const recorded = await collectionsDuring(() => record(CALLS));
    const control = await collectionsDuring(() => { for (let i = 0; i < CALLS; i++) sink = { i, e: entries[i % 240] }; });
    console.log(JSON.stringify({ calls: CALLS, collectionsWhileRecording: recorded, collectionsWithOneObjectPerCall: control }));

    expect(sink).toBeDefined();
    expect(recorder.pending).toBe(300_000 + CALLS);
    expect(control).toBeGreaterThanOrEqual(5);
    expect(recorded).toBeLessThanOrEqual(1);
  });
});
