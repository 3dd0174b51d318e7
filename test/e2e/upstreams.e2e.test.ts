/**
 * Origins that survive, end to end: the bundled gateway on `workerd serve` in front of real Node
 * origins that refuse, reset, hang, answer 503, or come back after being down; a second Worker
 * behind a service binding; and the Cron Trigger's scheduled handler run through a service binding
 * (plain workerd has no cron of its own). Every count here is bounded and every wait is short.
 */
import { request as httpRequest } from "node:http";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type GatewayProcess } from "../support/gateway-process.ts";
import { startTargetOrigin, type TargetOrigin } from "../support/target-origin.ts";
import { projectCompatibilityDate } from "../../tools/workerd.ts";

const names = ["w1", "w2", "s1", "s2", "s3", "fa", "fb", "b1", "b2", "k1", "k2", "hang", "i1", "i2", "r1", "r2", "h1", "h2", "m1", "copy", "slowCopy"] as const;
type Name = (typeof names)[number];
const o = {} as Record<Name, TargetOrigin>;
let gateway: GatewayProcess;

beforeAll(async () => {
  for (const name of names) o[name] = await startTargetOrigin(name);
  o.b1.mode = o.b2.mode = o.i1.mode = "503";
  o.hang.mode = o.slowCopy.mode = "hang";
  o.r1.mode = "reset";
  await o.fa.down();
  await o.k1.down();
  const targets = (...list: [Name, number?][]) => list.map(([name, weight]) => ({ url: o[name].url, weight: weight ?? 1 }));
  gateway = await startGateway({
    routes: {
      origins: {
        weights: { targets: targets(["w1", 95], ["w2", 5]) },
        sticky: { targets: targets(["s1"], ["s2"], ["s3"]), stickyBy: "ip" },
        failover: { targets: targets(["fa"], ["fb"]), retries: { attempts: 1, on: ["connect"] }, circuitBreaker: { consecutiveFailures: 5, openSec: 60 } },
        budget: { targets: targets(["b1"], ["b2"]), retries: { attempts: 2, on: [503], budgetPercent: 10 } },
        breaker: { targets: targets(["k1"], ["k2"]), retries: { attempts: 1, on: ["connect"], budgetPercent: 100 }, circuitBreaker: { consecutiveFailures: 3, openSec: 2 } },
        hanging: { url: o.hang.url, timeoutMs: 300, circuitBreaker: { consecutiveFailures: 2, openSec: 30 } },
        idem: { targets: targets(["i1"], ["i2"]), retries: { attempts: 1, on: [503], budgetPercent: 100 } },
        resets: { targets: targets(["r1"], ["r2"]), retries: { attempts: 1, on: ["connect", 502], budgetPercent: 100 } },
        checked: { targets: targets(["h1"], ["h2"]), healthCheck: { path: "/healthz", intervalSec: 60, unhealthyAfter: 1, healthyAfter: 1 } },
        worker: { service: "AUTH_WORKER", timeoutMs: 500 },
        primary: { url: o.m1.url },
        copies: { url: o.copy.url },
        slowCopies: { url: o.slowCopy.url, timeoutMs: 10_000 },
      },
      routes: [
        { id: "weights", path: "/weights", origin: "weights", auth: "none" },
        { id: "sticky", path: "/sticky", origin: "sticky", auth: "none" },
        { id: "failover", path: "/failover", origin: "failover", auth: "none" },
        { id: "budget", path: "/budget", origin: "budget", auth: "none" },
        { id: "breaker", path: "/breaker", origin: "breaker", auth: "none" },
        { id: "hang", path: "/hang", origin: "hanging", auth: "none" },
        { id: "idem", path: "/idem", origin: "idem", auth: "none" },
        { id: "resets", path: "/resets", origin: "resets", auth: "none" },
        { id: "checked", path: "/checked", origin: "checked", auth: "none" },
        { id: "worker", path: "/worker/*", origin: "worker", auth: "none", stripPrefix: "/worker" },
        { id: "mirrored", path: "/mirrored", origin: "primary", auth: "none", mirror: { origin: "copies", percent: 50, body: true } },
        { id: "mirror-hangs", path: "/mirror-hangs", origin: "primary", auth: "none", mirror: { origin: "slowCopies", percent: 100 } },
      ],
    },
    services: [
      { name: "auth-worker", modules: [{ name: "service-worker.js", path: fileURLToPath(new URL("../support/service-worker.js", import.meta.url)) }], compatibilityDate: projectCompatibilityDate() },
      { name: "cron", modules: [{ name: "cron-trigger.js", path: fileURLToPath(new URL("../support/cron-trigger.js", import.meta.url)) }], compatibilityDate: projectCompatibilityDate(), compatibilityFlags: ["service_binding_extra_handlers"], services: { GATEWAY: "gateway" } },
    ],
    serviceBindings: { AUTH_WORKER: "auth-worker" },
    sockets: { cron: "cron" },
    experimental: true, // the cron Worker's service_binding_extra_handlers
  });
}, 90_000);

