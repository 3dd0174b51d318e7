/** IP allow and deny lists through the real gateway app, to the real echo origin. */
import { describe, expect, it } from "vitest";
import { echoOf, errorOf, gatewayFor, policiesWith, route, testPolicy } from "../support/worker-gateway.ts";

const refusal = async (response: Response) => {
  expect(response.status).toBe(403);
  expect(response.headers.get("content-type")).toBe("application/json; charset=utf-8");
  return errorOf(response);
};
const statusFrom = async (call: ReturnType<typeof gatewayFor>, path: string, clientIp: string) => {
  const response = await call(path, { clientIp });
  await response.body?.cancel();
  return response.status;
};

describe("a route's ipAllow", () => {
  const call = gatewayFor({ routes: [route("office", "/office", { ipAllow: ["203.0.113.0/24", "2001:db8::/32"] })] });

  it("lets an allowed address through to the origin", async () => {
    expect((await echoOf(await call("/office", { clientIp: "203.0.113.7" }))).url).toBe("/office");
    expect((await echoOf(await call("/office", { clientIp: "2001:DB8:0:0::1" }))).url).toBe("/office");
  });

  it("refuses any other address with 403 ip_not_allowed in the envelope", async () => {
    const response = await call("/office", { clientIp: "198.51.100.1", headers: { "x-request-id": "ip-test-1" } });
    expect(await refusal(response)).toEqual({
      code: "ip_not_allowed", message: "Requests from this address are not allowed on this route.", requestId: "ip-test-1",
    });
    expect(await statusFrom(call, "/office", "2001:db9::1")).toBe(403);
    expect(await statusFrom(call, "/office", "203.0.114.0")).toBe(403);
  });

  it("matches an IPv4-mapped IPv6 client against the IPv4 rules", async () => {
    expect(await statusFrom(call, "/office", "::ffff:203.0.113.9")).toBe(200);
    expect(await statusFrom(call, "/office", "::ffff:198.51.100.1")).toBe(403);
  });

  it("reads CF-Connecting-IP only: X-Forwarded-For and X-Real-IP neither admit nor refuse", async () => {
    const spoofed = await call("/office", { clientIp: "198.51.100.1", headers: { "x-forwarded-for": "203.0.113.7", "x-real-ip": "203.0.113.7" } });
    expect((await refusal(spoofed)).code).toBe("ip_not_allowed");
    const allowed = await call("/office", { clientIp: "203.0.113.7", headers: { "x-forwarded-for": "198.51.100.1" } });
    expect(allowed.status).toBe(200);
    await allowed.body?.cancel();
  });
});

describe("a route's ipDeny", () => {
  const call = gatewayFor({ routes: [
    route("open", "/open", { ipDeny: ["198.51.100.0/24"] }),
    route("both", "/both", { ipAllow: ["10.0.0.0/8"], ipDeny: ["10.1.0.0/16"] }),
  ] });

  it("refuses the denied addresses and lets every other address through", async () => {
    expect((await refusal(await call("/open", { clientIp: "198.51.100.9" }))).code).toBe("ip_not_allowed");
    expect(await statusFrom(call, "/open", "198.51.101.0")).toBe(200);
    expect(await statusFrom(call, "/open", "2001:db8::1")).toBe(200);
  });

  it("wins over the allow list", async () => {
    expect(await statusFrom(call, "/both", "10.1.2.3")).toBe(403);
    expect(await statusFrom(call, "/both", "::ffff:10.1.2.3")).toBe(403);
    expect(await statusFrom(call, "/both", "10.2.0.1")).toBe(200);
    expect(await statusFrom(call, "/both", "11.0.0.1")).toBe(403);
  });
});

describe("the table-wide ipRestriction", () => {
  const call = gatewayFor({
    ipRestriction: { allow: ["10.0.0.0/8"], deny: ["10.9.0.0/16"] },
    routes: [
      route("plain", "/plain"),
      route("partners", "/partners", { ipAllow: ["192.168.0.0/16"] }),
      route("strict", "/strict", { ipDeny: ["10.1.0.0/16"] }),
    ],
  });

  it("applies to a route that names no list", async () => {
    expect(await statusFrom(call, "/plain", "10.1.2.3")).toBe(200);
    expect(await statusFrom(call, "/plain", "192.168.0.1")).toBe(403);
    expect(await statusFrom(call, "/plain", "10.9.0.1")).toBe(403);
  });

  it("is widened by a route's ipAllow, and its deny list still holds there", async () => {
    expect(await statusFrom(call, "/partners", "192.168.4.4")).toBe(200);
    expect(await statusFrom(call, "/partners", "10.1.2.3")).toBe(200);
    expect(await statusFrom(call, "/partners", "172.16.0.1")).toBe(403);
    expect(await statusFrom(call, "/partners", "10.9.0.1")).toBe(403);
  });

  it("is narrowed by a route's ipDeny", async () => {
    expect(await statusFrom(call, "/strict", "10.1.2.3")).toBe(403);
    expect(await statusFrom(call, "/strict", "10.2.0.1")).toBe(200);
    expect(await statusFrom(call, "/plain", "10.1.2.3")).toBe(200);
  });
});

