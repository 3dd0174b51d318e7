/**
 * CORS through the real Worker: preflights are answered before routing, auth and limits; every
 * answer of a CORS route carries the headers, the gateway's own errors included; a disallowed
 * origin gets none and its request is still processed.
 */
import { describe, expect, it } from "vitest";
import { TEST_JWT_SECRET } from "../support/jwt-secret.ts";
import { mint } from "../../tools/jwt-tokens.ts";
import { echoOf, errorOf, gatewayFor, route } from "../support/worker-gateway.ts";

const APP = "https://app.example.com";
const OTHER = "https://evil.example.net";
const secret = new TextEncoder().encode(TEST_JWT_SECRET);
const token = await mint(secret, "HS256", undefined);

const call = gatewayFor({
  authorizers: { main: { type: "jwt", issuer: "https://auth.test/", audience: "api", algorithms: ["HS256"], secret: { env: "TEST_JWT_SECRET" } } },
  plans: { one: { rate: { limit: 1, per: "1h" } } },
  defaults: {
    cors: { allowOrigins: [APP, "https://*.preview.example.com"], allowCredentials: true, exposeHeaders: ["x-request-id"], maxAgeSec: 600 },
  },
  routes: [
    route("me", "/v1/me", { auth: { authorizer: "main" } }),
    route("admin", "/v1/admin", { auth: { authorizer: "main", scopes: ["admin"] } }),
    route("counted", "/v1/counted", { rateLimit: { plan: "one", by: "ip" } }),
    route("items", "/v1/items/:id", { methods: ["GET", "DELETE"] }),
    route("open", "/v1/open", { cors: { allowOrigins: ["*"], allowHeaders: ["content-type"] } }),
    route("own-cors", "/v1/own-cors", { cors: false }),
    route("limited", "/v1/limited", { maxBodyBytes: 4 }),
    route("broken", "/v1/broken", { origin: "closed" }),
    { id: "status", path: "/status", auth: "none", respond: { json: { up: true } } },
  ],
  origins: { closed: { url: "http://127.0.0.1:1" } },
});

const preflight = (path: string, origin: string, method: string, headers: Record<string, string> = {}) =>
  call(path, { method: "OPTIONS", headers: { origin, "access-control-request-method": method, ...headers } });
const corsOf = (response: Response) => Object.fromEntries([...response.headers].filter(([name]) => name.startsWith("access-control-") || name === "vary"));

describe("a preflight", () => {
  it("is answered 204 with the allowed values on a JWT route that allows every method, never 401", async () => {
    const response = await preflight("/v1/me", APP, "GET", { "access-control-request-headers": "Authorization, X-Trace" });
    expect(response.status).toBe(204);
    expect(corsOf(response)).toEqual({
      "access-control-allow-origin": APP,
      "access-control-allow-credentials": "true",
      "access-control-allow-methods": "GET, HEAD, POST, PUT, PATCH, DELETE",
      "access-control-allow-headers": "authorization, x-trace",
      "access-control-max-age": "600",
      vary: "Origin, Access-Control-Request-Headers",
    });
    expect(await response.text()).toBe("");
  });

  it("is answered before the core's 405: a route that lists its methods allows those", async () => {
    const response = await preflight("/v1/items/7", APP, "DELETE");
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-methods")).toBe("GET, DELETE");
    // A method the route lacks still gets the route's answer; the browser then refuses by itself.
    const put = await preflight("/v1/items/7", APP, "PUT");
    expect(put.status).toBe(204);
    expect(put.headers.get("access-control-allow-methods")).toBe("GET, DELETE");
  });

  it("is never counted by a rate limit", async () => {
    const clientIp = "198.51.100.20";
    for (let i = 0; i < 3; i++) expect((await call("/v1/counted", { method: "OPTIONS", clientIp, headers: { origin: APP, "access-control-request-method": "POST" } })).status).toBe(204);
    expect((await call("/v1/counted", { clientIp, headers: { origin: APP } })).status).toBe(200);
    const limited = await call("/v1/counted", { clientIp, headers: { origin: APP } });
    expect(limited.status).toBe(429);
    expect(limited.headers.get("access-control-allow-origin")).toBe(APP);
  });

  it("uses the route's own cors over defaults.cors, and \"*\" needs no Vary", async () => {
    const response = await preflight("/v1/open", OTHER, "PUT", { "access-control-request-headers": "x-anything" });
    expect(corsOf(response)).toEqual({
      "access-control-allow-origin": "*",
      "access-control-allow-methods": "GET, HEAD, POST, PUT, PATCH, DELETE",
      "access-control-allow-headers": "content-type",
    });
  });

  it("gives a disallowed origin a 204 without CORS headers, so the browser refuses", async () => {
    const response = await preflight("/v1/me", OTHER, "GET", { "access-control-request-headers": "authorization" });
    expect(response.status).toBe(204);
    expect(corsOf(response)).toEqual({ vary: "Origin" });
  });

  it("allows every subdomain of a pattern's host suffix, and nothing that only looks like one", async () => {
    const allowed = await preflight("/v1/me", "https://pr-12.preview.example.com", "GET");
    expect(allowed.headers.get("access-control-allow-origin")).toBe("https://pr-12.preview.example.com");
    for (const origin of [
      "https://preview.example.com", "http://pr-12.preview.example.com", "https://pr-12.preview.example.com:8443",
      "https://evilpreview.example.com", "https://x.preview.example.com.evil.net", "https://a@x.preview.example.com", "https://x..preview.example.com",
    ]) {
      expect((await preflight("/v1/me", origin, "GET")).headers.get("access-control-allow-origin"), origin).toBeNull();
    }
  });

  it("is left to the route where the gateway does not do CORS (cors: false): it reaches the origin", async () => {
    const echo = await echoOf(await preflight("/v1/own-cors", APP, "GET"));
    expect(echo.method).toBe("OPTIONS");
  });

  it("is told apart from a plain OPTIONS, which still goes to the route (and its auth)", async () => {
    const plain = await call("/v1/me", { method: "OPTIONS", headers: { origin: APP } });
    expect(plain.status).toBe(401);
    expect(plain.headers.get("access-control-allow-origin")).toBe(APP);
  });
});

