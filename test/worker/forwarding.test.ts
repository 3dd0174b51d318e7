import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { setOriginHeader } from "../../src/upstream/index.ts";
import { echoOf, errorOf, gatewayFor, route, testPolicy } from "../support/worker-gateway.ts";

describe("forwarding to the origin", () => {
  const call = gatewayFor({
    origins: { based: { url: `${env.ECHO_ORIGIN}/api/` } },
    routes: [
      route("users.get", "/v1/users/:id", { methods: ["GET"], rewrite: "/users/:id" }),
      route("files", "/v1/files/:owner/*", { rewrite: "/store/:owner/*" }),
      route("orders", "/v1/orders/*", { origin: "based", stripPrefix: "/v1" }),
      route("root", "/plain/*"),
      route("edited", "/edited", {
        requestHeaders: { set: { "x-api-version": "1" }, remove: ["cookie"] },
        responseHeaders: { set: { "cache-control": "no-store" }, remove: ["server"] },
      }),
    ],
  });

  it("substitutes path parameters into the rewrite", async () => {
    expect((await echoOf(await call("/v1/users/42"))).url).toBe("/users/42");
  });

  it("substitutes the wildcard rest into the rewrite", async () => {
    expect((await echoOf(await call("/v1/files/ann/a/b.txt"))).url).toBe("/store/ann/a/b.txt");
  });

  it("strips the prefix and joins the origin's base path", async () => {
    expect((await echoOf(await call("/v1/orders/7/items"))).url).toBe("/api/orders/7/items");
    expect((await echoOf(await call("/v1/orders"))).url).toBe("/api/orders");
  });

  it("keeps the query string exactly as sent", async () => {
    expect((await echoOf(await call("/plain/x?b=2&a=1&a=%2F&empty="))).url).toBe("/plain/x?b=2&a=1&a=%2F&empty=");
  });

  it("forwards the canonical path, which is the path that matched", async () => {
    expect((await echoOf(await call("/plain//x/./y/../z"))).url).toBe("/plain/x/z");
    expect((await echoOf(await call("/plain/%7euser/%41"))).url).toBe("/plain/~user/A");
  });

  it("keeps a trailing slash through a rewrite", async () => {
    expect((await echoOf(await call("/v1/users/42/"))).url).toBe("/users/42/");
  });

  it("forwards every method with its body", async () => {
    for (const method of ["POST", "PUT", "PATCH", "DELETE"]) {
      const echo = await echoOf(await call("/plain/body", { method, body: "hello body" }));
      expect(echo.method).toBe(method);
      expect(echo.bodyBytes).toBe(10);
    }
    expect((await echoOf(await call("/plain/options", { method: "OPTIONS" }))).method).toBe("OPTIONS");
  });

  it("applies the route's request and response header edits", async () => {
    const response = await call("/edited", { headers: { cookie: "session=secret", "x-api-version": "9" } });
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(response.headers.get("server")).toBeNull();
    const echo = await echoOf(response);
    expect(echo.headers["x-api-version"]).toBe("1");
    expect(echo.headers.cookie).toBeUndefined();
  });

  it("passes origin redirects back instead of following them", async () => {
    const response = await call("/plain/r", { headers: { "x-origin-redirect": "https://elsewhere.test/next" } });
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe("https://elsewhere.test/next");
  });

  it("passes the origin's own error statuses through untouched", async () => {
    const response = await call("/plain/e", { headers: { "x-origin-status": "503" } });
    expect(response.status).toBe(503);
    expect((await response.json() as { method: string }).method).toBe("GET");
  });
});

describe("forwarding headers", () => {
  const call = gatewayFor({ routes: [route("any", "/h/*")] });

  it("replaces client-sent X-Forwarded-* and Forwarded with what the gateway knows", async () => {
    const echo = await echoOf(await call("/h", {
      host: "api.example.com",
      clientIp: "198.51.100.9",
      headers: { "x-forwarded-for": "6.6.6.6", "x-forwarded-host": "evil.test", "x-forwarded-proto": "https", forwarded: "for=6.6.6.6", "x-real-ip": "6.6.6.6" },
    }));
    expect(echo.headers["x-forwarded-for"]).toBe("198.51.100.9");
    expect(echo.headers["x-forwarded-host"]).toBe("api.example.com");
    expect(echo.headers["x-forwarded-proto"]).toBe("http");
    expect(echo.headers.forwarded).toBe(`for=198.51.100.9;host="api.example.com";proto=http`);
    expect(echo.headers["x-real-ip"]).toBeUndefined();
  });

  it("brackets and quotes an IPv6 client in Forwarded", async () => {
    const echo = await echoOf(await call("/h", { clientIp: "2001:db8::1" }));
    expect(echo.headers.forwarded).toBe(`for="[2001:db8::1]";host="gateway.test";proto=http`);
    expect(echo.headers["x-forwarded-for"]).toBe("2001:db8::1");
  });

  it("drops hop-by-hop headers and every header the client names in Connection", async () => {
    const echo = await echoOf(await call("/h", {
      headers: { connection: "x-secret, X-Other", "x-secret": "1", "x-other": "2", "keep-alive": "timeout=5", te: "trailers", "proxy-authorization": "Basic eA==", "x-kept": "yes" },
    }));
    expect(echo.headers["x-secret"]).toBeUndefined();
    expect(echo.headers["x-other"]).toBeUndefined();
    expect(echo.headers["proxy-authorization"]).toBeUndefined();
    expect(echo.headers.te).toBeUndefined();
    expect(echo.headers["x-kept"]).toBe("yes");
  });

  it("answers 400 to a malformed Connection header", async () => {
    const response = await call("/h", { headers: { connection: "a b" } });
    expect(response.status).toBe(400);
    expect((await errorOf(response)).code).toBe("bad_request");
  });

  it("drops headers that let a client re-route or re-method a request inside the origin", async () => {
    const echo = await echoOf(await call("/h", {
      headers: { "x-original-url": "/admin", "x-rewrite-url": "/admin", "x-http-method-override": "DELETE", "x-method-override": "DELETE", "cf-connecting-ipv6": "::1" },
    }));
    for (const name of ["x-original-url", "x-rewrite-url", "x-http-method-override", "x-method-override", "cf-connecting-ip", "cf-connecting-ipv6"]) {
      expect(echo.headers[name], name).toBeUndefined();
    }
  });

  it("sends the origin its own Host", async () => {
    const echo = await echoOf(await call("/h", { host: "api.example.com" }));
    expect(echo.headers.host).toBe(new URL(env.ECHO_ORIGIN).host);
  });

  it("strips hop-by-hop headers from the origin's response", async () => {
    const response = await call("/h", { headers: { "x-origin-headers": JSON.stringify({ "keep-alive": "timeout=9", "x-from-origin": "yes" }) } });
    expect(response.headers.get("keep-alive")).toBeNull();
    expect(response.headers.get("x-from-origin")).toBe("yes");
  });
});

