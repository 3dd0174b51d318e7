import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { GatewayError } from "../../src/errors.ts";
import { forwardedBody, setOriginHeader } from "../../src/upstream/index.ts";
import { AUDIENCE, ISSUER, mintWith, testKeyPair } from "../../tools/jwt-tokens.ts";
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

describe("a route's own timeoutMs", () => {
  const call = gatewayFor({
    origins: { patient: { url: env.ECHO_ORIGIN, timeoutMs: 300 } },
    routes: [
      route("report", "/report", { origin: "patient", timeoutMs: 1500 }),
      route("ping", "/ping", { origin: "patient", timeoutMs: 100 }),
      route("other", "/other", { origin: "patient" }),
    ],
  });

  it("lets one route wait longer than its origin's timeout", async () => {
    expect((await call("/report", { headers: { "x-origin-delay": "700" } })).status).toBe(200);
    // The origin's other routes keep the origin's 300 ms.
    expect((await call("/other", { headers: { "x-origin-delay": "700" } })).status).toBe(504);
  });

  it("lets one route give up sooner", async () => {
    const started = Date.now();
    const response = await call("/ping", { headers: { "x-origin-delay": "250" } });
    expect(response.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(240);
    expect((await call("/other", { headers: { "x-origin-delay": "150" } })).status).toBe(200);
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

const hardeningKey = await testKeyPair("ES256", "hardening-1");

describe("headers only the gateway writes (issue 8)", () => {
  const key = hardeningKey;
  const table = {
    authorizers: { main: { type: "jwt", issuer: ISSUER, audience: AUDIENCE, algorithms: ["ES256"], jwks: { keys: [key.publicJwk] } } },
    // An API-key route needs a way to issue keys and a plan to issue them on.
    admin: { token: { env: "ADMIN_TOKEN" } },
    plans: { basic: { quota: { limit: 1000, per: "month" } } },
    routes: [
      route("pub", "/app/pub/*"),
      route("me", "/app/me/*", { auth: { authorizer: "main" }, identityHeaders: { "x-user-id": "sub", "x-user-role": "role" } }),
      route("keys", "/app/keys/*", { auth: { apiKey: true } }),
    ],
  };
  const call = gatewayFor(table);

  it("drops a client's identity header on a public route when another route sets it from a token", async () => {
    const echo = await echoOf(await call("/app/pub/profile", { headers: { "x-user-id": "admin", "X-User-Role": "root", "x-other": "kept" } }));
    expect(echo.headers).not.toHaveProperty("x-user-id");
    expect(echo.headers).not.toHaveProperty("x-user-role");
    expect(echo.headers["x-other"]).toBe("kept");
  });

  it("still sets the identity header from the verified token on the JWT route", async () => {
    const token = await mintWith(key, { claims: { sub: "user-7", role: "reader" } });
    const echo = await echoOf(await call("/app/me/profile", { headers: { authorization: `Bearer ${token}`, "x-user-id": "admin", x_user_id: "admin" } }));
    expect(echo.headers["x-user-id"]).toBe("user-7");
    expect(echo.headers["x-user-role"]).toBe("reader");
    expect(echo.headers).not.toHaveProperty("x_user_id");
  });

  it("drops the API key header on every route when any route takes API keys", async () => {
    const echo = await echoOf(await call("/app/pub/key", { headers: { "x-api-key": "gw_someone_elses" } }));
    expect(echo.headers).not.toHaveProperty("x-api-key");
  });

  it("drops the rooms' internal headers on every route", async () => {
    const echo = await echoOf(await call("/app/pub/hook", { headers: { "x-gateway-event": "disconnect", "x-gateway-room-connect": "{}", "x-gateway-future": "1" } }));
    for (const name of ["x-gateway-event", "x-gateway-room-connect", "x-gateway-future"]) expect(echo.headers).not.toHaveProperty(name);
  });

  it("drops client headers with underscores by default", async () => {
    const echo = await echoOf(await call("/app/pub/x", {
      headers: { x_user_id: "admin", "X_User-Role": "root", x_forwarded_for: "6.6.6.6", x_real_ip: "6.6.6.6", x_gateway_event: "leave", my_header: "1", "my-header": "2" },
    }));
    expect(Object.keys(echo.headers).filter((name) => name.includes("_"))).toEqual([]);
    expect(echo.headers["my-header"]).toBe("2");
    expect(echo.headers["x-forwarded-for"]).toBe("203.0.113.7");
  });

  it("forwardUnderscoreHeaders keeps underscore names, except those that read as owned, identity or dropped names", async () => {
    const keeping = gatewayFor({ ...table, routes: [...table.routes, route("underscores", "/app/under/*", { forwardUnderscoreHeaders: true })] });
    const echo = await echoOf(await keeping("/app/under/x", {
      headers: {
        x_user_id: "admin", "X_User-Role": "root", x_forwarded_for: "6.6.6.6", x_real_ip: "6.6.6.6", cf_connecting_ip: "6.6.6.6",
        x_gateway_event: "leave", x_api_key: "gw_forged", x_http_method_override: "DELETE", my_header: "1",
      },
    }));
    expect(Object.keys(echo.headers).filter((name) => name.includes("_"))).toEqual(["my_header"]);
    expect(echo.headers["my_header"]).toBe("1");
    expect(echo.headers["x-forwarded-for"]).toBe("203.0.113.7");
  });

  it("drops client-IP alias headers: X-Forwarded-For and Forwarded are the one source", async () => {
    const aliases = ["client-ip", "x-originating-ip", "x-remote-ip", "x-remote-addr", "x-cluster-client-ip", "cluster-client-ip", "fastly-client-ip", "x-client-ip", "x-host", "x-real-ip", "true-client-ip"];
    const echo = await echoOf(await call("/app/pub/ip", { headers: Object.fromEntries(aliases.map((name) => [name, "6.6.6.6"])) }));
    expect(aliases.filter((name) => Object.hasOwn(echo.headers, name))).toEqual([]);
    expect(echo.headers["x-forwarded-for"]).toBe("203.0.113.7");
    expect(echo.headers["forwarded"]).toContain("for=203.0.113.7");
  });

  it("a route may still set an owned name itself", async () => {
    const edited = gatewayFor({ ...table, routes: [...table.routes, route("svc", "/svc", { requestHeaders: { set: { "x-user-id": "service" } } })] });
    const echo = await echoOf(await edited("/svc", { headers: { "x-user-id": "admin" } }));
    expect(echo.headers["x-user-id"]).toBe("service");
  });
});

describe("a GET or HEAD with a body (issue 8, item 4)", () => {
  // workerd's Request refuses to be built with a GET body, but an incoming HTTP request can carry one:
  // this is the shape the forwarder receives then (end to end: test/e2e/forwarding.e2e.test.ts).
  const incoming = (method: string, body: string | null, headers: Record<string, string>) =>
    ({ method, headers: new Headers(headers), body: body === null ? null : new Response(body).body }) as unknown as Request;

  it("is refused 400 body_not_allowed by the gateway before any origin contact, not 502", () => {
    for (const method of ["GET", "HEAD"]) {
      const error = (() => { try { forwardedBody(incoming(method, "hello", { "content-length": "5" })); return null; } catch (e) { return e; } })();
      expect(error).toBeInstanceOf(GatewayError);
      expect({ status: (error as GatewayError).status, code: (error as GatewayError).code }).toEqual({ status: 400, code: "body_not_allowed" });
    }
  });

  it("sends no body for a GET with Content-Length: 0 or none, and a POST's body as it came", () => {
    expect(forwardedBody(incoming("GET", "", { "content-length": "0" }))).toBeNull();
    expect(forwardedBody(incoming("GET", null, {}))).toBeNull();
    const post = incoming("POST", "data", { "content-length": "4" });
    expect(forwardedBody(post)).toBe(post.body);
  });
});
