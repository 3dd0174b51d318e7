/**
 * The edge cache end to end: the bundled gateway on plain `workerd serve`, its Cache API backed by
 * tools/cache-service.js through workerd's own Cache API client (`cacheApiOutbound`), in front of a
 * real Node origin that counts every request it receives, driven over real HTTP.
 *
 * What this proves and what it cannot: the gateway's keys, storage rules, Cache-Status/Age, purges and
 * header narrowing through workerd's real Cache API implementation; the storage behind it is a
 * test backend, not Cloudflare's (which keeps entries per data center and only on custom domains).
 */
import type { IncomingMessage } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listenOnLoopback, useGateway } from "../support/e2e-gateway.ts";
import { startGateway, type GatewayProcess } from "../support/gateway-process.ts";

const ADMIN_TOKEN = "e2e-admin-token";

/**
 * An origin with the habits that make caches dangerous: it honours X-Original-URL (as IIS and some
 * frameworks do) and reflects X-Forwarded-Host into links. It counts requests per URL and keeps the
 * headers of each.
 */
async function startCacheOrigin() {
  const hits = new Map<string, number>();
  const seen: IncomingMessage["headers"][] = [];
  const origin = await listenOnLoopback((req, res) => {
    const url = req.headers["x-original-url"] ? String(req.headers["x-original-url"]) : req.url!;
    const n = (hits.get(req.url!) ?? 0) + 1;
    hits.set(req.url!, n);
    seen.push(req.headers);
    if (url.startsWith("/c/cookie")) res.setHeader("set-cookie", "session=abc");
    if (url.startsWith("/c/big")) {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      res.end(Buffer.alloc(1_000_000, 0x62));
      return;
    }
    if (url.startsWith("/admin")) {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("ADMIN PANEL");
      return;
    }
    res.writeHead(200, { "content-type": "application/json", "cache-control": "public, max-age=5" });
    res.end(JSON.stringify({ url, n, link: `https://${req.headers["x-forwarded-host"]}/next` }));
  });
  return { ...origin, hits, seen };
}

const routesTo = (origin: { url: string }) => ({
  origins: { app: { url: origin.url } },
  plans: { std: { rate: { limit: 1000, per: "1s" } } },
  admin: { token: { env: "ADMIN_TOKEN" } },
  routes: [
    { id: "public", path: "/c/*", origin: "app", auth: "none", cache: { ttlSec: 60, keyQuery: ["page"] } },
    { id: "mine", path: "/me/*", origin: "app", auth: { apiKey: true }, cache: { ttlSec: 60 } },
  ],
});

const e2e = useGateway({ origin: startCacheOrigin }, ({ origin }) => ({ routes: routesTo(origin), bindings: { ADMIN_TOKEN }, cache: true }));

// The same table on a gateway without a Cache API, in front of the same origin.
let uncached: GatewayProcess;
beforeAll(async () => { uncached = await startGateway({ routes: routesTo(e2e.origin), bindings: { ADMIN_TOKEN } }); }, 60_000);
afterAll(async () => { await uncached?.stop(); });

const get = (path: string, headers: Record<string, string> = {}, base = e2e.gateway.url) => fetch(base + path, { headers });
const admin = (path: string, body: unknown) =>
  fetch(e2e.gateway.url + "/_gateway" + path, { method: "POST", headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" }, body: JSON.stringify(body) });
async function newKey(): Promise<string> {
  const response = await admin("/keys", { name: "e2e", owner: "e2e", plan: "std" });
  expect(response.status).toBe(201);
  return ((await response.json()) as { key: string }).key;
}

describe("edge cache on workerd with a Cache API", () => {
  it("serves the second GET from the cache with Cache-Status and Age, and the origin sees one request", async () => {
    const first = await get("/c/one");
    expect(first.headers.get("cache-status")).toBe("edge-gateway; fwd=miss; fwd-status=200; stored");
    const body = await first.text();
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const second = await get("/c/one");
    expect(second.headers.get("cache-status")).toMatch(/^edge-gateway; hit; ttl=5\d$/);
    expect(Number(second.headers.get("age"))).toBeGreaterThanOrEqual(1);
    expect(second.headers.get("cache-control")).toBe("public, max-age=5"); // the origin's, as it sent it
    expect(await second.text()).toBe(body);
    expect(e2e.origin.hits.get("/c/one")).toBe(1);
  });

  it("keeps two API keys' entries apart", async () => {
    const [a, b] = [await newKey(), await newKey()];
    const aBody = await (await get("/me/profile", { "x-api-key": a })).text();
    const bFirst = await get("/me/profile", { "x-api-key": b });
    expect(bFirst.headers.get("cache-status")).toMatch(/fwd=miss/);
    expect(await bFirst.text()).not.toBe(aBody);
    const aAgain = await get("/me/profile", { "x-api-key": a });
    expect(aAgain.headers.get("cache-status")).toMatch(/; hit;/);
    expect(await aAgain.text()).toBe(aBody);
    expect((await get("/me/profile")).status).toBe(401);
    expect(e2e.origin.hits.get("/me/profile")).toBe(2);
  });

  it("cannot be poisoned through X-Forwarded-Host, X-Original-URL or an unkeyed parameter", async () => {
    const attack = await get("/c/home?page=1&cb=evil", { "x-forwarded-host": "evil.example", "x-original-url": "/admin", "x-host": "evil.example" });
    const attacked = JSON.parse(await attack.text()) as { url: string; link: string };
    expect(attacked.url).toBe("/c/home?page=1");
    expect(attacked.link).not.toContain("evil");
    const victim = await get("/c/home?page=1");
    expect(victim.headers.get("cache-status")).toMatch(/; hit;/);
    const served = await victim.text();
    expect(served).not.toContain("evil");
    expect(served).not.toContain("ADMIN");
    expect(e2e.origin.seen.at(-1)!["x-original-url"]).toBeUndefined();
  });

  it("does not store a response with Set-Cookie", async () => {
    await (await get("/c/cookie")).text();
    const second = await get("/c/cookie");
    expect(second.headers.get("cache-status")).toBe("edge-gateway; fwd=miss; fwd-status=200; detail=set-cookie");
    expect(e2e.origin.hits.get("/c/cookie")).toBe(2);
  });

  it("streams a 1 MB body through on a miss and serves it whole from the cache", async () => {
    const first = await get("/c/big");
    expect((await first.arrayBuffer()).byteLength).toBe(1_000_000);
    const second = await get("/c/big");
    expect(second.headers.get("cache-status")).toMatch(/; hit;/);
    expect((await second.arrayBuffer()).byteLength).toBe(1_000_000);
    expect(e2e.origin.hits.get("/c/big")).toBe(1);
  });

  it("purges by path through the admin API", async () => {
    await (await get("/c/purged")).text();
    const purge = await admin("/cache/purge", { route: "public", path: "/c/purged" });
    expect(purge.status).toBe(200);
    expect((await get("/c/purged")).headers.get("cache-status")).toMatch(/fwd=miss/);
    expect(e2e.origin.hits.get("/c/purged")).toBe(2);
  });

  it("works uncached, saying so, where there is no Cache API", async () => {
    const response = await get("/c/uncached", {}, uncached.url);
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-status")).toBe("edge-gateway; fwd=bypass; detail=no-cache-api");
  });
});
