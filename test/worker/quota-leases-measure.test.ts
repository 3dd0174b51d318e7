/**
 * A micro-measure of counting by leases inside workerd, for the claim that a request holding a lease
 * costs no I/O and little CPU (src/quota/leases.ts):
 *
 * 1. `LeaseBook.take` alone on a held lease of a never-refusing plan: nanoseconds per call.
 * 2. Through the gateway: what an IP-limited route adds per request over a public route under
 *    leases, and under `counting: "exact"` (one counter call per request), all answered by a
 *    stand-in policy (no origin, so the network does not drown the figure).
 *
 * Timers in workerd advance only across I/O, so each batch is timed between two awaited I/O events
 * (a cache lookup; performance.now() there moves in whole milliseconds, so batches are long).
 * Cases are interleaved batch by batch; figures are the median of the batch means. The machine is
 * shared: read the ratios, not the absolute numbers. Asserts only what must hold: every request is
 * admitted, and under leases the counter is called a handful of times for thousands of requests.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { LeaseBook, type LeaseContext } from "../../src/quota/leases.ts";
import { counterName, resolvePlan, type Usage } from "../../src/quota/index.ts";
import { gatewayFor, policiesWith, route, testPolicy } from "../support/worker-gateway.ts";

const tick = async () => { await caches.default.match("https://tick.invalid/"); };
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const NEVER_REFUSES = { rate: { limit: 1_000_000_000, per: "1s" }, quota: { limit: 1_000_000_000_000, per: "month" as const } };

describe("lease cost (micro-measure)", () => {
  it("reports nanoseconds per take from a held lease", async () => {
    const book = new LeaseBook();
    const pending: Promise<unknown>[] = [];
    const ctx: LeaseContext = { ns: env.QUOTA, waitUntil: (p) => { pending.push(p); }, onBackgroundError: () => {} };
    const plan = resolvePlan("measure", NEVER_REFUSES);
    const counter = `test:${crypto.randomUUID()}`;
    for (let i = 0; i < 20_000; i++) await book.take(ctx, counter, plan, 1); // warm-up, leases grow to a second's worth
    await Promise.allSettled(pending.splice(0));
    const CALLS = 50_000;
    const samples: number[] = [];
    for (let b = 0; b < 5; b++) {
      await tick();
      const started = performance.now();
      for (let i = 0; i < CALLS; i++) {
        const taken = await book.take(ctx, counter, plan, 1);
        if (!taken.ok || !taken.decision.allowed) throw new Error("refused");
      }
      await tick();
      samples.push(((performance.now() - started) * 1e6) / CALLS);
      await Promise.allSettled(pending.splice(0));
    }
    const calls = ((await env.QUOTA.get(env.QUOTA.idFromName(counter)).usage(plan.limits)) as Usage).calls;
    console.log(JSON.stringify({ takesPerBatch: CALLS, nsPerTake: Math.round(median(samples)), counterCalls: calls, takes: 20_000 + 5 * CALLS }));
    expect(calls).toBeLessThan(100);
  });

  it("reports what an IP limit adds per request through the gateway, by leases and exact", { timeout: 60_000 }, async () => {
    const answer = testPolicy(async () => new Response("ok"));
    const call = gatewayFor({
      plans: { leased: NEVER_REFUSES, exact: { ...NEVER_REFUSES, counting: "exact" } },
      routes: [
        route("public", "/public"),
        route("leased", "/leased", { rateLimit: { plan: "leased", by: "ip" } }),
        route("exact", "/exact", { rateLimit: { plan: "exact", by: "ip" } }),
      ],
    }, { policies: policiesWith(answer) });
    const ip = `198.18.${Math.floor(Math.random() * 256)}.${Math.floor(Math.random() * 256)}`;
    const BATCH = 400;
    const batch = async (path: string) => {
      await tick();
      const started = performance.now();
      for (let i = 0; i < BATCH; i++) {
        const response = await call(path, { clientIp: ip });
        if (response.status !== 200) throw new Error(`status ${response.status}`);
        await response.arrayBuffer();
      }
      await tick();
      return ((performance.now() - started) * 1000) / BATCH;
    };
    const paths = ["/public", "/leased", "/exact"];
    const samples: Record<string, number[]> = Object.fromEntries(paths.map((p) => [p, []]));
    for (const path of paths) for (let i = 0; i < 200; i++) await (await call(path, { clientIp: ip })).arrayBuffer();
    for (let b = 0; b < 6; b++) for (const path of paths) samples[path]!.push(await batch(path));
    const us = Object.fromEntries(paths.map((p) => [p, median(samples[p]!)]));
    const calls = async (plan: "leased" | "exact") =>
      ((await env.QUOTA.get(env.QUOTA.idFromName(counterName.identity(plan, "ip", ip))).usage(resolvePlan(plan, NEVER_REFUSES).limits)) as Usage).calls;
    console.log(JSON.stringify({
      requestsPerCase: BATCH * 6 + 200,
      publicRouteUs: +us["/public"]!.toFixed(1),
      leasedAddedUs: +(us["/leased"]! - us["/public"]!).toFixed(1),
      exactAddedUs: +(us["/exact"]! - us["/public"]!).toFixed(1),
      counterCalls: { leased: await calls("leased"), exact: await calls("exact") },
    }));
    expect(await calls("exact")).toBe(BATCH * 6 + 200);
    expect(await calls("leased")).toBeLessThan(50);
  });
});
