import { afterEach, describe, expect, it, vi } from "vitest";
import { GatewayError } from "../../src/errors.ts";
import { errorOf, gatewayFor, route, testPolicy } from "../support/worker-gateway.ts";

describe("the error envelope", () => {
  afterEach(() => vi.restoreAllMocks());

  it("answers an unexpected failure with 500 internal_error and no internals, logging them for the operator", async () => {
    const logged: string[] = [];
    vi.spyOn(console, "error").mockImplementation((line: string) => { logged.push(line); });
    const call = gatewayFor({ routes: [route("boom", "/boom")] }, {
      policies: [testPolicy(() => { throw new TypeError("secret internal detail at db.internal:5432"); })],
    });
    const response = await call("/boom", { headers: { "x-request-id": "boom-1" } });
    expect(response.status).toBe(500);
    const text = await response.text();
    expect(JSON.parse(text)).toEqual({ error: { code: "internal_error", message: "The gateway failed to handle the request.", requestId: "boom-1" } });
    expect(text).not.toContain("secret internal detail");
    expect(logged.join("\n")).toContain("secret internal detail");
    expect(logged.join("\n")).toContain("boom-1");
  });

  it("carries a policy's GatewayError status, code and headers to the client", async () => {
    const call = gatewayFor({ routes: [route("deny", "/deny")] }, {
      policies: [testPolicy(() => { throw new GatewayError("rate_limited", "Slow down.", { "retry-after": "3" }); })],
    });
    const response = await call("/deny");
    expect(response.status).toBe(429);
    expect(response.headers.get("retry-after")).toBe("3");
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(await errorOf(response)).toMatchObject({ code: "rate_limited", message: "Slow down." });
  });

  it("lets a policy answer instead of the origin", async () => {
    const call = gatewayFor({ routes: [route("short", "/short")] }, {
      policies: [testPolicy(async () => new Response("from policy", { status: 203 }))],
    });
    const response = await call("/short");
    expect(response.status).toBe(203);
    expect(await response.text()).toBe("from policy");
    expect(response.headers.get("x-request-id")).toBeTruthy();
  });

  it("sends an error to a HEAD request without a body", async () => {
    const call = gatewayFor({ routes: [route("only-get", "/g", { methods: ["GET"] })] });
    const response = await call("/missing", { method: "HEAD" });
    expect(response.status).toBe(404);
    expect(await response.text()).toBe("");
  });
});

describe("table-wide policy middleware (a policy's wrap)", () => {
  const stamp = {
    name: "stamp",
    summary: "A test's stand-in that wraps routing.",
    create: () => undefined,
    wrap: (_table: unknown, routes: { find(url: URL, method: string): { id: string } | undefined }) => async (c: Parameters<Parameters<typeof testPolicy>[0]>[0], next: () => Promise<void>) => {
      const route = routes.find(new URL(c.req.url), "GET");
      await next();
      c.res.headers.set("x-stamp", `${c.res.status} ${route?.id ?? "-"}`);
    },
  };
  const call = gatewayFor({ routes: [route("only-get", "/g", { methods: ["GET"] })] }, { policies: [stamp] });

  it("sees the core's own 404 and 405, and the route a request would match with another method", async () => {
    expect((await call("/nowhere")).headers.get("x-stamp")).toBe("404 -");
    expect((await call("/g", { method: "POST" })).headers.get("x-stamp")).toBe("405 only-get");
    expect((await call("/g/../g")).headers.get("x-stamp")).toBe("200 only-get");
  });
});
