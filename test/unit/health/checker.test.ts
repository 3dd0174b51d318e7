/** When the checker probes, and what it probes. */
import { describe, expect, it } from "vitest";
import { OriginSchema } from "../../../src/config/origins.ts";
import { checkedTargets, probeOffsets, SERVICE_PROBE_HOST } from "../../../src/health/checker.ts";

describe("probe offsets within the cron's minute", () => {
  it("runs a sub-minute interval at each of its offsets", () => {
    expect(probeOffsets(30, 0)).toEqual([0, 30]);
    expect(probeOffsets(15, 0)).toEqual([0, 15, 30, 45]);
  });

  it("runs a longer interval once in every interval/60 minutes", () => {
    const runs = Array.from({ length: 10 }, (_, m) => probeOffsets(300, m * 60_000).length);
    expect(runs).toEqual([1, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
  });
});

describe("the checked targets of a table", () => {
  it("lists every target of every health-checked origin with its probe URL, and nothing else", () => {
    const origins = {
      plain: OriginSchema.parse({ url: "http://a.internal/api/" }),
      users: OriginSchema.parse({ targets: [{ url: "http://b.internal/v1" }, { service: "USERS" }], healthCheck: { path: "/healthz?deep=1" } }),
      auth: OriginSchema.parse({ service: "AUTH", hostHeader: "auth.internal", healthCheck: { path: "/ping", intervalSec: 60 } }),
    };
    expect(checkedTargets(origins).map((t) => [t.key, t.url, t.service ?? null, t.intervalSec])).toEqual([
      ["users http://b.internal/v1", "http://b.internal/v1/healthz?deep=1", null, 30],
      ["users service:USERS", `https://${SERVICE_PROBE_HOST}/healthz?deep=1`, "USERS", 30],
      ["auth service:AUTH", "https://auth.internal/ping", "AUTH", 60],
    ]);
  });
});