describe("an actual response", () => {
  it("carries the CORS headers on the origin's answer through a JWT route", async () => {
    const response = await call("/v1/me", { headers: { origin: APP, authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    expect(corsOf(response)).toEqual({
      "access-control-allow-origin": APP,
      "access-control-allow-credentials": "true",
      "access-control-expose-headers": "x-request-id",
      vary: "Origin",
    });
  });

  it.each<[string, string, { method?: string; body?: string; headers?: Record<string, string> }, number, string]>([
    ["the JWT route's 401", "/v1/me", {}, 401, "token_missing"],
    ["the JWT route's 403", "/v1/admin", { headers: { authorization: `Bearer ${token}` } }, 403, "insufficient_scope"],
    ["the core's 404", "/nowhere", {}, 404, "not_found"],
    ["the core's 405", "/v1/items/7", { method: "POST" }, 405, "method_not_allowed"],
    ["the core's 400 for a refused path", "/v1/%2e%2e%2f", {}, 400, "bad_path"],
    ["a 413 from the body limit", "/v1/limited", { method: "POST", body: "12345" }, 413, "payload_too_large"],
    ["a 502 from an unreachable origin", "/v1/broken", {}, 502, "origin_unreachable"],
  ])("carries them on %s, so browser code can read the error", async (_what, path, init, status, code) => {
    const response = await call(path, { ...init, headers: { ...init.headers, origin: APP } });
    expect(response.status).toBe(status);
    expect(response.headers.get("access-control-allow-origin")).toBe(APP);
    expect(response.headers.get("access-control-allow-credentials")).toBe("true");
    expect(response.headers.get("vary")).toContain("Origin");
    expect((await errorOf(response)).code).toBe(code);
  });

  it("carries them on a static answer", async () => {
    const response = await call("/status", { headers: { origin: APP } });
    expect(await response.json()).toEqual({ up: true });
    expect(response.headers.get("access-control-allow-origin")).toBe(APP);
  });

  it("gives a disallowed origin no CORS headers, and the request is still processed", async () => {
    const response = await call("/v1/me", { headers: { origin: OTHER, authorization: `Bearer ${token}` } });
    expect((await echoOf(response)).method).toBe("GET");
    expect(corsOf(response)).toEqual({ vary: "Origin" });
  });

  it("says Vary: Origin even without an Origin, since the answer depends on it", async () => {
    const response = await call("/v1/me", { headers: { authorization: `Bearer ${token}` } });
    expect(corsOf(response)).toEqual({ vary: "Origin" });
  });

  it("replaces the origin's own CORS headers and keeps its other Vary values", async () => {
    const response = await call("/v1/me", {
      headers: {
        origin: APP, authorization: `Bearer ${token}`,
        "x-origin-headers": JSON.stringify({ "access-control-allow-origin": "*", "access-control-allow-methods": "TRACE", vary: "Accept-Encoding" }),
      },
    });
    expect(corsOf(response)).toEqual({
      "access-control-allow-origin": APP,
      "access-control-allow-credentials": "true",
      "access-control-expose-headers": "x-request-id",
      vary: "Accept-Encoding, Origin",
    });
  });

  it("leaves a route with cors: false to its origin", async () => {
    const response = await call("/v1/own-cors", { headers: { origin: APP, "x-origin-headers": JSON.stringify({ "access-control-allow-origin": "https://origin.example" }) } });
    expect(corsOf(response)).toEqual({ "access-control-allow-origin": "https://origin.example" });
  });
});

describe("a table without cors", () => {
  const plain = gatewayFor({ routes: [route("me", "/v1/me", { auth: "none" })] });

  it("adds nothing and answers a preflight as the route would", async () => {
    const response = await plain("/v1/me", { method: "OPTIONS", headers: { origin: APP, "access-control-request-method": "GET" } });
    expect((await echoOf(response)).method).toBe("OPTIONS");
    expect(corsOf(response)).toEqual({});
  });
});

describe("cors on one route only", () => {
  const some = gatewayFor({ routes: [route("a", "/a", { cors: { allowOrigins: [APP] } }), route("b", "/b")] });

  it("decorates that route and no other, and leaves 404s alone (no defaults.cors)", async () => {
    expect((await some("/a", { headers: { origin: APP } })).headers.get("access-control-allow-origin")).toBe(APP);
    expect(corsOf(await some("/b", { headers: { origin: APP } }))).toEqual({});
    expect(corsOf(await some("/c", { headers: { origin: APP } }))).toEqual({});
  });
});
