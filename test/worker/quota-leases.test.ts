/**
 * Counting by leases, the isolate's side: through the gateway (this test isolate's own lease book)
 * and with extra `LeaseBook`s standing in for other isolates on the same real counters. Faults:
 * an isolate that vanishes holding a lease, a counter evicted mid-lease, renewals that fail, clocks
 * skewed by seconds. Several real isolates (workerd services) are in test/e2e/quota-leases.e2e.test.ts.
 */
import { createExecutionContext, env, evictDurableObject, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createGateway } from "../../src/app.ts";
import { loadRouteTable } from "../../src/config/index.ts";
import { POLICIES } from "../../src/policies/index.ts";
import { LEASE_TTL_MS } from "../../src/quota/decision.ts";
import { LeaseBook, leases, type LeaseContext } from "../../src/quota/leases.ts";
import { counterName, resolvePlan, type QuotaCounter, type ResolvedPlan, type Usage } from "../../src/quota/index.ts";
import { ADMIN_HEADERS, createKey as createKeyThrough, errorOf, gatewayFor, route } from "../support/worker-gateway.ts";

const table = {
  plans: {
    hot: { quota: { limit: 1_000_000, per: "month" } },
    hundred: { quota: { limit: 100, per: "month" } },
    twoHundred: { quota: { limit: 200, per: "month" } },
    exact: { quota: { limit: 100, per: "month" }, counting: "exact" },
    thousand: { quota: { limit: 1000, per: "month" } },
    lenient: { quota: { limit: 1000, per: "month" }, onLimiterError: "open" },
  },
  admin: { token: { env: "ADMIN_TOKEN" } },
  routes: [
    route("keyed", "/keyed/*", { auth: { apiKey: true } }),
    route("thousand", "/thousand/*", { rateLimit: { plan: "thousand", by: "ip" } }),
    route("lenient", "/lenient/*", { rateLimit: { plan: "lenient", by: "ip" } }),
  ],
};
const call = gatewayFor(table);
const createKey = (plan: string) => createKeyThrough(call, { owner: "quota-leases", plan });
const useKey = async (key: string) => {
  const response = await call("/keyed/x", { headers: { "x-api-key": key } });
  await response.body?.cancel();
  return response;
};
const usageOf = async (id: string) => (await (await call(`/_gateway/keys/${id}/usage`, { headers: ADMIN_HEADERS })).json()) as {
  quota: { used: number; remaining: number }; leased: number; counterCalls: number; counting: string;
};
const freshIp = () => `198.18.${Math.floor(Math.random() * 256)}.${Math.floor(Math.random() * 256)}`;
const plan = (name: keyof typeof table.plans) => resolvePlan(name, table.plans[name] as never);
const counterUsage = async (counter: string, p: ResolvedPlan) => (await env.QUOTA.get(env.QUOTA.idFromName(counter)).usage(p.limits)) as Usage;

/** Another isolate: a lease book of its own on the same counters, with a request context per call. */
function otherIsolate(book = new LeaseBook()) {
  const pending: Promise<unknown>[] = [];
  const failures: string[] = [];
  const context = (ns: LeaseContext["ns"] = env.QUOTA): LeaseContext => ({
    ns, waitUntil: (p) => { pending.push(p); }, onBackgroundError: (what, _plan, err) => { failures.push(`${what}: ${String(err)}`); },
  });
  return {
    book, failures,
    take: (counter: string, p: ResolvedPlan, cost = 1, ns?: LeaseContext["ns"]) => book.take(context(ns), counter, p, cost),
    /** Waits for this isolate's background work (renewals, releases). */
    idle: async () => { while (pending.length) await Promise.allSettled(pending.splice(0)); },
  };
}

afterEach(() => {
  leases.clock = () => Date.now();
  vi.restoreAllMocks();
});

