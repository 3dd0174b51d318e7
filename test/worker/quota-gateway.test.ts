/** Rate limits and quotas through the real gateway app, to the real echo origin, on real counters. */
import { createExecutionContext, env, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createGateway } from "../../src/app.ts";
import { loadRouteTable } from "../../src/config/index.ts";
import { apiKeyPolicy } from "../../src/policies/api-key/index.ts";
import { POLICIES } from "../../src/policies/index.ts";
import { rateLimitPolicy } from "../../src/policies/rate-limit/index.ts";
import { counterName, leases, type QuotaCounter } from "../../src/quota/index.ts";
import { createKey as createKeyThrough, errorOf, gatewayFor, route, testPolicy } from "../support/worker-gateway.ts";

const ADMIN = { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" };

const table = {
  plans: {
    hundred: { quota: { limit: 100, per: "month" } },
    bursty: { rate: { limit: 10, per: "1s", burst: 20 } },
    // Refills one unit per 10 s: a test of the bucket cannot be outrun by a slow (loaded) machine.
    slow: { rate: { limit: 1, per: "10s", burst: 20 } },
    five: { quota: { limit: 5, per: "month" } },
    lenient: { quota: { limit: 5, per: "month" }, onLimiterError: "open" },
  },
  admin: { token: { env: "ADMIN_TOKEN" } },
  routes: [
    route("keyed", "/keyed/*", { auth: { apiKey: true } }),
    route("keyed-costly", "/costly/*", { auth: { apiKey: true }, cost: 25 }),
    route("public", "/public/*", { rateLimit: { plan: "five", by: "ip" } }),
    route("bursty", "/bursty/*", { rateLimit: { plan: "bursty", by: "ip" } }),
    route("slow", "/slow/*", { rateLimit: { plan: "slow", by: "ip" } }),
    route("lenient", "/lenient/*", { rateLimit: { plan: "lenient", by: "ip" } }),
  ],
};
const call = gatewayFor(table);

const createKey = (plan: string) => createKeyThrough(call, { owner: "quota-gateway", plan });

const statuses = (responses: Response[]) => {
  const counts: Record<number, number> = {};
  for (const r of responses) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return counts;
};

/** A fresh client address per test, so tests never share an IP counter. */
const freshIp = () => `198.51.${Math.floor(Math.random() * 256)}.${Math.floor(Math.random() * 256)}`;

describe("exactness", () => {
  it("admits exactly 100 of 300 concurrent requests against a quota of 100", async () => {
    const { key } = await createKey("hundred");
    const responses = await Promise.all(Array.from({ length: 300 }, (_, i) => call(`/keyed/${i}`, { headers: { "x-api-key": key } })));
    expect(statuses(responses)).toEqual({ 200: 100, 429: 200 });
    const refused = responses.find((r) => r.status === 429)!;
    expect((await errorOf(refused)).code).toBe("quota_exceeded");
    await Promise.all(responses.map((r) => (r.bodyUsed ? undefined : r.body?.cancel())));
  });

  it("gives two keys on the same plan 100 each", async () => {
    const [a, b] = await Promise.all([createKey("hundred"), createKey("hundred")]);
    const responses = await Promise.all(Array.from({ length: 240 }, (_, i) =>
      call(`/keyed/${i}`, { headers: { "x-api-key": i % 2 ? a.key : b.key } }).then((r) => ({ key: i % 2 ? "a" : "b", status: r.status }))));
    const admitted = (k: string) => responses.filter((r) => r.key === k && r.status === 200).length;
    expect([admitted("a"), admitted("b")]).toEqual([100, 100]);
  });

  it("weighs each request by the route's cost", async () => {
    const { key } = await createKey("hundred");
    const responses = await Promise.all(Array.from({ length: 6 }, () => call("/costly/x", { headers: { "x-api-key": key } })));
    expect(statuses(responses)).toEqual({ 200: 4, 429: 2 });
  });

  it("admits a burst of 20 over 10/s, then refills at 10/s (controlled clock)", async () => {
    const ip = freshIp();
    const stub = env.QUOTA.get(env.QUOTA.idFromName(counterName.identity("bursty", "ip", ip)));
    const clock = { now: Date.UTC(2026, 5, 1) };
    await runInDurableObject(stub, (counter: QuotaCounter) => { counter.clock = () => clock.now; });
    // Under leases the isolate's clock counts too (it holds the counter's refusal until Retry-After).
    leases.clock = () => clock.now;
    const burst = async (n: number) => statuses(await Promise.all(Array.from({ length: n }, () => call("/bursty/x", { clientIp: ip }))));

    try {
      expect(await burst(25)).toEqual({ 200: 20, 429: 5 });
      clock.now += 100;
      expect(await burst(3)).toEqual({ 200: 1, 429: 2 });
      clock.now += 1000;
      expect(await burst(15)).toEqual({ 200: 10, 429: 5 });
    } finally {
      leases.clock = () => Date.now();
    }
  });
});

describe("responses on limited routes", () => {
  it("carry RateLimit-Policy and RateLimit on an admitted request", async () => {
    const { key } = await createKey("hundred");
    const response = await call("/keyed/1", { headers: { "x-api-key": key } });
    expect(response.status).toBe(200);
    expect(response.headers.get("ratelimit-policy")).toBe(`"hundred-quota";q=100;w=2592000`);
    expect(response.headers.get("ratelimit")).toMatch(/^"hundred-quota";r=99;t=\d+$/);
    await response.body?.cancel();
  });

  it("refuse with 429, Retry-After and the limit that was hit", async () => {
    const ip = freshIp();
    for (let i = 0; i < 5; i++) expect((await call("/public/x", { clientIp: ip })).status).toBe(200);
    const response = await call("/public/x", { clientIp: ip });
    expect(response.status).toBe(429);
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(response.headers.get("ratelimit")).toMatch(/^"five-ip-quota";r=0;t=\d+$/);
    const error = await errorOf(response);
    expect(error.code).toBe("quota_exceeded");
    expect(error.message).toMatch(/^Quota of plan "five" exhausted: 5 per month \(UTC\); it resets at \d{4}-\d\d-01T00:00:00.000Z\.$/);
  });

  it("say rate_limited when the bucket, not the quota, is empty", async () => {
    const ip = freshIp();
    const responses = await Promise.all(Array.from({ length: 21 }, () => call("/slow/x", { clientIp: ip })));
    const refused = responses.find((r) => r.status === 429)!;
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(10);
    const error = await errorOf(refused);
    expect(error.code).toBe("rate_limited");
    // In the table's own units (`"per": "10s"`), not milliseconds.
    expect(error.message).toBe(`Rate limit of plan "slow" exceeded: 1 per 10s, burst 20; retry after ${retryAfter} s.`);
  });
});

describe("configuration", () => {
  it("refuses, as a config problem at its JSON path, a route whose cost its plan can never admit", () => {
    const costly = { ...table, origins: { echo: { url: env.ECHO_ORIGIN } }, routes: [route("heavy", "/heavy", { cost: 6, rateLimit: { plan: "five", by: "ip" } })] };
    expect(() => loadRouteTable(costly)).toThrow(`routes[0] ("heavy").cost: is 6, but plan "five" admits at most 5 at once (quota.limit 5): every request would be refused`);
  });

  it("refuses a key whose plan cannot cover the route's cost, without counting", async () => {
    const app = createGateway(loadRouteTable({ ...table, origins: { echo: { url: env.ECHO_ORIGIN } }, routes: [route("heavy", "/heavy", { cost: 6, auth: { apiKey: true } })] }), { policies: POLICIES });
    const { key } = await createKey("five");
    const ctx = createExecutionContext();
    const response = await app.fetch(new Request("http://gateway.test/heavy", { headers: { "x-api-key": key } }), env, ctx);
    await waitOnExecutionContext(ctx);
    expect(response.status).toBe(403);
    expect((await errorOf(response)).code).toBe("cost_exceeds_plan");
  });
});

describe("client identity", () => {
  it("ignores X-Forwarded-For: rotating it does not escape an IP limit", async () => {
    const ip = freshIp();
    const responses = [];
    for (let i = 0; i < 10; i++) responses.push(await call("/public/x", { clientIp: ip, headers: { "x-forwarded-for": `10.0.0.${i}`, "x-real-ip": `10.1.0.${i}` } }));
    expect(statuses(responses)).toEqual({ 200: 5, 429: 5 });
  });

  it("counts a whole IPv6 /64 as one client and another /64 apart", async () => {
    const prefix = `2001:db8:${Math.floor(Math.random() * 0xffff).toString(16)}:1`;
    const sameNet = await Promise.all(Array.from({ length: 8 }, (_, i) => call("/public/x", { clientIp: `${prefix}::${i + 1}` })));
    expect(statuses(sameNet)).toEqual({ 200: 5, 429: 3 });
    expect((await call("/public/x", { clientIp: `${prefix.replace(/:1$/, ":2")}::1` })).status).toBe(200);
  });

  it("refuses a request without a client address on an IP-limited route", async () => {
    const response = await call("/public/x", { clientIp: "" });
    expect(response.status).toBe(400);
    expect((await errorOf(response)).code).toBe("client_ip_unknown");
  });
});

describe("counting by a JWT claim", () => {
  // A stand-in puts claims on the context in place of the JWT policy (left out of this pipeline), so
  // the quota's own guards are reachable; test/worker/jwt-quota.test.ts runs the real authorizer.
  const claimsFrom = testPolicy(async (c, next) => {
    const sub = c.req.header("x-test-sub");
    if (sub !== undefined) c.set("jwt", sub === "" ? { iss: "test" } : { sub });
    await next();
  });
  const app = createGateway(loadRouteTable({
    ...table,
    origins: { echo: { url: env.ECHO_ORIGIN } },
    authorizers: { main: { type: "jwt", issuer: "https://issuer.test", audience: "api", algorithms: ["HS256"], secret: { env: "JWT_SECRET" } } },
    routes: [route("search", "/search", { auth: { authorizer: "main" }, rateLimit: { plan: "five", by: "jwt:sub" } })],
  }), { policies: [claimsFrom, apiKeyPolicy, rateLimitPolicy] });
  const search = async (sub?: string) => {
    const ctx = createExecutionContext();
    const response = await app.fetch(new Request("http://gateway.test/search", { headers: sub === undefined ? {} : { "x-test-sub": sub } }), env, ctx);
    await waitOnExecutionContext(ctx);
    return response;
  };

  it("gives each subject its own count", async () => {
    const alice = `alice-${crypto.randomUUID()}`, bob = `bob-${crypto.randomUUID()}`;
    const responses = await Promise.all([...Array.from({ length: 7 }, () => search(alice)), ...Array.from({ length: 2 }, () => search(bob))]);
    expect(statuses(responses.slice(0, 7))).toEqual({ 200: 5, 429: 2 });
    expect(statuses(responses.slice(7))).toEqual({ 200: 2 });
  });

  it("refuses a token without the claim (403) and a request without verified claims (401)", async () => {
    const noClaim = await search("");
    expect([noClaim.status, (await errorOf(noClaim)).code]).toEqual([403, "rate_limit_claim_missing"]);
    const noToken = await search();
    expect([noToken.status, (await errorOf(noToken)).code]).toEqual([401, "unauthenticated"]);
  });
});

describe("when the counter cannot answer", () => {
  const app = createGateway(loadRouteTable({ ...table, origins: { echo: { url: env.ECHO_ORIGIN } } }), { policies: POLICIES });
  /** A QUOTA binding whose calls (exact: consume; leases: acquire) go through `behave` first. */
  function quotaBinding(behave: (attempt: number, forward: () => Promise<unknown>) => Promise<unknown>) {
    let attempts = 0;
    const binding = {
      idFromName: (name: string) => env.QUOTA.idFromName(name),
      get: (id: DurableObjectId) => {
        const real = env.QUOTA.get(id);
        return {
          consume: (request: unknown) => behave(++attempts, () => real.consume(request as never)),
          acquire: (request: unknown) => behave(++attempts, () => real.acquire(request as never)),
        };
      },
    };
    return { binding, attempts: () => attempts };
  }
  async function send(path: string, quota: unknown, ip = freshIp()) {
    const ctx = createExecutionContext();
    const request = new Request(`http://gateway.test${path}`, { headers: { "cf-connecting-ip": ip } });
    const response = await app.fetch(request, { ...env, QUOTA: quota }, ctx);
    await waitOnExecutionContext(ctx);
    return response;
  }
  const overloaded = () => Promise.reject(Object.assign(new Error("Durable Object is overloaded."), { overloaded: true }));
  const broken = () => Promise.reject(Object.assign(new Error("Network connection lost."), { retryable: true }));

  it("fails closed by default: 503 limiter_unavailable with Retry-After, never a 500", async () => {
    const quota = quotaBinding(broken);
    const response = await send("/public/x", quota.binding);
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("1");
    expect((await errorOf(response)).code).toBe("limiter_unavailable");
    expect(quota.attempts()).toBe(2);
  });

  it("does not retry an overloaded counter", async () => {
    const quota = quotaBinding(overloaded);
    expect((await send("/public/x", quota.binding)).status).toBe(503);
    expect(quota.attempts()).toBe(1);
  });

  it("admits when the plan says onLimiterError: open", async () => {
    const response = await send("/lenient/x", quotaBinding(broken).binding);
    expect(response.status).toBe(200);
    expect(response.headers.get("ratelimit")).toBeNull();
    await response.body?.cancel();
  });

  it("retries once with the same call id, so a lost answer is not counted twice", async () => {
    const ip = freshIp();
    // The first attempt reaches the counter and counts, then its answer is lost on the way back.
    const lostAnswer = quotaBinding(async (attempt, forward) => { const answer = await forward(); if (attempt === 1) throw new Error("Network connection lost."); return answer; });
    const response = await send("/public/x", lostAnswer.binding, ip);
    expect(response.status).toBe(200);
    expect(lostAnswer.attempts()).toBe(2);
    expect(response.headers.get("ratelimit")).toMatch(/^"five-ip-quota";r=4;/);
    await response.body?.cancel();
    const next = await call("/public/x", { clientIp: ip });
    expect(next.headers.get("ratelimit")).toMatch(/^"five-ip-quota";r=3;/);
    await next.body?.cancel();
  });
});
