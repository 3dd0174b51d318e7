/** The QuotaCounter's side of leases on its own: grant sizing, never more than it has, settling, periods, persistence. */
import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { LEASE_MIN_TTL_MS, LEASE_SKEW_MARGIN_MS, LEASE_TTL_MS, type Limits } from "../../src/quota/decision.ts";
import { LEASE_RETENTION_MS, type AcquireRequest, type Grant, type QuotaCounter, type Usage } from "../../src/quota/durable_object.ts";

/** A counter of its own, with a clock the test moves. */
async function counterWithClock(start: number) {
  const stub = env.QUOTA.get(env.QUOTA.idFromName(`test:${crypto.randomUUID()}`));
  const clock = { now: start };
  await runInDurableObject(stub, (instance: QuotaCounter) => { instance.clock = () => clock.now; });
  return { stub, clock };
}

type Ask = Partial<Omit<AcquireRequest, "limits">>;
const acquire = async (stub: DurableObjectStub<QuotaCounter>, limits: Limits, ask: Ask = {}) => {
  const min = ask.min ?? 1, need = ask.need ?? min;
  return (await stub.acquire({ callId: crypto.randomUUID(), limits, min, need, want: ask.want ?? need, ...ask } satisfies AcquireRequest)) as Grant;
};
const usage = async (stub: DurableObjectStub<QuotaCounter>, limits: Limits) => (await stub.usage(limits)) as Usage;
const hour = (limit: number): Limits => ({ quota: { limit, period: "hour" } });
const T0 = Date.UTC(2026, 2, 10, 12, 0, 0);

describe("a lease grant", () => {
  it("grants the waiting requests' units whole and the speculative part at most a quarter of what is left", async () => {
    const { stub } = await counterWithClock(T0);
    const first = await acquire(stub, hour(100), { min: 1, need: 10, want: 1000 });
    expect(first.units).toBe(10 + Math.floor(90 / 4)); // 10 waiting, then a quarter of the 90 left
    expect(first.decision).toMatchObject({ allowed: true, quota: { used: 32, remaining: 68 } });
    expect(first.ttlMs).toBe(LEASE_TTL_MS);
    expect(typeof first.lease).toBe("string");
  });

  it("hands out the last units of a quota one at a time, and never more than it has", async () => {
    const { stub } = await counterWithClock(T0);
    const sizes: number[] = [];
    for (;;) {
      const grant = await acquire(stub, hour(40), { min: 1, need: 1, want: 1000 });
      if (grant.units === 0) break;
      sizes.push(grant.units);
    }
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(40);
    expect(sizes.slice(-4)).toEqual([1, 1, 1, 1]); // fewer than 4 left: only what a request waits for
    for (let i = 1; i < sizes.length; i++) expect(sizes[i]).toBeLessThanOrEqual(sizes[i - 1]!);
  });

  it("refuses the waiting request's units exactly as consume refuses them", async () => {
    const { stub } = await counterWithClock(T0);
    await acquire(stub, hour(5), { min: 4, need: 4, want: 4 });
    const refused = await acquire(stub, hour(5), { min: 2, need: 2, want: 50 });
    expect(refused.units).toBe(0);
    expect(refused.lease).toBeNull();
    expect(refused.decision).toMatchObject({ allowed: false, refusedBy: "quota", retryAfterMs: Date.UTC(2026, 2, 10, 13) - T0 });
    expect((await acquire(stub, hour(5), { min: 1 })).units).toBe(1);
  });

  it("takes the units from the token bucket too, and refuses with the bucket's Retry-After", async () => {
    const { stub } = await counterWithClock(T0);
    const bursty: Limits = { rate: { limit: 10, perMs: 1000, burst: 20 } };
    expect((await acquire(stub, bursty, { min: 1, need: 20, want: 20 })).units).toBe(20);
    const refused = await acquire(stub, bursty);
    expect(refused.decision).toMatchObject({ allowed: false, refusedBy: "rate", retryAfterMs: 100 });
  });

  it("gives the same grant to a repeated call id and grants nothing twice", async () => {
    const { stub } = await counterWithClock(T0);
    const request: AcquireRequest = { callId: "lease-call-1", limits: hour(100), min: 1, need: 1, want: 8 };
    const first = (await stub.acquire(request)) as Grant;
    const again = (await stub.acquire(request)) as Grant;
    expect(again).toEqual({ ...first, replayed: true });
    expect((await usage(stub, hour(100))).quota!.used).toBe(first.units);
  });

  it("never lets a lease live past its quota period's end, and close to it grants only what is waiting", async () => {
    const end = Date.UTC(2026, 2, 10, 13);
    const { stub, clock } = await counterWithClock(end - 4_000);
    const near = await acquire(stub, hour(100), { min: 1, need: 1, want: 50 });
    expect(near.ttlMs).toBe(4_000);
    clock.now = end - LEASE_MIN_TTL_MS + 1; // no speculation: the waiting requests' units only
    const last = await acquire(stub, hour(100), { min: 1, need: 3, want: 50 });
    expect([last.units, last.ttlMs]).toEqual([3, LEASE_MIN_TTL_MS - 1]);
    clock.now = end - LEASE_SKEW_MARGIN_MS; // too short for waiters to spend: the asking request's unit only
    const final = await acquire(stub, hour(100), { min: 1, need: 3, want: 50 });
    expect([final.units, final.ttlMs]).toEqual([1, LEASE_SKEW_MARGIN_MS]);
  });
});