describe("a hot identity", () => {
  it("costs about one counter call per lease, not one per request", async () => {
    const { id, key } = await createKey("hot");
    for (let i = 0; i < 400; i++) expect((await useKey(key)).status).toBe(200);
    const usage = await usageOf(id);
    expect(usage.quota.used).toBe(400);
    expect(usage.counterCalls / 400).toBeLessThanOrEqual(0.05);
  });

  it("makes concurrent requests of a cold isolate share one call: one for the first, one for those that waited", async () => {
    const { id, key } = await createKey("hot");
    const statuses = await Promise.all(Array.from({ length: 50 }, async () => (await useKey(key)).status));
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect((await usageOf(id)).counterCalls).toBeLessThanOrEqual(3);
  });

  it("a rarely seen identity costs one call per request, as exact counting does: no units it would only give back", async () => {
    const isolate = otherIsolate();
    const clock = { now: Date.now() };
    isolate.book.clock = () => clock.now;
    const counter = `test:${crypto.randomUUID()}`;
    for (let i = 0; i < 12; i++) { await isolate.take(counter, plan("thousand")); clock.now += 20_000; } // less than once in 15 s
    await isolate.idle();
    expect(await counterUsage(counter, plan("thousand"))).toMatchObject({ calls: 12, leased: 0, quota: { used: 12 } });
  });

  it("under counting: exact, still makes one counter call per request", async () => {
    const { id, key } = await createKey("exact");
    for (let i = 0; i < 20; i++) await useKey(key);
    expect(await usageOf(id)).toMatchObject({ counting: "exact", counterCalls: 20, leased: 0, quota: { used: 20 } });
  });
});

describe("exactness on one isolate", () => {
  it("admits exactly the quota, request by request and in bursts", async () => {
    const { key } = await createKey("twoHundred");
    let admitted = 0;
    for (let i = 0; i < 60; i++) if ((await useKey(key)).status === 200) admitted++;
    for (let batch = 0; batch < 30; batch++) {
      const statuses = await Promise.all(Array.from({ length: 7 }, async () => (await useKey(key)).status));
      admitted += statuses.filter((s) => s === 200).length;
    }
    expect(admitted).toBe(200);
  });

  it("counts RateLimit remaining down by one per request, and usage says what was spent", async () => {
    const { id, key } = await createKey("hundred");
    const remaining: number[] = [];
    for (let i = 0; i < 10; i++) remaining.push(Number(/r=(\d+)/.exec((await useKey(key)).headers.get("ratelimit") ?? "")![1]));
    expect(remaining).toEqual([99, 98, 97, 96, 95, 94, 93, 92, 91, 90]);
    expect(await usageOf(id)).toMatchObject({ quota: { used: 10, remaining: 90 }, leased: 0 });
  });
});

describe("several isolates on one counter", () => {
  it("never admits more than the quota, and only what the other isolate holds is missing", async () => {
    const counter = `test:${crypto.randomUUID()}`;
    const hundred = plan("hundred");
    const a = otherIsolate(), b = otherIsolate();
    const results = await Promise.all(Array.from({ length: 300 }, (_, i) => (i % 2 ? a : b).take(counter, hundred)));
    const admitted = results.filter((r) => r.ok && r.decision.allowed).length;
    const held = a.book.unspent(counter) + b.book.unspent(counter);
    expect(admitted + held).toBe(100);
    expect(admitted).toBeLessThanOrEqual(100);
    // Every unit was either spent or is still held: a request refused somewhere while another isolate holds units.
    await Promise.all([a.idle(), b.idle()]);
  });

  it("shows units leased to another isolate as used in usage, and says how many", async () => {
    const { id, key } = await createKey("hot");
    const other = otherIsolate();
    for (let i = 0; i < 30; i++) await other.take(counterName.key(id), plan("hot"));
    await other.idle();
    const outThere = other.book.unspent(counterName.key(id));
    expect(outThere).toBeGreaterThan(0);
    await useKey(key);
    const usage = await usageOf(id);
    expect(usage.quota.used).toBe(31 + outThere);
    expect(usage.leased).toBeGreaterThanOrEqual(outThere);
  });
});