afterAll(async () => {
  await gateway?.stop();
  for (const origin of Object.values(o)) await origin?.close();
});

/** The gateway's access log lines for one route. */
const logOf = (routeId: string) => gateway.output().split("\n").filter((l) => l.startsWith("{") && l.includes(`"routeId":"${routeId}"`))
  .map((l) => JSON.parse(l) as { status: number; target?: string; retries?: { target: string; outcome: string | number }[]; retryDenied?: string; totalMs: number });

async function call(path: string, init: RequestInit & { ip?: string } = {}): Promise<{ status: number; body: string; ms: number; headers: Headers }> {
  const headers = new Headers(init.headers);
  if (init.ip) headers.set("cf-connecting-ip", init.ip);
  const started = performance.now();
  const response = await fetch(gateway.url + path, { ...init, headers });
  const body = await response.text();
  return { status: response.status, body, ms: performance.now() - started, headers: response.headers };
}

/** `count` calls, `concurrency` at a time. */
async function many<T>(count: number, concurrency: number, one: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(count);
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) { const i = next++; out[i] = await one(i); }
  }));
  return out;
}

const share = (a: number, b: number) => a / (a + b);

describe("weighted targets", () => {
  it("sends each target its weight's share, within ±3%, over 10,000 requests", async () => {
    const statuses = await many(10_000, 32, async () => (await call("/weights")).status);
    expect(statuses.every((s) => s === 200)).toBe(true);
    const canary = share(o.w2.count(), o.w1.count());
    console.info(`canary share ${(canary * 100).toFixed(2)}% (w1 ${o.w1.count()}, w2 ${o.w2.count()})`);
    expect(o.w1.count() + o.w2.count()).toBe(10_000);
    expect(Math.abs(canary - 0.05)).toBeLessThanOrEqual(0.05 * 0.03);
  }, 60_000);
});

describe("sticky targets", () => {
  it("never moves a client IP while the weights are unchanged, and spreads the IPs", async () => {
    const ips = Array.from({ length: 150 }, (_, i) => `198.51.100.${i}`);
    for (let round = 0; round < 3; round++) await many(ips.length, 16, (i) => call("/sticky", { ip: ips[i]! }));
    const placed = new Map<string, Set<string>>();
    for (const origin of [o.s1, o.s2, o.s3]) for (const hit of origin.hits) {
      if (!placed.has(hit.clientIp!)) placed.set(hit.clientIp!, new Set());
      placed.get(hit.clientIp!)!.add(origin.name);
    }
    expect(placed.size).toBe(150);
    for (const [ip, targets] of placed) expect([...targets], ip).toHaveLength(1);
    for (const origin of [o.s1, o.s2, o.s3]) expect(origin.count()).toBeGreaterThan(3 * 20);
  });
});

