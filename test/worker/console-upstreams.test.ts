/**
 * The console's Upstreams reader and words (src/admin/ui/client/upstream-health.ts) against real
 * answers of `GET /_gateway/upstreams`: the real scheduled checker probing the Node echo origin
 * and a closed port, a circuit breaker opened by real refused connections, and a stale verdict on
 * the real health board. What the page says is what the gateway answered.
 */
import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { breakerWords, healthWords, isOut, probeWords, readUpstreams, settingsLine } from "../../src/admin/ui/client/upstream-health.ts";
import { loadRouteTable } from "../../src/config/index.ts";
import type { GatewayBindings } from "../../src/context.ts";
import { forgetHealthView, healthCheckHandler, recordProbes } from "../../src/health/index.ts";
import { ADMIN_HEADERS, gatewayFor, route } from "../support/worker-gateway.ts";

const ECHO = env.ECHO_ORIGIN;
const REFUSED = "http://127.0.0.1:1";
const bindings: GatewayBindings = { ...env };
const admin = { pathPrefix: "/_gateway", token: { env: "ADMIN_TOKEN" } };
const unique = (prefix: string) => `${prefix}${crypto.randomUUID().slice(0, 8)}`;

async function cronRun(origins: Record<string, unknown>, time: number): Promise<void> {
  const { origins: parsed } = loadRouteTable({ origins, routes: [] });
  const ctx = createExecutionContext();
  await healthCheckHandler(parsed)(createScheduledController({ scheduledTime: time, cron: "* * * * *" }), bindings, ctx);
  await waitOnExecutionContext(ctx);
}

beforeEach(() => forgetHealthView());

describe("the Upstreams page reads the real answer of GET /upstreams", () => {
  it("says a refused target is unhealthy with an open circuit, the other healthy and closed, and an origin without checks not checked", async () => {
    const pool = unique("pool");
    const origins = {
      [pool]: {
        targets: [{ url: REFUSED, weight: 1 }, { url: `${ECHO}/ok`, weight: 3 }, { url: `${ECHO}/drained`, weight: 0 }],
        retries: { attempts: 1, on: [503], budgetPercent: 100 },
        circuitBreaker: { consecutiveFailures: 2, openSec: 60 },
        healthCheck: { path: "/healthz", intervalSec: 60, unhealthyAfter: 1, healthyAfter: 1 },
      },
      plain: { url: `${ECHO}/plain` },
    };
    const call = gatewayFor({ admin, origins, routes: [route(pool, `/${pool}`, { origin: pool })] });
    // Real refused connections open the refused target's circuit (before any verdict keeps it out).
    let refused = 0;
    for (let i = 0; i < 60 && refused < 2; i++) if ((await call(`/${pool}`)).status === 502) refused++;
    expect(refused).toBe(2);

    const unprobed = readUpstreams(await (await call("/_gateway/upstreams", { headers: ADMIN_HEADERS })).json());
    expect(unprobed).not.toBeNull();
    expect(healthWords(unprobed!.origins.find((o) => o.name === pool)!.targets[0]!.health).text).toBe("Not probed yet");

    await cronRun(origins, Math.floor(Date.now() / 60_000) * 60_000 - 5 * 60_000);
    const answer = readUpstreams(await (await call("/_gateway/upstreams", { headers: ADMIN_HEADERS })).json());
    expect(answer).not.toBeNull();
    expect(answer!.breakerScope).toBe("this isolate");
    const [origin, plain] = [pool, "plain"].map((name) => answer!.origins.find((o) => o.name === name));
    expect(origin!.name).toBe(pool);
    expect(settingsLine(origin!)).toBe("3 targets by weight · not sticky · retries: 1 attempt on 503, budget 100 % · breaker: opens after 2 failures in a row, for 60 s · health check: GET /healthz every 60 s (timeout 2,000 ms), unhealthy after 1, healthy after 1");
    expect(settingsLine(plain!)).toBe("one URL · not sticky · no retries · no circuit breaker · no health check");

    const [down, up, drained] = origin!.targets;
    expect(healthWords(down!.health)).toMatchObject({ text: "Unhealthy", tone: "out" });
    expect(healthWords(down!.health).note).toMatch(/^1 probe failed in a row; kept out of traffic \(verdict valid until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)$/);
    expect(probeWords(down!.health)).toBe("could not connect (connect)");
    expect(breakerWords(down!.breaker)).toMatchObject({ text: "Open", tone: "out" });
    expect(breakerWords(down!.breaker).note).toMatch(/^skipped until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    expect(isOut(down!)).toBe(true);

    expect(healthWords(up!.health)).toEqual({ text: "Healthy", tone: "ok", note: "1 probe passed in a row" });
    expect(probeWords(up!.health)).toBe("HTTP 200");
    expect(breakerWords(up!.breaker)).toEqual({ text: "Closed", tone: "ok", note: null });
    expect(isOut(up!)).toBe(false);
    expect(isOut(drained!)).toBe(true);

    expect(healthWords(plain!.targets[0]!.health)).toEqual({ text: "Not checked", tone: "quiet", note: "the origin has no health check" });
    expect(probeWords(plain!.targets[0]!.health)).toBe("—");
    expect(breakerWords(plain!.targets[0]!.breaker)).toEqual({ text: "None", tone: "quiet", note: null });
  });

  it("says a stale unhealthy verdict is stale and that forwarding ignores it, and does not count the target out", async () => {
    const name = unique("stale");
    const origins = { [name]: { url: REFUSED, healthCheck: { path: "/healthz" } } };
    const call = gatewayFor({ admin, origins, routes: [] });
    const key = `${name} ${REFUSED}`;
    await recordProbes(env.UPSTREAM_HEALTH, [{ key, ok: false, detail: "503", unhealthyAfter: 1, healthyAfter: 2, validForMs: 0 }], [key]);
    const answer = readUpstreams(await (await call("/_gateway/upstreams", { headers: ADMIN_HEADERS })).json());
    const target = answer!.origins.find((o) => o.name === name)!.targets[0]!;
    const words = healthWords(target.health);
    expect(words.text).toBe("Stale: unhealthy");
    expect(words.tone).toBe("quiet");
    expect(words.note).toMatch(/: forwarding ignores this verdict$/);
    expect(probeWords(target.health)).toBe("HTTP 503");
    expect(isOut(target)).toBe(false);
  });

  it("reads no answer of another shape (a console and a gateway of different versions)", () => {
    const target = { label: "a", url: "http://a", weight: 1, health: { checked: false }, breaker: null };
    const origin = { name: "o", kind: "url", stickyBy: null, retries: null, circuitBreaker: null, healthCheck: null, targets: [target] };
    const good = { at: new Date().toISOString(), breakerScope: "this isolate", origins: [origin] };
    expect(readUpstreams(good)).toEqual(good);
    for (const bad of [
      null, [], { ...good, at: "yesterday" }, { ...good, breakerScope: undefined }, { ...good, origins: {} },
      { ...good, origins: [{ ...origin, kind: "pool" }] },
      { ...good, origins: [{ ...origin, targets: [{ ...target, weight: "1" }] }] },
      { ...good, origins: [{ ...origin, targets: [{ ...target, health: { checked: true, healthy: false } }] }] },
      { ...good, origins: [{ ...origin, targets: [{ ...target, breaker: { state: "broken", openUntil: null, failures: 0 } }] }] },
      { ...good, origins: [{ ...origin, retries: { attempts: 1 } }] },
    ]) expect(readUpstreams(bad), JSON.stringify(bad)).toBeNull();
  });
});
