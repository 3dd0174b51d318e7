/**
 * The console's Overview reader (src/admin/ui/client/metrics.ts) against real answers of the
 * metrics API, from the real gateway app, recorder and MetricsShard objects: the numbers it charts
 * are the ones the gateway counted.
 */
import { describe, expect, it } from "vitest";
import { readMetrics } from "../../src/admin/ui/client/metrics.ts";
import { MetricsRecorder } from "../../src/metrics/index.ts";
import { ADMIN_HEADERS, gatewayFor, route } from "../support/worker-gateway.ts";

const ADMIN = { token: { env: "ADMIN_TOKEN" } };
const unique = (prefix: string) => `${prefix}-${crypto.randomUUID().slice(0, 8)}`;

/** The call the Overview makes: the last 30 minutes, per minute, every route. */
const overviewCall = () => {
  const to = Math.floor(Date.now() / 1000);
  return `/_gateway/metrics?from=${to - 1800}&to=${to}&step=60s`;
};

describe("the Overview reads the metrics API's real answer", () => {
  it("charts each route's requests per minute, error rate and latency as the gateway counted them", async () => {
    const ok = unique("console-ok"), failing = unique("console-failing");
    const call = gatewayFor({ admin: ADMIN, routes: [route(ok, `/${ok}`), route(failing, `/${failing}`)] }, { recorder: new MetricsRecorder() });
    for (let i = 0; i < 6; i++) await (await call(`/${ok}`)).arrayBuffer();
    for (let i = 0; i < 4; i++) await (await call(`/${failing}`, { headers: { "x-origin-status": i < 3 ? "503" : "200" } })).arrayBuffer();

    const response = await call(overviewCall(), { headers: ADMIN_HEADERS });
    expect(response.status).toBe(200);
    const reading = readMetrics(await response.json());
    expect(reading).not.toBeNull();
    expect(reading!.stepMs).toBe(60_000);
    // Every minute of the window is a point (minutes without requests read 0), in time order.
    const mine = reading!.routes.filter((r) => r.id === ok || r.id === failing);
    expect(mine.map((r) => r.id)).toEqual([ok, failing].sort());
    for (const r of mine) {
      expect(r.points.length).toBe((reading!.to - reading!.from) / 60_000);
      expect(r.points.map((p) => p.at)).toEqual([...r.points.map((p) => p.at)].sort((a, b) => a - b));
    }
    const byId = Object.fromEntries(mine.map((r) => [r.id, r]));
    expect(byId[ok]!.totals).toMatchObject({ requests: 6, errorRate: 0 });
    expect(byId[failing]!.totals).toMatchObject({ requests: 4, errorRate: 0.75 });
    expect(byId[ok]!.totals.p50).toEqual(expect.any(Number));
    expect(byId[ok]!.totals.p99).toEqual(expect.any(Number));
    // The requests land in one or two minutes (the test may straddle a minute): they sum to what was sent.
    const perMinute = (id: string) => byId[id]!.points.reduce((sum, p) => sum + p.perMinute, 0);
    expect(perMinute(ok)).toBe(6);
    expect(perMinute(failing)).toBe(4);
    const busy = byId[failing]!.points.filter((p) => p.perMinute > 0);
    expect(busy.every((p) => p.errorRate !== null && p.p50 !== null && p.p99 !== null)).toBe(true);
    expect(byId[failing]!.points.filter((p) => p.perMinute === 0).every((p) => p.errorRate === null && p.p50 === null)).toBe(true);
  });

  it("reads the answer of a gateway that counts nothing (no recorder) as no traffic on its routes", async () => {
    const id = unique("console-quiet");
    const call = gatewayFor({ admin: ADMIN, routes: [route(id, `/${id}`)] });
    await (await call(`/${id}`)).arrayBuffer();
    const response = await call(overviewCall(), { headers: ADMIN_HEADERS });
    expect(response.status).toBe(200);
    const reading = readMetrics(await response.json());
    expect(reading).not.toBeNull();
    expect(reading!.routes.find((r) => r.id === id)).toBeUndefined();
  });
});
