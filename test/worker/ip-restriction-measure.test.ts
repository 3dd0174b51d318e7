/**
 * A micro-measure of the ip-restriction policy inside workerd, for the reason written in
 * src/policies/ip-restriction/cidr.ts (why not hono/ip-restriction):
 *
 * 1. The middleware alone, ours against Hono's `ipRestriction` with the same allow list, called
 *    with the same request headers: nanoseconds per call for a short list (4 rules) and a long one
 *    (256 IPv4 + 64 IPv6 blocks), for an IPv4 and an IPv6 client matching the last rule, beside a
 *    baseline middleware that only reads the header and calls next.
 * 2. Through the gateway: what a route with the long allow list adds per request over a public route,
 *    both answered by a stand-in policy (no origin, so the network does not drown the figure).
 *
 * Timers in workerd advance only across I/O, so each batch is timed between two awaited I/O events
 * (a cache lookup; performance.now() there moves in whole milliseconds, so batches are long).
 * Cases are interleaved batch by batch; figures are the median of the batch means.
 * The machine is shared: read the ratios, not the absolute numbers. Asserts only what must hold:
 * both middlewares admit and refuse the same addresses.
 */
import { ipRestriction as honoIpRestriction } from "hono/ip-restriction";
import { describe, expect, it } from "vitest";
import type { GatewayContext, GatewayMiddleware } from "../../src/context.ts";
import { AddressSet, ipRestriction } from "../../src/policies/ip-restriction/index.ts";
import { gatewayFor, policiesWith, route, testPolicy } from "../support/worker-gateway.ts";

const tick = async () => { await caches.default.match("https://tick.invalid/"); };
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

const SHORT = ["10.0.0.0/8", "192.168.0.0/16", "203.0.113.7", "2001:db8::/32"];
const LONG = [
  ...Array.from({ length: 256 }, (_, i) => `100.64.${i}.0/24`),
  ...Array.from({ length: 64 }, (_, i) => `2001:db8:${i.toString(16)}::/48`),
];
const PROBES = { short: { v4: "192.168.7.7", v6: "2001:db8::1" }, long: { v4: "100.64.255.9", v6: "2001:db8:3f::1" } };

/** A context with just what both middlewares read: the request, and c.text for Hono's refusal. */
const contextFor = (ip: string) => ({
  req: { raw: new Request("http://gateway.test/", { headers: { "cf-connecting-ip": ip } }) },
  text: (body: string, init: ResponseInit) => new Response(body, init),
}) as unknown as GatewayContext;

const ours = (rules: string[]): GatewayMiddleware => ipRestriction({ allow: AddressSet.fromRules(rules, "measure"), deny: AddressSet.EMPTY });
const hono = (rules: string[]): GatewayMiddleware => honoIpRestriction((c) => c.req.raw.headers.get("cf-connecting-ip") ?? "", { allowList: rules }) as GatewayMiddleware;

/** Whether the middleware lets the request on (calls next without throwing). */
async function admits(middleware: GatewayMiddleware, ip: string): Promise<boolean> {
  let passed = false;
  try {
    await middleware(contextFor(ip), async () => { passed = true; });
  } catch {
    return false;
  }
  return passed;
}

const CALLS = 50_000;
async function batchNanos(middleware: GatewayMiddleware, c: GatewayContext): Promise<number> {
  const next = async () => {};
  await tick();
  const started = performance.now();
  for (let i = 0; i < CALLS; i++) await middleware(c, next);
  await tick();
  return ((performance.now() - started) * 1e6) / CALLS;
}

describe("ip-restriction cost (micro-measure)", () => {
  it("admits and refuses the same addresses as hono/ip-restriction", async () => {
    for (const rules of [SHORT, LONG]) {
      for (const ip of ["10.1.2.3", "203.0.113.7", "203.0.113.8", "192.168.255.255", "100.64.255.9", "100.65.0.0", "::ffff:10.1.2.3",
        "2001:db8::1", "2001:DB8:3f::1", "2001:db8:40::", "2001:db9::1", "0.0.0.0"]) {
        expect(await admits(ours(rules), ip), `${ip} in ${rules.length} rules`).toBe(await admits(hono(rules), ip));
      }
    }
  });

  it("reports nanoseconds per call of the middleware alone, ours and Hono's", async () => {
    // The baseline reads the header and calls next, so the rest is the matching itself.
    const baseline: GatewayMiddleware = async (c, next) => { if (c.req.raw.headers.get("cf-connecting-ip") !== null) await next(); };
    const cases: Record<string, [GatewayMiddleware, GatewayContext]> = { baseline: [baseline, contextFor(PROBES.short.v4)] };
    for (const [size, rules] of [["short", SHORT], ["long", LONG]] as const) {
      for (const family of ["v4", "v6"] as const) {
        const c = contextFor(PROBES[size][family]);
        cases[`ours ${size} ${family}`] = [ours(rules), c];
        cases[`hono ${size} ${family}`] = [hono(rules), c];
      }
    }
    const samples: Record<string, number[]> = {};
    for (const [name, [middleware, c]] of Object.entries(cases)) {
      for (let i = 0; i < 2_000; i++) await middleware(c, async () => {}); // warm-up
      samples[name] = [];
    }
    for (let b = 0; b < 5; b++) for (const [name, [middleware, c]] of Object.entries(cases)) samples[name]!.push(await batchNanos(middleware, c));
    const ns = Object.fromEntries(Object.entries(samples).map(([name, xs]) => [name, Math.round(median(xs))]));
    console.log(JSON.stringify({ callsPerBatch: CALLS, nsPerCall: ns }));
    for (const value of Object.values(ns)) expect(value).toBeGreaterThan(0);
  });

  it("reports what an allow list adds per request through the gateway", async () => {
    const answer = testPolicy(async () => new Response("ok"));
    const call = gatewayFor({ routes: [
      route("public", "/public"),
      route("long", "/long", { ipAllow: LONG }),
    ] }, { policies: policiesWith(answer) });
    const BATCH = 500;
    const batch = async (path: string) => {
      await tick();
      const started = performance.now();
      for (let i = 0; i < BATCH; i++) {
        const response = await call(path, { clientIp: "100.64.255.9" });
        if (response.status !== 200) throw new Error(`status ${response.status}`);
        await response.arrayBuffer();
      }
      await tick();
      return ((performance.now() - started) * 1000) / BATCH;
    };
    const paths = ["/public", "/long"];
    const samples: Record<string, number[]> = { "/public": [], "/long": [] };
    for (const path of paths) for (let i = 0; i < 200; i++) await (await call(path, { clientIp: "100.64.255.9" })).arrayBuffer();
    for (let b = 0; b < 8; b++) for (const path of paths) samples[path]!.push(await batch(path));
    const publicUs = median(samples["/public"]!), longUs = median(samples["/long"]!);
    console.log(JSON.stringify({ requestsPerCase: BATCH * 8, publicRouteUs: +publicUs.toFixed(1), longAllowListRouteUs: +longUs.toFixed(1), addedUs: +(longUs - publicUs).toFixed(1) }));
    expect((await call("/long", { clientIp: "100.65.0.1" })).status).toBe(403); // the list is really applied
  });
});
