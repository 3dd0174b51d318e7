/** Choosing a target: smooth weighted round robin, weighted rendezvous hashing, failover among the available. */
import { describe, expect, it } from "vitest";
import { OriginSchema } from "../../../src/config/origins.ts";
import { chooseTarget, compileUpstream, hash32, secondsUntilAvailable, type Upstream } from "../../../src/upstream/targets.ts";

const upstreamOf = (weights: Record<string, number>, extra: Record<string, unknown> = {}): Upstream =>
  compileUpstream("users", OriginSchema.parse({ targets: Object.entries(weights).map(([name, weight]) => ({ url: `https://${name}.internal`, weight })), ...extra }));

const name = (label: string | undefined) => label?.split(".")[0];

function counts(picks: (string | undefined)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const pick of picks) out[pick ?? "none"] = (out[pick ?? "none"] ?? 0) + 1;
  return out;
}

describe("weighted choice", () => {
  it("follows the weights exactly: 95/5 over 10,000 requests is 9,500 and 500", () => {
    const upstream = upstreamOf({ a: 95, canary: 5 });
    const picks = Array.from({ length: 10_000 }, () => name(chooseTarget(upstream, undefined, 0)?.label));
    expect(counts(picks)).toEqual({ a: 9500, canary: 500 });
  });

  it("spreads a small weight out instead of sending it in a burst", () => {
    const upstream = upstreamOf({ a: 3, b: 1 });
    expect(Array.from({ length: 8 }, () => name(chooseTarget(upstream, undefined, 0)?.label)).join(" ")).toBe("a a b a a a b a");
  });

  it("never chooses a drained target (weight 0)", () => {
    const upstream = upstreamOf({ a: 1, drained: 0 });
    expect(counts(Array.from({ length: 50 }, () => name(chooseTarget(upstream, undefined, 0)?.label)))).toEqual({ a: 50 });
  });

  it("shares an unavailable target's traffic among the others in proportion to their weights", () => {
    const upstream = upstreamOf({ a: 2, b: 1, c: 1 }, { circuitBreaker: { consecutiveFailures: 1, openSec: 60 } });
    upstream.targets[2]!.breaker!.failed(0); // c out
    expect(counts(Array.from({ length: 300 }, () => name(chooseTarget(upstream, undefined, 1)?.label)))).toEqual({ a: 200, b: 100 });
    upstream.targets[0]!.breaker!.failed(0); // a out too
    expect(counts(Array.from({ length: 10 }, () => name(chooseTarget(upstream, undefined, 1)?.label)))).toEqual({ b: 10 });
  });

  it("leaves out excluded targets (a retry's) and unhealthy ones, and finds none when all are out", () => {
    const upstream = upstreamOf({ a: 1, b: 1 });
    const [a, b] = upstream.targets;
    expect(chooseTarget(upstream, undefined, 0, undefined, [a!])).toBe(b);
    expect(chooseTarget(upstream, undefined, 0, new Map([[b!.key, 10]]), [a!])).toBeUndefined();
    // An expired verdict (until <= now) no longer counts.
    expect(chooseTarget(upstream, undefined, 10, new Map([[b!.key, 10]]), [a!])).toBe(b);
  });
});

describe("sticky choice (weighted rendezvous hashing)", () => {
  const keys = Array.from({ length: 10_000 }, (_, i) => hash32(`key-${i}`));

  it("gives each target a share of the keys close to its weight", () => {
    const upstream = upstreamOf({ a: 95, canary: 5 });
    const placed = counts(keys.map((k) => name(chooseTarget(upstream, k, 0)?.label)));
    expect(Math.abs(placed.canary! - 500)).toBeLessThan(100);
  });

  it("never moves a key while the weights and targets stay the same", () => {
    const upstream = upstreamOf({ a: 1, b: 1, c: 1 });
    const first = keys.map((k) => chooseTarget(upstream, k, 0));
    // Interleaved weighted picks in between change nothing for keyed ones.
    for (let i = 0; i < 100; i++) chooseTarget(upstream, undefined, 0);
    expect(keys.map((k) => chooseTarget(upstream, k, 0))).toEqual(first);
  });

  it("moves only the keys of a target that is out, and moves them back when it recovers", () => {
    const upstream = upstreamOf({ a: 1, b: 1, c: 1 });
    const before = keys.map((k) => name(chooseTarget(upstream, k, 0)?.label));
    const down = new Map([[upstream.targets[2]!.key, 100]]);
    const during = keys.map((k) => name(chooseTarget(upstream, k, 0, down)?.label));
    for (let i = 0; i < keys.length; i++) {
      if (before[i] === "c") expect(during[i]).not.toBe("c");
      else expect(during[i]).toBe(before[i]);
    }
    expect(keys.map((k) => name(chooseTarget(upstream, k, 200, down)?.label))).toEqual(before);
  });

  it("moves only keys toward the target whose weight grew (a canary ramping 5 -> 10)", () => {
    const five = upstreamOf({ a: 95, canary: 5 }), ten = upstreamOf({ a: 90, canary: 10 });
    let moved = 0;
    for (const k of keys) {
      const from = name(chooseTarget(five, k, 0)?.label), to = name(chooseTarget(ten, k, 0)?.label);
      if (from === "canary") expect(to).toBe("canary");
      if (from !== to) moved++;
    }
    expect(moved).toBeGreaterThan(300);
    expect(moved).toBeLessThan(700);
  });
});

describe("Retry-After when every target is out", () => {
  it("is the time until the first circuit half-opens", () => {
    const upstream = upstreamOf({ a: 1, b: 1 }, { circuitBreaker: { consecutiveFailures: 1, openSec: 30 } });
    upstream.targets[0]!.breaker!.failed(0);
    upstream.targets[1]!.breaker!.failed(10_000);
    expect(secondsUntilAvailable(upstream, 12_500)).toBe(18);
  });

  it("is the health check interval for targets out on health", () => {
    const upstream = upstreamOf({ a: 1 }, { healthCheck: { path: "/h", intervalSec: 15 } });
    expect(secondsUntilAvailable(upstream, 0, new Map([[upstream.targets[0]!.key, 90_000]]))).toBe(15);
  });
});
