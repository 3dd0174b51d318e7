/**
 * A micro-measure of the API key's cost inside workerd (MEASURE=1 only: `npm run measure`):
 *
 * 1. `hashApiKey` alone, and `findKey` for a key whose record is cached: nanoseconds per call.
 * 2. Through the gateway, answered by a stand-in policy (no origin): what a key route adds per
 *    request over a public route, beside an IP-limited route on the same never-refusing plan (its
 *    lease spending is the same, so the difference between the two is the key's own part).
 *
 * Timers in workerd advance only across I/O, so each batch is timed between two awaited I/O events.
 * Cases are interleaved batch by batch; figures are the median of the batch means.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { findKey, hashApiKey } from "../../src/keys/index.ts";
import { createKey, gatewayFor, policiesWith, route, testPolicy } from "../support/worker-gateway.ts";

const tick = async () => { await caches.default.match("https://tick.invalid/"); };
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const NEVER_REFUSES = { rate: { limit: 1_000_000_000, per: "1s" }, quota: { limit: 1_000_000_000_000, per: "month" as const } };

describe("API key cost (micro-measure)", () => {
  it.runIf(env.MEASURE === "1")("reports nanoseconds per hash and per cached lookup, and what a key route adds per request", { timeout: 120_000 }, async () => {
    const answer = testPolicy(async () => new Response("ok"));
    const call = gatewayFor({
      plans: { never: NEVER_REFUSES },
      admin: { token: { env: "ADMIN_TOKEN" } },
      routes: [
        route("public", "/public"),
        route("keyed", "/keyed", { auth: { apiKey: true } }),
        route("ip", "/ip", { rateLimit: { plan: "never", by: "ip" } }),
      ],
    }, { policies: policiesWith(answer) });
    const { key } = await createKey(call, { owner: "measure", plan: "never" });
    const hash = await hashApiKey(key);

    const perCall = async (work: () => Promise<unknown>, calls: number) => {
      const samples: number[] = [];
      for (let b = 0; b < 5; b++) {
        await tick();
        const started = performance.now();
        for (let i = 0; i < calls; i++) await work();
        await tick();
        samples.push(((performance.now() - started) * 1e6) / calls);
      }
      return Math.round(median(samples));
    };
    await call("/keyed", { headers: { "x-api-key": key } });
    const nsPerHash = await perCall(() => hashApiKey(key), 50_000);
    const nsPerCachedFind = await perCall(() => findKey(env.API_KEYS, hash, undefined), 50_000);

    const BATCH = 400;
    const init = (path: string) => (path === "/keyed" ? { headers: { "x-api-key": key } } : { clientIp: "198.18.0.9" });
    const batch = async (path: string) => {
      await tick();
      const started = performance.now();
      for (let i = 0; i < BATCH; i++) {
        const response = await call(path, init(path));
        if (response.status !== 200) throw new Error(`${path}: status ${response.status}`);
        await response.arrayBuffer();
      }
      await tick();
      return ((performance.now() - started) * 1000) / BATCH;
    };
    const paths = ["/public", "/keyed", "/ip"];
    const samples: Record<string, number[]> = Object.fromEntries(paths.map((p) => [p, []]));
    for (const path of paths) for (let i = 0; i < 200; i++) await (await call(path, init(path))).arrayBuffer();
    for (let b = 0; b < 8; b++) for (const path of paths) samples[path]!.push(await batch(path));
    const us = Object.fromEntries(paths.map((p) => [p, median(samples[p]!)]));
    console.log(JSON.stringify({
      nsPerHash, nsPerCachedFind,
      publicRouteUs: +us["/public"]!.toFixed(1),
      keyRouteAddedUs: +(us["/keyed"]! - us["/public"]!).toFixed(1),
      ipLimitedAddedUs: +(us["/ip"]! - us["/public"]!).toFixed(1),
    }));
    expect(nsPerHash).toBeGreaterThan(0);
  });
});
