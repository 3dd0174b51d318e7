/** The QuotaCounter Durable Object on its own: bucket, calendar quota, exactly-once, persistence. */
import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Limits } from "../../src/quota/decision.ts";
import { APPLIED_RETENTION_MS, type ConsumeRequest, type CounterDecision, type QuotaCounter } from "../../src/quota/durable_object.ts";

const BURSTY: Limits = { rate: { limit: 10, perMs: 1000, burst: 20 } };

/** A counter of its own, with a clock the test moves. */
async function counterWithClock(start: number) {
  const stub = env.QUOTA.get(env.QUOTA.idFromName(`test:${crypto.randomUUID()}`));
  const clock = { now: start };
  await runInDurableObject(stub, (instance: QuotaCounter) => { instance.clock = () => clock.now; });
  return { stub, clock };
}

const freshCounter = () => env.QUOTA.get(env.QUOTA.idFromName(`test:${crypto.randomUUID()}`));

const consume = async (stub: DurableObjectStub<QuotaCounter>, limits: Limits, callId: string = crypto.randomUUID(), cost = 1) =>
  (await stub.consume({ callId, cost, limits } satisfies ConsumeRequest)) as CounterDecision;

async function admitted(stub: DurableObjectStub<QuotaCounter>, limits: Limits, attempts: number): Promise<number> {
  let n = 0;
  for (let i = 0; i < attempts; i++) if ((await consume(stub, limits)).allowed) n++;
  return n;
}

describe("the token bucket", () => {
  it("admits a burst of 20 over a rate of 10/s, then refills at 10 per second", async () => {
    const { stub, clock } = await counterWithClock(Date.UTC(2026, 0, 1));
    expect(await admitted(stub, BURSTY, 25)).toBe(20);

    const refused = await consume(stub, BURSTY);
    expect(refused).toMatchObject({ allowed: false, refusedBy: "rate", retryAfterMs: 100 });

    clock.now += 99;
    expect(await admitted(stub, BURSTY, 1)).toBe(0);
    clock.now += 1;
    expect(await admitted(stub, BURSTY, 3)).toBe(1);

    clock.now += 1000;
    expect(await admitted(stub, BURSTY, 15)).toBe(10);

    clock.now += 60_000; // a long pause refills to the burst, never beyond
    expect(await admitted(stub, BURSTY, 30)).toBe(20);
  });

  it("reports whole tokens left and when the bucket is full again", async () => {
    const { stub } = await counterWithClock(Date.UTC(2026, 0, 1));
    const first = await consume(stub, BURSTY);
    expect(first.rate).toEqual({ limit: 10, perMs: 1000, burst: 20, remaining: 19, resetMs: 100 });
  });

  it("weighs a request by its cost and refuses a cost the bucket cannot hold yet", async () => {
    const { stub, clock } = await counterWithClock(Date.UTC(2026, 0, 1));
    expect((await consume(stub, BURSTY, undefined, 15)).allowed).toBe(true);
    const refused = await consume(stub, BURSTY, undefined, 6);
    expect(refused).toMatchObject({ allowed: false, refusedBy: "rate", retryAfterMs: 100 });
    clock.now += 100;
    expect((await consume(stub, BURSTY, undefined, 6)).allowed).toBe(true);
  });

  it("does not refill when the clock steps back", async () => {
    const { stub, clock } = await counterWithClock(Date.UTC(2026, 0, 1, 12));
    expect(await admitted(stub, BURSTY, 20)).toBe(20);
    clock.now -= 3_600_000;
    expect(await admitted(stub, BURSTY, 1)).toBe(0);
  });
});

