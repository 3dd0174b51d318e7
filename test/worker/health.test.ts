/**
 * Active health checks inside workerd: the `scheduled` handler probes real targets (the Node echo
 * origin, a closed port, a second Worker behind a service binding), the health board Durable
 * Object keeps the verdicts, and forwarding leaves unhealthy targets out once the isolate has read
 * the board.
 */
import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { loadRouteTable } from "../../src/config/index.ts";
import type { GatewayBindings } from "../../src/context.ts";
import { forgetHealthView, healthCheckHandler, healthStates } from "../../src/health/index.ts";
import worker from "../../src/index.ts";
import { echoOf, errorOf, gatewayFor, route } from "../support/worker-gateway.ts";

const ECHO = env.ECHO_ORIGIN;
const REFUSED = "http://127.0.0.1:1";
const bindings: GatewayBindings = { ...env };

/** Runs the Worker's scheduled handler for `origins` once, as the Cron Trigger would at `time`. */
async function cronRun(origins: Record<string, unknown>, time: number, sleep?: (ms: number) => Promise<void>): Promise<void> {
  const { origins: parsed } = loadRouteTable({ origins: { echo: { url: ECHO }, ...origins }, routes: [] });
  const handler = healthCheckHandler(parsed, sleep ? { sleep } : {});
  const ctx = createExecutionContext();
  await handler(createScheduledController({ scheduledTime: time, cron: "* * * * *" }), bindings, ctx);
  await waitOnExecutionContext(ctx);
}

const setServiceHealth = (status: number) => env.AUTH_WORKER.fetch(`https://x/health-status?status=${status}`, { method: "POST" });
/** The start of the minute `n` minutes before this one (a past run never waits for its rounds). */
const minute = (n: number) => Math.floor(Date.now() / 60_000) * 60_000 - (10 - n) * 60_000;
const stateOf = async (key: string) => (await healthStates(env.UPSTREAM_HEALTH)).find((s) => s.key === key);

beforeEach(async () => {
  forgetHealthView();
  await setServiceHealth(200);
});

describe("the scheduled health checker", () => {
  const origins = {
    users: {
      targets: [{ url: `${ECHO}/a` }, { url: REFUSED }, { service: "AUTH_WORKER" }],
      healthCheck: { path: "/healthz", intervalSec: 60, unhealthyAfter: 2, healthyAfter: 2 },
    },
  };

  it("marks a target unhealthy after unhealthyAfter failed probes in a row, and healthy targets stay in", async () => {
    await cronRun(origins, minute(0));
    expect(await stateOf(`users ${REFUSED}`)).toMatchObject({ healthy: true, failures: 1, detail: "connect" });
    await cronRun(origins, minute(1));
    expect(await stateOf(`users ${REFUSED}`)).toMatchObject({ healthy: false, failures: 2 });
    expect(await stateOf(`users ${ECHO}/a`)).toMatchObject({ healthy: true, successes: 2, detail: "200" });
    expect(await stateOf("users service:AUTH_WORKER")).toMatchObject({ healthy: true, detail: "200" });
  });

  it("probes a service target through its binding, and brings a target back after healthyAfter passes", async () => {
    await setServiceHealth(503);
    await cronRun(origins, minute(0));
    await cronRun(origins, minute(1));
    expect(await stateOf("users service:AUTH_WORKER")).toMatchObject({ healthy: false, detail: "503" });
    await setServiceHealth(200);
    await cronRun(origins, minute(2));
    expect(await stateOf("users service:AUTH_WORKER")).toMatchObject({ healthy: false, successes: 1 });
    await cronRun(origins, minute(3));
    expect(await stateOf("users service:AUTH_WORKER")).toMatchObject({ healthy: true, successes: 2 });
  });

  it("runs every round of a sub-minute interval within its minute, at its offsets", async () => {
    // This minute, as the cron runs it: the rounds at +20 s and +40 s wait (here, on a stand-in clock).
    const waits: number[] = [];
    const start = Math.floor(Date.now() / 60_000) * 60_000;
    const elapsed = Date.now() - start;
    await cronRun({ fast: { targets: [{ url: REFUSED }], healthCheck: { path: "/", intervalSec: 20, unhealthyAfter: 5 } } }, start, async (ms) => { waits.push(ms); });
    expect(waits.length).toBe([20_000, 40_000].filter((offset) => offset > elapsed).length);
    for (const wait of waits) expect(wait).toBeLessThanOrEqual(40_000);
    expect(await stateOf(`fast ${REFUSED}`)).toMatchObject({ failures: 3, healthy: true });
  });

  it("probes a longer interval only in its minutes", async () => {
    const origin = { slow: { url: REFUSED, healthCheck: { path: "/", intervalSec: 120 } } };
    const even = Math.floor(Date.now() / 120_000) * 120_000 - 240_000;
    await cronRun(origin, even);
    await cronRun(origin, even + 60_000);
    expect(await stateOf(`slow ${REFUSED}`)).toMatchObject({ failures: 1 });
  });

  it("drops targets that left the table", async () => {
    await cronRun(origins, minute(0));
    await cronRun({ other: { url: `${ECHO}/o`, healthCheck: { path: "/" } } }, minute(1));
    expect((await healthStates(env.UPSTREAM_HEALTH)).map((s) => s.key)).toEqual([`other ${ECHO}/o`]);
  });

  it("is what the Worker entry exports as `scheduled`: with the shipped table (no health checks) it probes nothing", async () => {
    await cronRun(origins, minute(0));
    const before = await healthStates(env.UPSTREAM_HEALTH);
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "* * * * *" }), bindings, ctx);
    await waitOnExecutionContext(ctx);
    expect(before.length).toBe(3);
    expect(await healthStates(env.UPSTREAM_HEALTH)).toEqual(before);
  });
});

describe("forwarding with health checks", () => {
  const origins = {
    users: {
      targets: [{ url: `${ECHO}/a` }, { url: REFUSED }, { url: `${ECHO}/b` }],
      healthCheck: { path: "/healthz", intervalSec: 60, unhealthyAfter: 1 },
    },
    lonely: { url: REFUSED, healthCheck: { path: "/healthz", intervalSec: 30, unhealthyAfter: 1 } },
  };
  const call = gatewayFor({ origins, routes: [route("users", "/users", { origin: "users" }), route("lonely", "/lonely", { origin: "lonely" })] });

  it("sends an unhealthy target no traffic once the isolate has read the board; the first request never waits for it", async () => {
    await cronRun(origins, minute(0));
    expect(await stateOf(`users ${REFUSED}`)).toMatchObject({ healthy: false });
    // The first request of this isolate's view starts the read in waitUntil and is forwarded as before.
    await call("/users");
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const response = await call("/users");
      statuses.push(response.status);
      if (response.status === 200) expect((await echoOf(response)).url).toMatch(/^\/[ab]\/users$/);
    }
    expect(statuses).toEqual(Array(12).fill(200));
  });

  it("answers 503 origin_unavailable at once, with Retry-After, when every target is unhealthy", async () => {
    await cronRun(origins, minute(0));
    await call("/lonely");
    const response = await call("/lonely");
    expect(response.status).toBe(503);
    expect((await errorOf(response)).code).toBe("origin_unavailable");
    expect(response.headers.get("retry-after")).toBe("30");
  });
});
