/**
 * The edge cache through the real Worker, in workerd with miniflare's Cache API, in front of the real
 * Node echo origin, which counts the requests it receives per URL (so "never reached the origin" is
 * measured there, not inferred).
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { loadRouteTable } from "../../src/config/index.ts";
import { POLICIES } from "../../src/policies/index.ts";
import { compileRouteTable } from "../../src/router/index.ts";
import { AUDIENCE, ISSUER, mint, utf8 } from "../../tools/jwt-tokens.ts";
import { TEST_JWT_SECRET } from "../support/jwt-secret.ts";
import { ADMIN_HEADERS, createKey, echoOf, errorOf, gatewayFor, route } from "../support/worker-gateway.ts";

const run = crypto.randomUUID().slice(0, 8); // paths unique to this run: the cache outlives a test
const hitsAt = async (url: string): Promise<number> =>
  ((await (await fetch(`${env.ECHO_ORIGIN}/__echo/hits?url=${encodeURIComponent(url)}`)).json()) as { hits: number }).hits;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const token = (sub: string) => mint(utf8(TEST_JWT_SECRET), "HS256", undefined, { claims: { sub } });

const call = gatewayFor({
  authorizers: { internal: { type: "jwt", issuer: ISSUER, audience: AUDIENCE, algorithms: ["HS256"], secret: { env: "TEST_JWT_SECRET" } } },
  plans: { std: { rate: { limit: 1000, per: "1s" } }, tight: { rate: { limit: 3, per: "1h" } } },
  admin: { token: { env: "ADMIN_TOKEN" } },
  routes: [
    route("pub", "/pub/*", { methods: ["GET", "HEAD", "POST"], cache: { ttlSec: 60, keyHeaders: ["x-origin-headers", "x-origin-status", "x-origin-bytes"], maxBodyBytes: 4096 } }),
    route("query", "/query/*", { cache: { ttlSec: 60, keyQuery: ["page", "sort"] } }),
    route("keyed", "/keyed/*", { auth: { apiKey: true }, cache: { ttlSec: 60 } }),
    route("shared", "/shared/*", { auth: { apiKey: true }, cache: { ttlSec: 60, shared: true } }),
    route("jwt", "/jwt/*", { auth: { authorizer: "internal" }, cache: { ttlSec: 60 } }),
    route("limited", "/limited/*", { rateLimit: { plan: "tight", by: "ip" }, cache: { ttlSec: 60 } }),
    route("swr", "/swr/*", { cache: { ttlSec: 1, staleWhileRevalidateSec: 60 } }),
    route("plain", "/plain/*"),
  ],
}, { bindings: { ADMIN_TOKEN: env.ADMIN_TOKEN } });

describe("edge cache: hits", () => {
  it("stores a 200 on the first GET and serves the second from the cache, never reaching the origin", async () => {
    const path = `/pub/${run}/a`;
    const first = await call(path);
    expect(first.headers.get("cache-status")).toBe("edge-gateway; fwd=miss; fwd-status=200; stored");
    expect(first.headers.get("age")).toBeNull();
    const firstBody = await first.text();
    const second = await call(path);
    expect(second.status).toBe(200);
    expect(second.headers.get("cache-status")).toMatch(/^edge-gateway; hit; ttl=(59|60)$/);
    expect(second.headers.get("age")).toMatch(/^[01]$/);
    expect(second.headers.get("x-request-id")).not.toBe(first.headers.get("x-request-id"));
    expect(second.headers.get("content-type")).toBe("application/json");
    expect(await second.text()).toBe(firstBody);
    expect(await hitsAt(path)).toBe(1);
  });

  it("serves a HEAD from the GET entry, without a body and without the origin", async () => {
    const path = `/pub/${run}/head`;
    await (await call(path)).text();
    const head = await call(path, { method: "HEAD" });
    expect(head.headers.get("cache-status")).toMatch(/; hit;/);
    expect(await head.text()).toBe("");
    expect(await hitsAt(path)).toBe(1);
  });

  it("keys on the host and on the canonical path", async () => {
    const path = `/pub/${run}/canon`;
    await (await call(path)).text();
    expect((await call(`/pub/${run}/./x/../canon`)).headers.get("cache-status")).toMatch(/; hit;/);
    expect((await call(path, { host: "other.test" })).headers.get("cache-status")).toMatch(/fwd=miss/);
  });

  it("keys on the keyed query parameters only, sorted, and sends the origin only those", async () => {
    const first = await call(`/query/${run}?sort=asc&page=2&utm=campaign`);
    expect((await echoOf(first)).url).toBe(`/query/${run}?page=2&sort=asc`);
    expect((await call(`/query/${run}?page=2&sort=asc`)).headers.get("cache-status")).toMatch(/; hit;/);
    expect((await call(`/query/${run}?page=3&sort=asc`)).headers.get("cache-status")).toMatch(/fwd=miss/);
  });

  it("says it bypasses on workers.dev, where the Cache API stores nothing", async () => {
    const response = await call(`/pub/${run}/dev`, { host: "gateway.example.workers.dev" });
    expect(response.headers.get("cache-status")).toBe("edge-gateway; fwd=bypass; detail=workers-dev");
  });

  it("does not cache other methods", async () => {
    const path = `/pub/${run}/post`;
    const post = await call(path, { method: "POST", body: "x" });
    expect(post.headers.get("cache-status")).toBe("edge-gateway; fwd=method");
    await post.text();
    expect((await call(path)).headers.get("cache-status")).toMatch(/fwd=miss/);
  });

  it("adds nothing to a route without cache", () => {
    const table = loadRouteTable({ origins: { echo: { url: "http://127.0.0.1:1" } }, routes: [route("a", "/a"), route("b", "/b", { cache: { ttlSec: 5 } })] });
    const compiled = compileRouteTable(table, POLICIES);
    expect(compiled.routes.map((r) => r.policies)).toEqual([[], ["cache"]]);
  });
});

describe("edge cache: what is not stored", () => {
  it.each([
    ["Set-Cookie", { "x-origin-headers": JSON.stringify({ "set-cookie": "session=abc" }) }, "set-cookie"],
    ["Cache-Control: private", { "x-origin-headers": JSON.stringify({ "cache-control": "private, max-age=60" }) }, "private"],
    ["Cache-Control: no-store", { "x-origin-headers": JSON.stringify({ "cache-control": "no-store" }) }, "no-store"],
    ["a Vary on a header outside the key", { "x-origin-headers": JSON.stringify({ vary: "accept-language" }) }, "vary"],
    ["status 500", { "x-origin-status": "500" }, "status"],
    ["status 302", { "x-origin-status": "302" }, "status"],
    ["status 206", { "x-origin-status": "206" }, "status"],
  ])("does not store a response with %s", async (_, headers, detail) => {
    const path = `/pub/${run}/not-stored/${detail}-${Object.values(headers)[0]!.replace(/[^a-z0-9]/gi, "")}`;
    const first = await call(path, { headers });
    expect(first.headers.get("cache-status")).toBe(`edge-gateway; fwd=miss; fwd-status=${first.status}; detail=${detail}`);
    await first.text();
    expect((await call(path, { headers })).headers.get("cache-status")).toMatch(/fwd=miss/);
    expect(await hitsAt(path)).toBe(2);
  });

  it.each([["404", 404], ["410", 410], ["204", 204], ["301", 301], ["203", 203]])("stores status %s", async (_, status) => {
    const path = `/pub/${run}/status/${status}`;
    const headers = { "x-origin-status": String(status) };
    await (await call(path, { headers })).text();
    const second = await call(path, { headers });
    expect(second.status).toBe(status);
    expect(second.headers.get("cache-status")).toMatch(/; hit;/);
    expect(await hitsAt(path)).toBe(1);
  });

  it("stores a Vary: Accept-Encoding response", async () => {
    const path = `/pub/${run}/vary-ae`;
    const headers = { "x-origin-headers": JSON.stringify({ vary: "Accept-Encoding" }) };
    await (await call(path, { headers })).text();
    expect((await call(path, { headers })).headers.get("cache-status")).toMatch(/; hit;/);
  });

  it("serves a body over maxBodyBytes whole, without storing it", async () => {
    const path = `/pub/${run}/big`;
    const headers = { "x-origin-bytes": "10000" };
    const first = await call(path, { headers });
    expect((await first.arrayBuffer()).byteLength).toBe(10_000);
    const second = await call(path, { headers });
    expect(second.headers.get("cache-status")).toMatch(/fwd=miss/);
    expect((await second.arrayBuffer()).byteLength).toBe(10_000);
    expect(await hitsAt(path)).toBe(2);
  });

  it("revalidates on a client's Cache-Control: no-cache, and stores what the origin says", async () => {
    const path = `/pub/${run}/no-cache`;
    await (await call(path)).text();
    const revalidated = await call(path, { headers: { "cache-control": "no-cache" } });
    expect(revalidated.headers.get("cache-status")).toBe("edge-gateway; fwd=request; fwd-status=200; stored");
    const body = await revalidated.text();
    expect(await hitsAt(path)).toBe(2);
    const after = await call(path);
    expect(after.headers.get("cache-status")).toMatch(/; hit;/);
    expect(await after.text()).toBe(body);
    expect((await call(path, { headers: { pragma: "no-cache" } })).headers.get("cache-status")).toMatch(/fwd=request/);
  });

  it("does not store the response to a request with Cache-Control: no-store", async () => {
    const path = `/pub/${run}/req-no-store`;
    const first = await call(path, { headers: { "cache-control": "no-store" } });
    expect(first.headers.get("cache-status")).toMatch(/detail=request-no-store$/);
    await first.text();
    expect((await call(path)).headers.get("cache-status")).toMatch(/fwd=miss/);
  });
});

describe("edge cache: callers", () => {
  it("never serves one API key's entry to another", async () => {
    const path = `/keyed/${run}/me`;
    const a = await createKey(call, { plan: "std" });
    const b = await createKey(call, { plan: "std" });
    const aFirst = await echoOf(await call(path, { headers: { "x-api-key": a.key } }));
    const bFirst = await call(path, { headers: { "x-api-key": b.key } });
    expect(bFirst.headers.get("cache-status")).toMatch(/fwd=miss/);
    expect((await echoOf(bFirst)).headers["x-request-id"]).not.toBe(aFirst.headers["x-request-id"]);
    const aAgain = await call(path, { headers: { "x-api-key": a.key } });
    expect(aAgain.headers.get("cache-status")).toMatch(/; hit;/);
    expect((await echoOf(aAgain)).headers["x-request-id"]).toBe(aFirst.headers["x-request-id"]);
    expect(await hitsAt(path)).toBe(2);
  });

  it("never serves one JWT subject's entry to another", async () => {
    const path = `/jwt/${run}/me`;
    const alice = { authorization: `Bearer ${await token("alice")}` };
    const bob = { authorization: `Bearer ${await token("bob")}` };
    await (await call(path, { headers: alice })).text();
    expect((await call(path, { headers: bob })).headers.get("cache-status")).toMatch(/fwd=miss/);
    expect((await call(path, { headers: { authorization: `Bearer ${await token("alice")}` } })).headers.get("cache-status")).toMatch(/; hit;/);
    expect(await hitsAt(path)).toBe(2);
  });

  it("authenticates before a hit: a bad or missing credential is refused even when the entry exists", async () => {
    const path = `/shared/${run}/doc`;
    const a = await createKey(call, { plan: "std" });
    const b = await createKey(call, { plan: "std" });
    await (await call(path, { headers: { "x-api-key": a.key } })).text();
    expect((await call(path, { headers: { "x-api-key": b.key } })).headers.get("cache-status")).toMatch(/; hit;/); // shared: one entry
    const missing = await call(path);
    expect(missing.status).toBe(401);
    expect(missing.headers.get("cache-status")).toBeNull();
    expect((await call(path, { headers: { "x-api-key": "gk_" + "x".repeat(40) } })).status).toBe(401);
    expect(await hitsAt(path)).toBe(1);
  });

  it("counts a hit against the rate limit", async () => {
    const path = `/limited/${run}/x`;
    const clientIp = `198.51.100.${Math.floor(Math.random() * 200) + 1}`;
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const response = await call(path, { clientIp });
      statuses.push(response.status);
      await response.text();
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(await hitsAt(path)).toBe(1);
  });
});

describe("edge cache: poisoning", () => {
  it("lets no unkeyed header or cookie change what the origin answers, so nothing is poisoned for others", async () => {
    const path = `/pub/${run}/poison`;
    const attack = await call(path, {
      headers: { "x-forwarded-host": "evil.example", "x-original-url": "/admin", "x-rewrite-url": "/admin", "x-forwarded-scheme": "http", "x-evil": "1", cookie: "session=attacker", "accept-language": "xx" },
    });
    const seen = await echoOf(attack);
    expect(seen.url).toBe(path);
    expect(seen.headers["x-forwarded-host"]).toBe("gateway.test");
    for (const name of ["x-original-url", "x-rewrite-url", "x-forwarded-scheme", "x-evil", "cookie", "accept-language"]) expect(seen.headers[name], name).toBeUndefined();
    const victim = await call(path);
    expect(victim.headers.get("cache-status")).toMatch(/; hit;/);
    expect((await echoOf(victim)).url).toBe(path);
  });
});

describe("edge cache: stale-while-revalidate", () => {
  it("serves a stale entry with fwd=stale while one background request refreshes it", async () => {
    const path = `/swr/${run}/s`;
    const first = await echoOf(await call(path));
    await sleep(1100);
    const stale = await call(path);
    expect(stale.headers.get("cache-status")).toMatch(/^edge-gateway; fwd=stale; ttl=-?\d+$/);
    expect(Number(stale.headers.get("age"))).toBeGreaterThanOrEqual(1);
    expect((await echoOf(stale)).headers["x-request-id"]).toBe(first.headers["x-request-id"]);
    expect(await hitsAt(path)).toBe(2); // the refresh ran before call() returned (waitOnExecutionContext)
    const fresh = await call(path);
    expect(fresh.headers.get("cache-status")).toMatch(/; hit;/);
    expect((await echoOf(fresh)).headers["x-request-id"]).toBe(stale.headers.get("x-request-id"));
  });
});

describe("edge cache: purge through the admin API", () => {
  const purge = (body: unknown) => call("/_gateway/cache/purge", { method: "POST", headers: ADMIN_HEADERS, body: JSON.stringify(body) });

  it("purges a path under its route: that path misses, others still hit", async () => {
    const one = `/pub/${run}/purge/one`, two = `/pub/${run}/purge/two`;
    for (const p of [one, two]) await (await call(p)).text();
    const response = await purge({ route: "pub", path: `/pub/${run}/purge/./one` });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ purged: [{ route: "pub", path: one, generation: 1, widened: false }], effectiveWithinSeconds: 5 });
    expect((await call(one)).headers.get("cache-status")).toMatch(/fwd=miss/);
    expect((await call(two)).headers.get("cache-status")).toMatch(/; hit;/);
  });

  it("purges a path under every cached route that matches it when no route is named", async () => {
    const path = `/query/${run}/by-path`;
    await (await call(path)).text();
    const response = await purge({ path });
    expect(((await response.json()) as { purged: { route: string }[] }).purged.map((p) => p.route)).toEqual(["query"]);
    expect((await call(path)).headers.get("cache-status")).toMatch(/fwd=miss/);
  });

  it("purges a whole route, for every caller", async () => {
    const a = await createKey(call, { plan: "std" });
    const paths = [`/keyed/${run}/r1`, `/keyed/${run}/r2`];
    for (const p of paths) await (await call(p, { headers: { "x-api-key": a.key } })).text();
    expect((await purge({ route: "keyed" })).status).toBe(200);
    for (const p of paths) expect((await call(p, { headers: { "x-api-key": a.key } })).headers.get("cache-status")).toMatch(/fwd=miss/);
  });

  it("refuses an unknown route, a path no cached route matches, and an empty body", async () => {
    expect((await errorOf(await purge({ route: "plain" }))).code).toBe("cache_route_unknown");
    expect((await errorOf(await purge({ path: "/nothing/here" }))).code).toBe("cache_route_unknown");
    expect((await errorOf(await purge({}))).code).toBe("invalid_request");
    expect((await call("/_gateway/cache/purge", { method: "POST", body: "{}" })).status).toBe(401);
  });
});
