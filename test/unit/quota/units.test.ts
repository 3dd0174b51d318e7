/** Pure pieces of quotas: durations, calendar periods, client identities, header fields. */
import { describe, expect, it } from "vitest";
import { addressKey, claimKey } from "../../../src/quota/identity.ts";
import { rateLimitFields, retryAfterSeconds } from "../../../src/quota/headers.ts";
import { durationMs, periodWindow } from "../../../src/quota/periods.ts";

describe("durations", () => {
  it("reads ms, s, m and h", () => {
    expect([durationMs("500ms"), durationMs("1s"), durationMs("2m"), durationMs("1h")]).toEqual([500, 1000, 120_000, 3_600_000]);
  });
  it("throws a TypeError for anything else", () => {
    expect(() => durationMs("1d")).toThrow(TypeError);
    expect(() => durationMs("0s")).toThrow(TypeError);
  });
});

describe("calendar periods (UTC)", () => {
  const at = Date.UTC(2026, 10, 25, 13, 47, 12, 345); // Wednesday 25 November 2026
  it.each([
    ["minute", Date.UTC(2026, 10, 25, 13, 47), Date.UTC(2026, 10, 25, 13, 48)],
    ["hour", Date.UTC(2026, 10, 25, 13), Date.UTC(2026, 10, 25, 14)],
    ["day", Date.UTC(2026, 10, 25), Date.UTC(2026, 10, 26)],
    ["week", Date.UTC(2026, 10, 23), Date.UTC(2026, 10, 30)],
    ["month", Date.UTC(2026, 10, 1), Date.UTC(2026, 11, 1)],
  ] as const)("a %s runs from its first millisecond to the next one's", (period, start, end) => {
    expect(periodWindow(period, at)).toEqual({ start, end });
  });
  it("puts Sunday in the week that began the Monday before", () => {
    expect(periodWindow("week", Date.UTC(2026, 10, 29, 23, 59, 59, 999)).start).toBe(Date.UTC(2026, 10, 23));
    expect(periodWindow("week", Date.UTC(2026, 10, 30)).start).toBe(Date.UTC(2026, 10, 30));
  });
  it("rolls a December month into January", () => {
    expect(periodWindow("month", Date.UTC(2026, 11, 31, 23))).toEqual({ start: Date.UTC(2026, 11, 1), end: Date.UTC(2027, 0, 1) });
  });
});

describe("client address identity", () => {
  it("keeps an IPv4 address as it is", () => {
    expect(addressKey("203.0.113.7")).toBe("203.0.113.7");
  });
  it("groups IPv6 addresses by their /64", () => {
    expect(addressKey("2001:db8:1:2:aaaa:bbbb:cccc:dddd")).toBe("2001:db8:1:2::/64");
    expect(addressKey("2001:0DB8:0001:0002::1")).toBe("2001:db8:1:2::/64");
    expect(addressKey("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(addressKey("::1")).toBe("0:0:0:0::/64");
  });
  it("counts an IPv4-mapped IPv6 address as the IPv4 address", () => {
    expect(addressKey("::ffff:203.0.113.7")).toBe("203.0.113.7");
    expect(addressKey("::ffff:cb00:7107")).toBe("203.0.113.7");
  });
  it("refuses what is not an address", () => {
    for (const bad of ["", "localhost", "1.2.3", "256.1.1.1", "01.2.3.4", "1:2:3:4:5:6:7:8:9", "1::2::3", "fe80::1%eth0", "gggg::1", "1.2.3.4, 5.6.7.8"]) {
      expect(addressKey(bad), bad).toBeNull();
    }
  });
});

describe("claim identity", () => {
  it("uses a string or finite number claim", () => {
    expect(claimKey({ sub: "user-1" }, "sub")).toBe("user-1");
    expect(claimKey({ tenant: 42 }, "tenant")).toBe("42");
  });
  it("refuses an absent, empty or structured claim", () => {
    expect(claimKey({}, "sub")).toBeNull();
    expect(claimKey({ sub: "" }, "sub")).toBeNull();
    expect(claimKey({ sub: ["a"] }, "sub")).toBeNull();
    expect(claimKey(undefined, "sub")).toBeNull();
  });
});

describe("RateLimit header fields", () => {
  it("advertise each limit's policy and what is left", () => {
    const fields = rateLimitFields("free", {
      allowed: true, retryAfterMs: 0,
      rate: { limit: 10, perMs: 1000, burst: 20, remaining: 19, resetMs: 100 },
      quota: { limit: 1000, period: "day", used: 1, remaining: 999, periodStart: 0, periodEnd: 0, resetMs: 43_210_500 },
    });
    expect(fields.policy.join(", ")).toBe(`"free-rate";q=10;w=1, "free-quota";q=1000;w=86400`);
    expect(fields.current.join(", ")).toBe(`"free-rate";r=19;t=1, "free-quota";r=999;t=43211`);
  });
  it("express a sub-second refill per whole second", () => {
    const fields = rateLimitFields("fast", { allowed: true, retryAfterMs: 0, rate: { limit: 5, perMs: 500, burst: 5, remaining: 5, resetMs: 0 } });
    expect(fields.policy).toEqual([`"fast-rate";q=10;w=1`]);
  });
  it("never tell a client to retry in under a second", () => {
    expect([retryAfterSeconds(0), retryAfterSeconds(100), retryAfterSeconds(1001)]).toEqual(["1", "1", "2"]);
  });
});
