/**
 * Routes the gateway answers itself: `respond` (a fixed answer, like an AWS mock integration) and
 * `redirect`. They need no origin, and the route's policies (auth, limits) still run first.
 */
import { describe, expect, it } from "vitest";
import { TEST_JWT_SECRET } from "../support/jwt-secret.ts";
import { mint } from "../../tools/jwt-tokens.ts";
import { errorOf, gatewayFor } from "../support/worker-gateway.ts";

const token = await mint(new TextEncoder().encode(TEST_JWT_SECRET), "HS256", undefined);
const bare = (id: string, path: string, extra: Record<string, unknown>) => ({ id, path, auth: "none", ...extra });

const call = gatewayFor({
  authorizers: { main: { type: "jwt", issuer: "https://auth.test/", audience: "api", algorithms: ["HS256"], secret: { env: "TEST_JWT_SECRET" } } },
  plans: { one: { rate: { limit: 1, per: "1h" } } },
  routes: [
    bare("health", "/health", { methods: ["GET", "HEAD"], respond: { json: { status: "ok", checks: [1, 2] } } }),
    bare("maintenance", "/shop/*", { respond: { status: 503, headers: { "retry-after": "120", "content-type": "text/html; charset=utf-8" }, body: "<h1>Back soon</h1>" } }),
    bare("stub", "/stub", { respond: { status: 204, headers: { "x-stub": "yes" } } }),
    bare("private", "/private", { auth: { authorizer: "main" }, respond: { json: { secret: true } } }),
    bare("counted", "/counted", { rateLimit: { plan: "one", by: "ip" }, respond: { body: "counted" } }),
    bare("small", "/small", { maxBodyBytes: 2, respond: { body: "ok" } }),
    bare("moved", "/old/:id", { redirect: { to: "https://new.example.com/items/:id", status: 301 } }),
    bare("keep", "/keep/:id", { redirect: { to: "/v2/items/:id?src=old#top", status: 308, preserveQuery: true } }),
    bare("temp", "/temp", { redirect: { to: "/elsewhere" } }),
    bare("guarded", "/guarded", { auth: { authorizer: "main" }, redirect: { to: "/inside" } }),
  ],
});

describe("a respond route", () => {
  it("answers JSON without an origin", async () => {
    const response = await call("/health");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(await response.json()).toEqual({ status: "ok", checks: [1, 2] });
    expect(response.headers.get("x-request-id")).toBeTruthy();
  });

  it("answers HEAD with the headers and no body", async () => {
    const response = await call("/health", { method: "HEAD" });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("");
  });

  it("answers a maintenance page with its status, headers and text", async () => {
    const response = await call("/shop/cart/42", { method: "POST" });
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("120");
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await response.text()).toBe("<h1>Back soon</h1>");
  });

  it("answers a bodiless stub", async () => {
    const response = await call("/stub", { method: "DELETE" });
    expect(response.status).toBe(204);
    expect(response.headers.get("x-stub")).toBe("yes");
    expect(response.headers.get("content-type")).toBeNull();
  });

  it("still runs the route's auth, rate limit and body limit first", async () => {
    const refused = await call("/private");
    expect(refused.status).toBe(401);
    expect((await errorOf(refused)).code).toBe("token_missing");
    expect(await (await call("/private", { headers: { authorization: `Bearer ${token}` } })).json()).toEqual({ secret: true });

    const clientIp = "198.51.100.77";
    expect((await call("/counted", { clientIp })).status).toBe(200);
    expect((await call("/counted", { clientIp })).status).toBe(429);

    expect((await call("/small", { method: "POST", body: "abc", headers: { "content-length": "3" } })).status).toBe(413);
  });

  it("keeps the core's method check", async () => {
    expect((await call("/health", { method: "POST" })).status).toBe(405);
  });
});

describe("a redirect route", () => {
  it("answers with the status and a Location built from the path's parameters", async () => {
    const response = await call("/old/42");
    expect(response.status).toBe(301);
    expect(response.headers.get("location")).toBe("https://new.example.com/items/42");
  });

  it("percent-encodes parameter values, so no value can change the target's host, path or query", async () => {
    for (const [path, location] of [
      ["/old/@evil.example", "https://new.example.com/items/%40evil.example"],
      ["/old/a:b", "https://new.example.com/items/a%3Ab"],
      ["/old/x&admin=1", "https://new.example.com/items/x%26admin%3D1"],
      ["/old/%2e%2e", null], // a dot segment climbing above the root is refused before matching
      ["/old/%3Fq", "https://new.example.com/items/%3Fq"],
      ["/old/%23frag", "https://new.example.com/items/%23frag"],
    ] as const) {
      const response = await call(path);
      if (location === null) expect(response.status, path).not.toBe(301);
      else expect(response.headers.get("location"), path).toBe(location);
    }
    const relative = await call("/keep/evil.example");
    expect(relative.headers.get("location")).toBe("/v2/items/evil.example?src=old#top");
  });

  it("carries the query over when preserveQuery is set, before the fragment", async () => {
    const response = await call("/keep/7?page=2&sort=asc");
    expect(response.status).toBe(308);
    expect(response.headers.get("location")).toBe("/v2/items/7?src=old&page=2&sort=asc#top");
    expect((await call("/temp?page=2")).headers.get("location")).toBe("/elsewhere");
  });

  it("defaults to 302 and redirects every method it matches", async () => {
    const response = await call("/temp", { method: "POST" });
    expect(response.status).toBe(302);
  });

  it("is behind the route's auth", async () => {
    expect((await call("/guarded")).status).toBe(401);
    const response = await call("/guarded", { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe("/inside");
  });
});