describe("faults", () => {
  it("an isolate that vanishes holding a lease strands at most that lease: never an over-admission", async () => {
    const counter = `test:${crypto.randomUUID()}`;
    const thousand = plan("thousand");
    const doomed = otherIsolate();
    for (let i = 0; i < 40; i++) await doomed.take(counter, thousand);
    await doomed.idle();
    const stranded = doomed.book.unspent(counter);
    expect(stranded).toBeGreaterThan(0);
    // Documented bound: a lease holds at most 1.5x its target, the target at most max(1 s of spend, 32).
    expect(stranded).toBeLessThanOrEqual(Math.ceil(1.5 * Math.max(40, 32)));
    doomed.book.forget(); // the isolate is gone; nothing reports its units

    const survivor = otherIsolate();
    let admitted = 40;
    for (let i = 0; i < 1100; i++) {
      const r = await survivor.take(counter, thousand);
      if (r.ok && r.decision.allowed) admitted++;
    }
    expect(admitted).toBe(1000 - stranded);
    expect((await counterUsage(counter, thousand)).leased).toBeGreaterThanOrEqual(stranded);
  });

  it("a counter evicted mid-lease keeps the lease: the quota is still admitted exactly", async () => {
    const { id, key } = await createKey("hundred");
    let admitted = 0;
    for (let i = 0; i < 30; i++) if ((await useKey(key)).status === 200) admitted++;
    expect(leases.unspent(counterName.key(id))).toBeGreaterThan(0);
    await evictDurableObject(env.QUOTA.get(env.QUOTA.idFromName(counterName.key(id))));
    for (let i = 0; i < 100; i++) if ((await useKey(key)).status === 200) admitted++;
    expect(admitted).toBe(100);
  });

  describe("renewals that fail", () => {
    const app = createGateway(loadRouteTable({ ...table, origins: { echo: { url: env.ECHO_ORIGIN } } }), { policies: POLICIES });
    /** A QUOTA binding whose acquire answers `working` times, then fails like a lost connection. */
    function failingAfter(working: number) {
      let calls = 0;
      return {
        idFromName: (name: string) => env.QUOTA.idFromName(name),
        get: (doId: DurableObjectId) => {
          const real = env.QUOTA.get(doId);
          return {
            acquire: (request: never) => (++calls <= working ? real.acquire(request) : Promise.reject(new Error("Network connection lost."))),
            release: (request: never) => real.release(request),
          };
        },
      };
    }
    async function drive(path: string, quota: unknown, ip: string) {
      const ctx = createExecutionContext();
      const response = await app.fetch(new Request(`http://gateway.test${path}`, { headers: { "cf-connecting-ip": ip } }), { ...env, QUOTA: quota }, ctx);
      await waitOnExecutionContext(ctx);
      await response.body?.cancel();
      return response;
    }

    it.each([
      ["closed", "/thousand/x", 503],
      ["open", "/lenient/x", 200],
    ] as const)("keep spending the lease, then fail %s when it runs dry", async (_mode, path, dry) => {
      const warnings: string[] = [];
      vi.spyOn(console, "warn").mockImplementation((line: unknown) => { warnings.push(String(line)); });
      vi.spyOn(console, "error").mockImplementation(() => {});
      const quota = failingAfter(2);
      const ip = freshIp();
      const responses: Response[] = [];
      for (let i = 0; i < 60; i++) responses.push(await drive(path, quota, ip));
      const statuses = responses.map((r) => r.status);
      const firstDry = statuses.findIndex((s, i) => i > 1 && (s !== 200 || responses[i]!.headers.get("ratelimit") === null));
      expect(firstDry).toBeGreaterThan(2); // spent from the lease after the renewal failed
      expect(warnings.some((w) => w.includes("lease_renewal_failed"))).toBe(true);
      expect(statuses[firstDry]).toBe(dry);
      if (dry === 503) expect(responses[firstDry]!.headers.get("retry-after")).toBe("1");
      else expect(responses[firstDry]!.headers.get("ratelimit")).toBeNull();
    });
  });

  it("a request waiting on another request's call that never settles stops waiting and calls itself", async () => {
    let calls = 0;
    const hanging = {
      idFromName: (name: string) => env.QUOTA.idFromName(name),
      get: (doId: DurableObjectId) => ({
        // The first call is lost with its request context: it never settles, not even by timeout.
        acquire: (request: never) => (++calls === 1 ? new Promise(() => {}) : env.QUOTA.get(doId).acquire(request)),
      }),
    } as unknown as LeaseContext["ns"];
    const isolate = otherIsolate(new LeaseBook({ sharedWaitMs: 50 }));
    const counter = `test:${crypto.randomUUID()}`;
    void isolate.take(counter, plan("hundred"), 1, hanging);
    const started = Date.now();
    const waiter = await isolate.take(counter, plan("hundred"), 1, hanging);
    expect(waiter).toMatchObject({ ok: true, decision: { allowed: true } });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(calls).toBe(2);
  });
});