describe("origin faults", () => {
  const call = gatewayFor({
    origins: {
      slow: { url: env.ECHO_ORIGIN, timeoutMs: 300 },
      closed: { url: "http://127.0.0.1:1" },
    },
    routes: [route("slow", "/slow", { origin: "slow" }), route("closed", "/closed", { origin: "closed" })],
  });

  it("answers 504 when the origin sends no headers within its timeout", async () => {
    const started = Date.now();
    const response = await call("/slow", { headers: { "x-origin-delay": "3000" } });
    expect(response.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(1300);
    expect(await errorOf(response)).toMatchObject({ code: "origin_timeout", message: "The origin did not respond in time." });
  });

  it("answers 502 when the origin refuses the connection, without internal details", async () => {
    const response = await call("/closed");
    expect(response.status).toBe(502);
    const text = await response.text();
    expect(JSON.parse(text).error.code).toBe("origin_unreachable");
    expect(text).not.toMatch(/127\.0\.0\.1|ECONNREFUSED|stack|at /);
  });

  it("a slow origin that answers in time is not cut off", async () => {
    const response = await call("/slow", { headers: { "x-origin-delay": "100" } });
    expect(response.status).toBe(200);
  });
});

describe("path safety", () => {
  const call = gatewayFor({ routes: [route("users", "/v1/users/:id", { rewrite: "/users/:id" }), route("public", "/public/*")] });

  it.each([
    ["/v1/users/..%2f..%2fadmin", "encoded slash (%2F) in path"],
    ["/v1/users/%2e%2e%5cadmin", "encoded backslash (%5C) in path"],
    ["/v1/users/a%00b", "control character in path"],
    ["/public/..;/admin", "';' in path"],
    ["/public/%3B", "';' in path"],
    ["/public/%zz", "malformed percent-encoding in path"],
  ])("refuses %s with 400 bad_path", async (path, reason) => {
    const response = await call(path);
    expect(response.status).toBe(400);
    expect(await errorOf(response)).toMatchObject({ code: "bad_path", message: `Request path rejected: ${reason}.` });
  });

  it("never lets dot segments climb out of a route", async () => {
    // The URL parser resolves these before the gateway sees them; they land on no route.
    for (const path of ["/v1/users/../../admin", "/v1/users/%2e%2e/%2e%2e/admin", "/public/../admin"]) {
      expect((await call(path)).status, path).toBe(404);
    }
  });
});

describe("the access log", () => {
  afterEach(() => vi.restoreAllMocks());

  it("writes one JSON line per request with route, status and latencies", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: string) => { lines.push(line); });
    const call = gatewayFor({ routes: [route("any", "/logged")] });
    // LOG_REQUESTS is "off" in the test bindings; the per-call env turns it on here.
    const { createExecutionContext } = await import("cloudflare:test");
    const { createGateway } = await import("../../src/app.ts");
    const { loadRouteTable } = await import("../../src/config/index.ts");
    const app = createGateway(loadRouteTable({ origins: { echo: { url: env.ECHO_ORIGIN } }, routes: [route("any", "/logged")] }));
    const response = await app.fetch(new Request("http://gateway.test/logged?token=secret", { headers: { "x-request-id": "log-1", authorization: "Bearer abc" } }), { ...env, LOG_REQUESTS: "on" }, createExecutionContext());
    await response.arrayBuffer();
    void call;
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!);
    expect(line).toMatchObject({ requestId: "log-1", routeId: "any", method: "GET", path: "/logged", status: 200, origin: "echo" });
    expect(typeof line.originMs).toBe("number");
    expect(typeof line.totalMs).toBe("number");
    expect(new Date(line.time).getTime()).not.toBeNaN();
    expect(lines[0]).not.toMatch(/secret|Bearer/);
  });
});

describe("headers a policy sets for the origin", () => {
  const call = gatewayFor({ routes: [route("identity", "/id", { requestHeaders: { remove: ["x-user-id"] } })] }, {
    policies: [testPolicy(async (c, next) => { setOriginHeader(c, "x-user-id", "verified-user"); await next(); })],
  });

  it("replace the client's copies and survive the route's remove list", async () => {
    const echo = await echoOf(await call("/id", { headers: { "x-user-id": "forged" } }));
    expect(echo.headers["x-user-id"]).toBe("verified-user");
  });
});