describe("the calendar quota", () => {
  const daily = (limit: number): Limits => ({ quota: { limit, period: "day" } });

  it("resets at midnight UTC, not a millisecond before", async () => {
    const { stub, clock } = await counterWithClock(Date.UTC(2026, 10, 25, 23, 59, 59, 998));
    expect(await admitted(stub, daily(3), 5)).toBe(3);
    clock.now += 1; // 23:59:59.999
    const refused = await consume(stub, daily(3));
    expect(refused).toMatchObject({ allowed: false, refusedBy: "quota", retryAfterMs: 1 });
    expect(refused.quota).toMatchObject({ used: 3, remaining: 0, periodEnd: Date.UTC(2026, 10, 26) });
    clock.now += 1; // 00:00:00.000 the next day
    expect(await admitted(stub, daily(3), 5)).toBe(3);
  });

  it("starts a week on Monday 00:00 UTC", async () => {
    const sundayNight = Date.UTC(2026, 10, 29, 23, 59); // Sunday 29 November 2026
    const { stub, clock } = await counterWithClock(sundayNight);
    const weekly: Limits = { quota: { limit: 2, period: "week" } };
    expect(await admitted(stub, weekly, 3)).toBe(2);
    expect((await consume(stub, weekly)).quota!.periodEnd).toBe(Date.UTC(2026, 10, 30));
    clock.now = Date.UTC(2026, 10, 30); // Monday
    expect(await admitted(stub, weekly, 3)).toBe(2);
    clock.now = Date.UTC(2026, 11, 6, 23, 59); // the following Sunday: same week
    expect(await admitted(stub, weekly, 1)).toBe(0);
  });

  it("counts a month from the first day 00:00 UTC to the next", async () => {
    const { stub, clock } = await counterWithClock(Date.UTC(2028, 1, 29, 12)); // 29 February 2028
    const monthly: Limits = { quota: { limit: 1, period: "month" } };
    const first = await consume(stub, monthly);
    expect(first.quota).toMatchObject({ periodStart: Date.UTC(2028, 1, 1), periodEnd: Date.UTC(2028, 2, 1) });
    expect(await admitted(stub, monthly, 1)).toBe(0);
    clock.now = Date.UTC(2028, 2, 1);
    expect(await admitted(stub, monthly, 1)).toBe(1);
  });

  it("refuses a request the quota cannot cover without spending the rate bucket", async () => {
    const { stub } = await counterWithClock(Date.UTC(2026, 0, 1));
    const both: Limits = { rate: { limit: 10, perMs: 1000, burst: 20 }, quota: { limit: 2, period: "hour" } };
    expect(await admitted(stub, both, 5)).toBe(2);
    const refused = await consume(stub, both);
    expect(refused.refusedBy).toBe("quota");
    expect(refused.rate!.remaining).toBe(18);
  });
});

describe("exactly once", () => {
  const monthly: Limits = { quota: { limit: 10, period: "month" } };

  it("returns the stored decision for a repeated call id and counts it once", async () => {
    const stub = freshCounter();
    const first = await consume(stub, monthly, "call-1");
    const again = await consume(stub, monthly, "call-1");
    expect(first).toMatchObject({ allowed: true, replayed: false });
    expect(again).toMatchObject({ allowed: true, replayed: true });
    expect(again.quota!.used).toBe(1);
    expect((await consume(stub, monthly, "call-2")).quota!.used).toBe(2);
  });

  it("replays a refusal as a refusal", async () => {
    const stub = freshCounter();
    const one: Limits = { quota: { limit: 1, period: "month" } };
    await consume(stub, one, "a");
    expect(await consume(stub, one, "b")).toMatchObject({ allowed: false, replayed: false });
    expect(await consume(stub, one, "b")).toMatchObject({ allowed: false, replayed: true });
  });

  it("forgets call ids after the retention, in the alarm", async () => {
    const { stub, clock } = await counterWithClock(Date.now());
    await consume(stub, monthly, "old");
    clock.now += APPLIED_RETENTION_MS + 1;
    await consume(stub, monthly, "recent");
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const ids = await runInDurableObject(stub, (_: QuotaCounter, state) =>
      state.storage.sql.exec<{ call_id: string }>("SELECT call_id FROM applied").toArray().map((r) => r.call_id));
    expect(ids).toEqual(["recent"]);
  });
});

describe("persistence", () => {
  it("keeps counts and call ids across eviction", async () => {
    const stub = freshCounter();
    const monthly: Limits = { quota: { limit: 3, period: "month" } };
    await consume(stub, monthly, "before-1");
    await consume(stub, monthly, "before-2");
    await evictDurableObject(stub);
    expect(await consume(stub, monthly, "before-2")).toMatchObject({ allowed: true, replayed: true });
    expect(await consume(stub, monthly, "after-1")).toMatchObject({ allowed: true, replayed: false });
    expect(await consume(stub, monthly, "after-2")).toMatchObject({ allowed: false, refusedBy: "quota" });
  });

  it("keeps the bucket level across eviction", async () => {
    const stub = freshCounter();
    const slow: Limits = { rate: { limit: 1, perMs: 3_600_000, burst: 3 } };
    expect(await admitted(stub, slow, 2)).toBe(2);
    await evictDurableObject(stub);
    expect(await admitted(stub, slow, 5)).toBe(1);
  });
});