describe("lease lifetime", () => {
  it("lets an expired lease go and gives its unspent units back on a later request", async () => {
    const isolate = otherIsolate();
    const clock = { now: Date.now() };
    isolate.book.clock = () => clock.now;
    const counter = `test:${crypto.randomUUID()}`, other = `test:${crypto.randomUUID()}`;
    for (let i = 0; i < 20; i++) { await isolate.take(counter, plan("thousand")); clock.now += 10; }
    await isolate.idle();
    expect(isolate.book.unspent(counter)).toBeGreaterThan(0);
    clock.now += LEASE_TTL_MS; // past any lease's life
    await isolate.take(other, plan("thousand")); // any request sweeps
    await isolate.idle();
    expect(await counterUsage(counter, plan("thousand"))).toMatchObject({ leased: 0, quota: { used: 20 } });
  });

  it("keeps at most its bound of identities, giving back what the ones it lets go held", async () => {
    const isolate = otherIsolate(new LeaseBook({ maxHoldings: 3 }));
    const clock = { now: Date.now() };
    isolate.book.clock = () => clock.now;
    const counters = Array.from({ length: 6 }, () => `test:${crypto.randomUUID()}`);
    for (const counter of counters) {
      for (let i = 0; i < 5; i++) { await isolate.take(counter, plan("thousand")); clock.now += 5; }
      clock.now += 1_000; // a sweep each time
    }
    await isolate.take(counters[5]!, plan("thousand"));
    await isolate.idle();
    expect(isolate.book.size).toBeLessThanOrEqual(3);
    const first = await counterUsage(counters[0]!, plan("thousand"));
    expect(first).toMatchObject({ leased: 0, quota: { used: 5 } });
  });
});

describe("clocks", () => {
  const minute = resolvePlan("perMinute", { quota: { limit: 100, per: "minute" } });
  const boundary = Date.UTC(2026, 5, 1, 12, 1);

  it.each([
    ["in step", 0],
    ["5 s ahead of the isolate", 5_000],
    ["5 s behind the isolate", -5_000],
  ])("with the counter's clock %s, no unit of a period is spent in the next one", async (_label, skew) => {
    const isolate = otherIsolate();
    const counter = `test:${crypto.randomUUID()}`;
    const local = { now: boundary - 8_000 - skew }; // the counter reads boundary - 8 s
    isolate.book.clock = () => local.now;
    await runInDurableObject(env.QUOTA.get(env.QUOTA.idFromName(counter)), (c: QuotaCounter) => { c.clock = () => local.now + skew; });
    const admitted = async (n: number) => {
      let ok = 0;
      for (let i = 0; i < n; i++) { const r = await isolate.take(counter, minute); if (r.ok && r.decision.allowed) ok++; local.now += 1; }
      return ok;
    };
    expect(await admitted(20)).toBe(20);
    expect(isolate.book.unspent(counter)).toBeGreaterThan(0); // it holds units of this minute
    local.now += 8_000; // the counter is past the boundary
    expect(await admitted(150)).toBe(100);
  });

  it("stops spending before the lease's end even if the isolate's clock steps back by less than the margin", async () => {
    const isolate = otherIsolate();
    const counter = `test:${crypto.randomUUID()}`;
    const real = { now: boundary - 3_000 };
    isolate.book.clock = () => real.now;
    await runInDurableObject(env.QUOTA.get(env.QUOTA.idFromName(counter)), (c: QuotaCounter) => { c.clock = () => real.now; });
    for (let i = 0; i < 20; i++) await isolate.take(counter, minute);
    expect(isolate.book.unspent(counter)).toBeGreaterThan(0);
    // Really the boundary has passed; the isolate's clock lags 400 ms, just under the 500 ms margin.
    real.now = boundary + 1;
    isolate.book.clock = () => real.now - 400;
    let ok = 0;
    for (let i = 0; i < 150; i++) { const r = await isolate.take(counter, minute); if (r.ok && r.decision.allowed) ok++; }
    expect(ok).toBe(100);
  });
});

describe("refusals", () => {
  it("are decided at the counter and held briefly, with the counter's Retry-After", async () => {
    const ip = freshIp();
    const five = gatewayFor({ ...table, plans: { five: { quota: { limit: 5, per: "month" } } }, routes: [route("five", "/five", { rateLimit: { plan: "five", by: "ip" } })] });
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const response = await five("/five", { clientIp: ip });
      statuses.push(response.status);
      if (response.status === 429) {
        // The counter's answer: the rest of the calendar month (UTC), not a lease's short hold. (It
        // asserted "more than a day" before, which failed on every month's last day.)
        const now = new Date();
        const toMonthEnd = Math.ceil((Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1) - now.getTime()) / 1000);
        const retryAfter = Number(response.headers.get("retry-after"));
        expect(retryAfter).toBeGreaterThan(toMonthEnd - 60);
        expect(retryAfter).toBeLessThanOrEqual(toMonthEnd + 1);
        expect((await errorOf(response)).code).toBe("quota_exceeded");
      } else await response.body?.cancel();
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
  });
});
