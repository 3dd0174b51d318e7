/**
 * CORS as a real browser enforces it: headless Chromium (Debian's `chromium`, driven by
 * playwright-core) loads a page from one loopback origin and `fetch`es the real gateway (the bundled
 * Worker on `workerd serve`) on another, in front of a real Node origin. What the page can or cannot
 * read is decided by Chromium's own CORS checks, preflight included, not by anything this test does.
 *
 * Needs /usr/bin/chromium (.ci/run installs it with apt-get when it can); without it, this file is
 * skipped with a message saying so.
 */
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEchoOrigin } from "../support/echo-origin.ts";
import { startGateway, type GatewayProcess } from "../support/gateway-process.ts";
import { AUDIENCE, ISSUER, mint } from "../../tools/jwt-tokens.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const available = existsSync(CHROMIUM);
if (!available) console.warn(`SKIPPED: the browser CORS tests need Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);

const SECRET = "browser-only-hmac-secret-0123456789abcdef-0123456789";

/** A page server: every path answers a blank HTML page, so the page's origin is this server's. */
async function pageServer(): Promise<{ server: Server; origin: string }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end("<!doctype html><title>app</title><p>app</p>");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

interface FetchResult { ok: true; status: number; body: unknown; requestId: string | null } 
interface FetchFailure { ok: false; error: string }

/** `fetch` run by the page itself: the browser applies CORS to it. */
function pageFetch(page: Page, url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<FetchResult | FetchFailure> {
  return page.evaluate(async ({ url, init }) => {
    try {
      const response = await fetch(url, init); // cross-origin: mode "cors", the default
      const text = await response.text();
      return { ok: true as const, status: response.status, body: text ? JSON.parse(text) : null, requestId: response.headers.get("x-request-id") };
    } catch (err) {
      return { ok: false as const, error: String(err) };
    }
  }, { url, init });
}

describe.skipIf(!available)("a browser app calling a JWT route through the gateway", () => {
  let allowed: Awaited<ReturnType<typeof pageServer>>;
  let other: Awaited<ReturnType<typeof pageServer>>;
  let origin: Awaited<ReturnType<typeof startEchoOrigin>>;
  let gateway: GatewayProcess;
  let browser: Browser;
  let token: string;

  beforeAll(async () => {
    [allowed, other, origin] = await Promise.all([pageServer(), pageServer(), startEchoOrigin()]);
    token = await mint(new TextEncoder().encode(SECRET), "HS256", undefined, { claims: { iss: ISSUER, aud: AUDIENCE, sub: "browser-user" } });
    gateway = await startGateway({
      routes: {
        origins: { echo: { url: origin.url } },
        authorizers: { app: { type: "jwt", issuer: ISSUER, audience: AUDIENCE, algorithms: ["HS256"], secret: { env: "BROWSER_JWT_SECRET" } } },
        defaults: { cors: { allowOrigins: [allowed.origin], exposeHeaders: ["x-request-id"], maxAgeSec: 0 } },
        routes: [
          // Every method: before the gateway answered preflights, the browser's OPTIONS got 401 here.
          { id: "me", path: "/v1/me", origin: "echo", auth: { authorizer: "app" }, identityHeaders: { "x-user-id": "sub" } },
          { id: "items", path: "/v1/items", methods: ["PUT"], origin: "echo", auth: { authorizer: "app" } },
        ],
      },
      bindings: { BROWSER_JWT_SECRET: SECRET },
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // playwright-core gives each launch a fresh temporary profile (user data dir) of its own.
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await gateway?.stop();
    for (const s of [allowed?.server, other?.server, origin?.server]) { s?.closeAllConnections(); s?.close(); }
  });

  async function pageAt(pageOrigin: string): Promise<Page> {
    const page = await browser.newPage();
    await page.goto(`${pageOrigin}/app`);
    return page;
  }

  it("lets a page from the allowed origin send Authorization (a preflighted request) and read the JSON", async () => {
    const page = await pageAt(allowed.origin);
    const result = await pageFetch(page, `${gateway.url}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
    await page.close();
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.status).toBe(200);
    const echo = result.body as { method: string; headers: Record<string, string> };
    expect(echo.method).toBe("GET");
    expect(echo.headers["x-user-id"]).toBe("browser-user");
    // Readable only because the gateway exposes it.
    expect(result.requestId).toMatch(/^[0-9a-f-]{36}$/);
    // The preflight was answered by the gateway (204, no route), never forwarded nor refused.
    expect(gateway.output()).toMatch(/"method":"OPTIONS","path":"\/v1\/me","status":204/);
  });

  it("lets a preflighted PUT through to a route that allows only PUT (no 405 for the preflight)", async () => {
    const page = await pageAt(allowed.origin);
    const result = await pageFetch(page, `${gateway.url}/v1/items`, { method: "PUT", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: "{\"a\":1}" });
    await page.close();
    expect(result).toMatchObject({ ok: true, status: 200, body: { method: "PUT" } });
  });

  it("lets the allowed page read the gateway's 401 error body", async () => {
    const page = await pageAt(allowed.origin);
    const result = await pageFetch(page, `${gateway.url}/v1/me`, { headers: { authorization: "Bearer not-a-token" } });
    await page.close();
    expect(result).toMatchObject({ ok: true, status: 401, body: { error: { code: "token_malformed" } } });
  });

  it("blocks a page from another origin, with and without a preflight", async () => {
    const page = await pageAt(other.origin);
    const preflighted = await pageFetch(page, `${gateway.url}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
    const simple = await pageFetch(page, `${gateway.url}/v1/me`);
    await page.close();
    expect(preflighted).toMatchObject({ ok: false, error: expect.stringContaining("Failed to fetch") });
    expect(simple).toMatchObject({ ok: false, error: expect.stringContaining("Failed to fetch") });
  });
});