describe("topping a lease up", () => {
  it("adds to the same lease and extends its life", async () => {
    const { stub, clock } = await counterWithClock(T0);
    const first = await acquire(stub, hour(1000), { min: 1, need: 1, want: 10 });
    clock.now += 5_000;
    const more = await acquire(stub, hour(1000), { min: 0, need: 0, want: 10, lease: { id: first.lease!, spent: 7 } });
    expect(more.lease).toBe(first.lease);
    expect(more.units).toBe(10);
    expect((await usage(stub, hour(1000))).leased).toBe(20 - 7);
  });

  it("starts a new lease when the old one expired or its period ended, and the old one's units stay spent", async () => {
    const { stub, clock } = await counterWithClock(T0);
    const first = await acquire(stub, hour(1000), { min: 1, need: 1, want: 10 });
    clock.now += LEASE_TTL_MS + 1;
    const next = await acquire(stub, hour(1000), { min: 1, need: 1, want: 10, lease: { id: first.lease!, spent: 2 } });
    expect(next.lease).not.toBe(first.lease);
    // A late report of the closed lease gives nothing back.
    await stub.release({ limits: hour(1000), id: first.lease!, unused: 8 });
    expect((await usage(stub, hour(1000))).quota!.used).toBe(20);
  });

  it("keeps a lease open across eviction", async () => {
    const { stub } = await counterWithClock(T0);
    const first = await acquire(stub, hour(1000), { min: 1, need: 1, want: 10 });
    await evictDurableObject(stub);
    await runInDurableObject(stub, (instance: QuotaCounter) => { instance.clock = () => T0 + 1_000; });
    const more = await acquire(stub, hour(1000), { min: 0, need: 0, want: 5, lease: { id: first.lease!, spent: 10 } });
    expect([more.lease, more.units]).toEqual([first.lease, 5]);
  });
});

describe("giving units back", () => {
  it("gives a lease's unspent units back once, to the quota and the bucket", async () => {
    const { stub } = await counterWithClock(T0);
    const limits: Limits = { rate: { limit: 1, perMs: 3_600_000, burst: 50 }, quota: { limit: 100, period: "hour" } };
    const lease = await acquire(stub, limits, { min: 1, need: 40, want: 40 });
    await stub.release({ limits, id: lease.lease!, unused: 15 });
    await stub.release({ limits, id: lease.lease!, unused: 15 });
    const now = await usage(stub, limits);
    expect([now.quota!.used, now.rate!.remaining, now.leased]).toEqual([25, 25, 0]);
  });

  it("never gives back more than the lease had unreported", async () => {
    const { stub } = await counterWithClock(T0);
    const lease = await acquire(stub, hour(100), { min: 1, need: 1, want: 10 });
    await acquire(stub, hour(100), { min: 0, need: 0, want: 0, lease: { id: lease.lease!, spent: 6 } });
    await stub.release({ limits: hour(100), id: lease.lease!, unused: 1000 });
    expect((await usage(stub, hour(100))).quota!.used).toBe(6);
  });

  it("settles a lease let go in the same call that grants the next one", async () => {
    const { stub } = await counterWithClock(T0);
    const old = await acquire(stub, hour(10), { min: 1, need: 10, want: 10 });
    expect((await acquire(stub, hour(10))).units).toBe(0); // all ten are out
    const next = await acquire(stub, hour(10), { min: 1, need: 1, want: 1, settle: { id: old.lease!, unused: 4 } });
    expect(next.units).toBe(1);
    expect((await usage(stub, hour(10))).quota!.used).toBe(7);
  });

  it("does not credit a unit of an earlier period to the new one", async () => {
    const { stub, clock } = await counterWithClock(Date.UTC(2026, 2, 10, 12, 59, 50));
    const old = await acquire(stub, hour(10), { min: 1, need: 5, want: 5 });
    clock.now = Date.UTC(2026, 2, 10, 13, 0, 1);
    expect((await acquire(stub, hour(10), { min: 1, need: 3, want: 3 })).units).toBe(3);
    await stub.release({ limits: hour(10), id: old.lease!, unused: 4 });
    expect((await usage(stub, hour(10))).quota!.used).toBe(3);
  });
});

describe("the lease table", () => {
  it("reports units out on leases, beyond those of the requests that waited for them, and the calls answered", async () => {
    const { stub } = await counterWithClock(T0);
    await acquire(stub, hour(100), { min: 1, need: 1, want: 4 });
    await acquire(stub, hour(100), { min: 1, need: 2, want: 3 });
    expect(await usage(stub, hour(100))).toMatchObject({ leased: 3 + 1, calls: 2, quota: { used: 7 } });
  });

  it("forgets settled leases and leases nobody reported after the retention, in the alarm", async () => {
    const { stub, clock } = await counterWithClock(T0);
    const settled = await acquire(stub, hour(100), { min: 1, need: 2, want: 2 });
    await stub.release({ limits: hour(100), id: settled.lease!, unused: 0 });
    await acquire(stub, hour(100), { min: 1, need: 3, want: 3 }); // never reported
    const rows = () => runInDurableObject(stub, (_: QuotaCounter, state) => state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM leases").one().n);
    clock.now += LEASE_TTL_MS + 1;
    await runDurableObjectAlarm(stub);
    expect(await rows()).toBe(1);
    clock.now += LEASE_RETENTION_MS;
    await runDurableObjectAlarm(stub);
    expect(await rows()).toBe(0);
  });

  it("refuses a malformed acquire loudly", async () => {
    const { stub } = await counterWithClock(T0);
    const error = await (async () => stub.acquire({ callId: "x", limits: hour(5), min: 3, need: 2, want: 2 }))().then(() => null, (err: unknown) => err);
    expect(String(error)).toMatch(/min, need and want/);
  });
});