describe("failover", () => {
  it("answers every request while one target is down (retries, then its circuit opens), each retry in the access log", async () => {
    const results = await many(100, 8, () => call("/failover"));
    expect(results.map((r) => r.status).filter((s) => s !== 200)).toEqual([]);
    expect(o.fb.count()).toBe(100);
    // Within the default budget: the failures that open the circuit (5, and tries already in flight), then none.
    const retried = logOf("failover").filter((l) => l.retries);
    expect(retried.length).toBeGreaterThanOrEqual(5);
    expect(retried.length).toBeLessThanOrEqual(12);
    expect(retried[0]!.retries).toEqual([{ target: new URL(o.fa.url).host, outcome: "connect" }]);
    expect(retried[0]!.target).toBe(new URL(o.fb.url).host);
  });
});

describe("what is never retried", () => {
  it("never retries a POST, and retries it with an Idempotency-Key", async () => {
    const plain = await many(20, 4, () => call("/idem", { method: "POST" }));
    expect(o.i1.count() + o.i2.count()).toBe(20); // one try each
    expect(plain.filter((r) => r.status === 503).length).toBe(10);
    expect(logOf("idem").filter((l) => l.retryDenied === "method").length).toBe(10);
    const keyed = await many(20, 4, (i) => call("/idem", { method: "POST", headers: { "idempotency-key": `key-${i}` } }));
    expect(keyed.every((r) => r.status === 200)).toBe(true);
    expect(o.i2.count()).toBe(10 + 20);
  });

  it("never replays a POST whose body was streamed: the origin that reset it saw it once, the other never", async () => {
    const chunks = ["first part,", "second part,", "last part"];
    const post = () => new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${gateway.url}/resets`, { method: "POST", headers: { "transfer-encoding": "chunked" } }, (res) => { res.resume(); resolve(res.statusCode!); });
      req.on("error", reject);
      Readable.from(chunks).pipe(req);
    });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push(await post());
    expect(statuses.filter((s) => s === 502).length).toBe(3);
    expect(o.r1.hits.filter((h) => h.method === "POST").map((h) => h.bodyBytes)).toEqual([32, 32, 32]);
    expect(o.r2.hits.filter((h) => h.method === "POST").length).toBe(3); // only its own turns
    expect(logOf("resets").filter((l) => l.retryDenied === "body").length).toBe(3);
    // The same failure on a GET is retried on the other target.
    const gets = await many(6, 1, () => call("/resets"));
    expect(gets.every((r) => r.status === 200)).toBe(true);
  });
});

describe("the retry budget", () => {
  it("holds under a full outage: the origins see at most 10% more than the client load (plus 10)", async () => {
    const requests = 300;
    const results = await many(requests, 10, () => call("/budget"));
    expect(results.every((r) => r.status === 503)).toBe(true);
    const tries = o.b1.count() + o.b2.count();
    console.info(`full outage: ${requests} requests, ${tries} tries (without a budget: ${requests * 3})`);
    expect(tries).toBeGreaterThanOrEqual(requests + 10);
    expect(tries).toBeLessThanOrEqual(requests + requests * 0.1 + 10);
    expect(logOf("budget").filter((l) => l.retryDenied === "budget").length).toBeGreaterThan(requests / 2);
  });
});

describe("the circuit breaker", () => {
  it("opens after consecutive failures, skips the target, and closes when it comes back", async () => {
    for (let i = 0; i < 30; i++) expect((await call("/breaker")).status).toBe(200);
    // Three refused tries (each retried on k2), then k1 is skipped: no more tries at it.
    expect(logOf("breaker").filter((l) => l.retries).length).toBe(3);
    expect(o.k2.count()).toBe(30);
    await o.k1.up();
    await new Promise((resolve) => setTimeout(resolve, 2100)); // openSec
    for (let i = 0; i < 20; i++) expect((await call("/breaker")).status).toBe(200);
    expect(o.k1.count()).toBeGreaterThanOrEqual(9); // the probe, then its share
    expect(logOf("breaker").filter((l) => l.retries).length).toBe(3);
  });

  it("answers at once, without waiting for a timeout, once every target is open", async () => {
    const first = [await call("/hang"), await call("/hang")];
    expect(first.map((r) => r.status)).toEqual([504, 504]);
    for (const r of first) expect(r.ms).toBeGreaterThanOrEqual(290);
    const open = await many(20, 4, () => call("/hang"));
    for (const r of open) {
      expect(r.status).toBe(503);
      expect(JSON.parse(r.body).error.code).toBe("origin_unavailable");
      expect(Number(r.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(r.ms).toBeLessThan(250); // never the 300 ms timeout
    }
    expect(o.hang.count()).toBe(2);
  });
});

describe("health checks from the Cron Trigger", () => {
  const cron = async () => {
    const response = await fetch(`${gateway.urls.cron}/run?time=${Date.now()}`, { method: "POST" });
    const text = await response.text();
    expect(response.status, text).toBe(200);
    expect(JSON.parse(text)).toMatchObject({ outcome: "ok" });
  };
  const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

  it("gives an unhealthy target no traffic until it recovers", async () => {
    o.h1.mode = "503";
    await cron();
    expect(o.h1.hits.filter((h) => h.url === "/healthz").length).toBe(1);
    await call("/checked"); // starts this isolate's first read of the board; never waits for it
    await settle();
    const before = o.h1.count("/checked");
    const down = await many(20, 4, () => call("/checked"));
    expect(down.every((r) => r.status === 200)).toBe(true);
    expect(o.h1.count("/checked")).toBe(before);

    o.h1.mode = "ok";
    await cron();
    await new Promise((resolve) => setTimeout(resolve, 5100)); // the isolate reads the board at most every 5 s
    await call("/checked");
    await settle();
    await many(20, 4, () => call("/checked"));
    expect(o.h1.count("/checked") - before).toBeGreaterThanOrEqual(9);
  }, 30_000);
});

describe("a service binding as the origin", () => {
  it("forwards to the other Worker with the gateway's header hygiene", async () => {
    const response = await call("/worker/who?x=1", { ip: "203.0.113.5", headers: { "x-forwarded-for": "6.6.6.6", "x-gateway-mirror": "forged" } });
    expect(response.status).toBe(200);
    const seen = JSON.parse(response.body) as { worker: string; url: string; headers: Record<string, string> };
    expect(seen.worker).toBe("service");
    expect(new URL(seen.url).pathname + new URL(seen.url).search).toBe("/who?x=1");
    expect(seen.headers["x-forwarded-for"]).toBe("203.0.113.5");
    expect(seen.headers["x-gateway-mirror"]).toBeUndefined();
    expect(seen.headers["x-request-id"]).toBe(response.headers.get("x-request-id"));
  });

  it("answers 504 when the Worker takes longer than the origin's timeout", async () => {
    const response = await call("/worker/slow", { headers: { "x-service-delay": "5000" } });
    expect(response.status).toBe(504);
    expect(response.ms).toBeLessThan(1500);
  });
});

describe("request mirroring", () => {
  it("copies about the configured share of requests, bodies included, marked as copies", async () => {
    const body = "order=1;".repeat(100);
    const results = await many(200, 8, () => call("/mirrored", { method: "POST", body, headers: { "content-type": "text/plain" } }));
    expect(results.every((r) => r.status === 200 && JSON.parse(r.body).target === "m1")).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 300)); // copies go out in waitUntil
    expect(o.m1.count("/mirrored")).toBe(200);
    const copies = o.copy.hits;
    expect(copies.length).toBeGreaterThan(60);
    expect(copies.length).toBeLessThan(140);
    for (const copy of copies) expect(copy).toMatchObject({ method: "POST", url: "/mirrored", bodyBytes: body.length, mirror: true });
    expect(o.m1.hits.some((h) => h.mirror)).toBe(false);
  });

  it("never makes the client wait for a mirror that hangs", async () => {
    const results = await many(20, 4, () => call("/mirror-hangs"));
    for (const r of results) {
      expect(r.status).toBe(200);
      expect(r.ms).toBeLessThan(1000); // the mirror's timeout is 10 s
    }
    expect(o.slowCopy.count()).toBeGreaterThan(0);
  });
});