describe("a request without a usable CF-Connecting-IP", () => {
  const call = gatewayFor({ routes: [
    route("allow", "/allow", { ipAllow: ["0.0.0.0/0", "::/0"] }),
    route("deny", "/deny", { ipDeny: ["198.51.100.0/24"] }),
    route("public", "/public"),
  ] });
  const unknown = "The client address could not be determined, and this route admits only some addresses.";

  it("is refused where an allow list applies, even one that admits every address (fail closed)", async () => {
    expect(await refusal(await call("/allow", { clientIp: "" }))).toMatchObject({ code: "ip_not_allowed", message: unknown });
  });

  it("is refused under a deny-only list too: an unreadable address cannot be shown not to be denied", async () => {
    expect(await refusal(await call("/deny", { clientIp: "" }))).toMatchObject({ code: "ip_not_allowed", message: unknown });
  });

  it.each(["unknown", "203.0.113.7, 10.0.0.1", "[2001:db8::1]", "203.0.113.7:443", "fe80::1%eth0", "010.0.0.1"])(
    "is refused when the header reads %j", async (clientIp) => {
      expect(await refusal(await call("/allow", { clientIp }))).toMatchObject({ code: "ip_not_allowed", message: unknown });
      expect(await statusFrom(call, "/deny", clientIp)).toBe(403);
    });

  it("passes on a route without the policy", async () => {
    const response = await call("/public", { clientIp: "" });
    expect(response.status).toBe(200);
    expect((await echoOf(response)).headers["cf-connecting-ip"]).toBeUndefined();
  });
});

describe("a refused request", () => {
  it("reaches no later policy and never the origin", async () => {
    let reached = 0;
    const counting = testPolicy(async (_c, next) => { reached++; await next(); }, "counting");
    // A trap origin on a closed port: contacting it would answer 502 origin_unreachable.
    const call = gatewayFor({
      origins: { trap: { url: "http://127.0.0.1:1" } },
      routes: [route("trap", "/trap", { origin: "trap", ipAllow: ["203.0.113.0/24"], ipDeny: ["203.0.113.66"] })],
    }, { policies: policiesWith(counting) });

    expect((await refusal(await call("/trap", { clientIp: "198.51.100.1" }))).code).toBe("ip_not_allowed");
    expect((await refusal(await call("/trap", { clientIp: "203.0.113.66" }))).code).toBe("ip_not_allowed");
    expect((await refusal(await call("/trap", { clientIp: "" }))).code).toBe("ip_not_allowed");
    expect(reached).toBe(0);
    // The control: an admitted request goes on down the chain and does contact the origin.
    const admitted = await call("/trap", { clientIp: "203.0.113.7" });
    expect((await errorOf(admitted)).code).toBe("origin_unreachable");
    expect(reached).toBe(1);
  });

  it("is refused before authentication: no 401 for a missing key or token, and no key lookup", async () => {
    const call = gatewayFor({
      authorizers: { main: { type: "jwt", issuer: "i", audience: "a", algorithms: ["HS256"], secret: { env: "TEST_JWT_SECRET" } } },
      plans: { five: { quota: { limit: 5, per: "month" } } },
      routes: [
        route("keyed", "/keyed", { auth: { apiKey: true }, ipAllow: ["203.0.113.0/24"] }),
        route("jwt", "/jwt", { auth: { authorizer: "main" }, ipAllow: ["203.0.113.0/24"], rateLimit: { plan: "five", by: "ip" } }),
      ],
    });
    expect((await refusal(await call("/keyed", { clientIp: "198.51.100.1" }))).code).toBe("ip_not_allowed");
    expect((await refusal(await call("/jwt", { clientIp: "198.51.100.1" }))).code).toBe("ip_not_allowed");
    // The control: an admitted caller meets authentication.
    expect((await errorOf(await call("/keyed", { clientIp: "203.0.113.7" }))).code).toBe("api_key_missing");
    expect((await errorOf(await call("/jwt", { clientIp: "203.0.113.7" }))).code).toBe("token_missing");
  });
});
