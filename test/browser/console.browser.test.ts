/**
 * The console in a real browser: headless Chromium (Debian's package) against the bundled gateway
 * served by workerd on loopback, with a real Node origin and real `ws` clients in a room. The flow
 * an operator follows: sign in, issue a key and read it once, watch its usage move as the test
 * calls a key route with it, disable and revoke it, then open a room, see its connections, message
 * one and disconnect another. Every page is screenshotted to .ci/out/, checked with axe-core, and
 * must log no console error and no CSP violation.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { AUDIENCE, ISSUER, mint, utf8 } from "../../tools/jwt-tokens.ts";
import { chromiumPath, launchChromium, screenshot, watchedPage, type WatchedPage } from "./chromium.ts";
import { startEchoOrigin } from "../support/echo-origin.ts";
import { freePort, startGateway, type GatewayProcess } from "../support/gateway-process.ts";
import { projectCompatibilityDate } from "../../tools/workerd.ts";

const TOKEN = "console-admin-token-0123456789";
const JWT_SECRET = "console-test-hmac-secret-0123456789abcdef-0123456789";
const executable = chromiumPath();
if (!executable) console.warn("Chromium not found (CHROMIUM_PATH or /usr/bin/chromium): the console's browser tests are skipped. Install Debian's chromium package; .ci/run does.");

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

let origin: Awaited<ReturnType<typeof startEchoOrigin>>;
/** A loopback port nothing listens on: the `pool` origin's target there refuses every connection. */
let closedPort = 0;
let gateway: GatewayProcess;
let browser: Browser;
let watched: WatchedPage;
const sockets: WebSocket[] = [];

describe.skipIf(!executable)("the console in Chromium", () => {
  beforeAll(async () => {
    origin = await startEchoOrigin();
    closedPort = await freePort();
    [gateway, browser] = await Promise.all([
      startGateway({
        routes: {
          origins: {
            echo: { url: origin.url },
            // For the Upstreams page: a target on a closed port, a healthy one and a drained one,
            // with a breaker that real refused requests open and a health check the test's cron runs.
            pool: {
              targets: [{ url: `http://127.0.0.1:${closedPort}`, weight: 1 }, { url: `${origin.url}/live`, weight: 1 }, { url: `${origin.url}/drained`, weight: 0 }],
              circuitBreaker: { consecutiveFailures: 2, openSec: 300 },
              healthCheck: { path: "/healthz", intervalSec: 60, unhealthyAfter: 1, healthyAfter: 1 },
            },
          },
          plans: { starter: { rate: { limit: 50, per: "1s" }, quota: { limit: 100, per: "day" } }, pro: { quota: { limit: 10000, per: "month" } } },
          authorizers: { users: { type: "jwt", issuer: ISSUER, audience: AUDIENCE, algorithms: ["HS256"], secret: { env: "USER_JWT_SECRET" } } },
          admin: { token: { env: "ADMIN_TOKEN" } },
          routes: [
            { id: "orders", path: "/v1/orders/*", origin: "echo", auth: { apiKey: true } },
            { id: "reports", path: "/v1/reports/*", methods: ["GET"], origin: "echo", auth: { apiKey: { scopes: ["reports:read"] } }, cache: { ttlSec: 30 } },
            { id: "chat", path: "/v1/chat/:room", auth: { authorizer: "users" }, room: { name: ":room", identityClaims: ["name", "role"] } },
            { id: "pool", path: "/v1/pool", origin: "pool", auth: "none" },
          ],
        },
        bindings: { ADMIN_TOKEN: TOKEN, USER_JWT_SECRET: JWT_SECRET },
        // The Cron Trigger's scheduled handler, run through a service binding (plain workerd has no
        // cron of its own), as test/e2e/upstreams.e2e.test.ts runs it.
        services: [{ name: "cron", modules: [{ name: "cron-trigger.js", path: fileURLToPath(new URL("../support/cron-trigger.js", import.meta.url)) }], compatibilityDate: projectCompatibilityDate(), compatibilityFlags: ["service_binding_extra_handlers"], services: { GATEWAY: "gateway" } }],
        sockets: { cron: "cron" },
        experimental: true, // the cron Worker's service_binding_extra_handlers
      }),
      launchChromium(executable!),
    ]);
    watched = await watchedPage(browser);
  });

  afterAll(async () => {
    for (const ws of sockets) ws.terminate();
    await browser?.close();
    await gateway?.stop();
    origin?.server.closeAllConnections();
    origin?.server.close();
  });

  const ui = () => `${gateway.url}/_gateway/ui`;
  const callOrders = async (key: string) => {
    const response = await fetch(`${gateway.url}/v1/orders/42`, { headers: { "x-api-key": key } });
    const body = await response.text();
    return { status: response.status, code: response.ok ? null : (JSON.parse(body) as { error: { code: string } }).error.code };
  };
  /** axe-core, evaluated through the DevTools protocol (the page's CSP forbids injected scripts, as it should). */
  const serious = async () => {
    const { page } = watched;
    if (!(await page.evaluate(() => "axe" in globalThis))) await page.evaluate(axeSource);
    const result = await page.evaluate(async () => {
      const run = (globalThis as unknown as { axe: { run: (context: Document, options: object) => Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } }).axe.run;
      return run(document, { resultTypes: ["violations"] });
    });
    return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  };
  /**
   * Takes one expected refused call out of the console errors (Chromium logs every 4xx fetch as
   * "Failed to load resource"), failing when it did not happen: the page handled it, it is no error.
   */
  const refused = (status: number, path: string) => {
    const at = watched.errors.findIndex((e) => e.includes(`status of ${status}`) && e.includes(`${gateway.url}/_gateway${path}`));
    expect(at, `a ${status} answer to ${path} in ${JSON.stringify(watched.errors)}`).toBeGreaterThanOrEqual(0);
    watched.errors.splice(at, 1);
  };
  const clean = async () => {
    expect(watched.errors).toEqual([]);
    expect(await watched.violations()).toEqual([]);
    expect(await serious()).toEqual([]);
  };

  it("shows the sign-in page, and a wrong token gets a clear error", async () => {
    const { page } = watched;
    await page.goto(ui());
    await expect.poll(() => page.getByLabel("Admin token").isVisible()).toBe(true);
    await screenshot(page, "sign-in");
    await clean();

    await page.getByLabel("Admin token").fill("not-the-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    const alert = page.getByRole("alert");
    await alert.waitFor();
    expect(await alert.textContent()).toBe("Sign-in failed: the gateway refused this admin token. Check the value of the secret named in admin.token.");
    await screenshot(page, "sign-in-refused");
    refused(401, "/plans");
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await clean();
  });

  it("signs in with the token by keyboard alone, keeping it in sessionStorage only", async () => {
    const { page } = watched;
    await page.getByLabel("Admin token").fill(TOKEN);
    await page.getByLabel("Admin token").press("Enter");
    await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem("gateway-admin-token"))).toBe(TOKEN);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
    expect(await page.context().cookies()).toEqual([]);
    expect(page.url()).not.toContain(TOKEN);
    // The bundled gateway has the metrics API: the overview says its numbers come from there.
    await expect.poll(() => page.locator("#overview-source").textContent(), { timeout: 15_000 }).toContain("From the metrics API");
    await screenshot(page, "overview");
    await clean();

    // The pages are links in a navigation landmark, reached with Tab and followed with Enter.
    let focused = "";
    for (let i = 0; i < 10 && focused !== "Keys"; i++) {
      await page.keyboard.press("Tab");
      focused = await page.evaluate(() => document.activeElement?.textContent ?? "");
    }
    expect(focused).toBe("Keys");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { level: 1, name: "Keys" }).waitFor();
    // The heading is drawn first and focused by an effect that runs after the paint, so wait for the
    // focus to arrive rather than reading it in the same instant (CI once read the link, "A", here).
    await expect.poll(() => page.evaluate(() => document.activeElement?.tagName), { timeout: 5_000 }).toBe("H1");
  });

  let keyId = "";
  let key = "";

  it("creates a key and shows it once, with a copy button and a clear word to store it", async () => {
    const { page } = watched;
    await page.getByLabel("Name", { exact: true }).fill("Checkout service");
    await page.getByLabel("Owner", { exact: true }).fill("acme");
    await page.getByLabel("Plan", { exact: true }).selectOption("starter");
    await page.getByLabel("Scopes", { exact: true }).fill("orders:read");
    await page.getByRole("button", { name: "Create key" }).click();
    await page.getByRole("heading", { name: "Store this key now" }).waitFor();
    expect(await page.getByText("This is the only time the key is shown.").isVisible()).toBe(true);
    key = await page.locator("#new-key").inputValue();
    expect(key).toMatch(/^gw_[A-Za-z0-9_-]{43}$/);
    expect(await page.getByRole("button", { name: "Copy key" }).isVisible()).toBe(true);
    keyId = (await page.locator("#detail-title .mono").textContent())!;
    expect(keyId).toMatch(/^key_[0-9a-f]{20}$/);
    await screenshot(page, "keys-created");
    await clean();

    await page.getByRole("button", { name: "I have stored it" }).click();
    expect(await page.content()).not.toContain(key.slice(3));
  });

  it("shows the usage bar move as the key is used", async () => {
    const { page } = watched;
    const quota = page.locator(`#quota-${keyId}`);
    await quota.waitFor();
    expect(await quota.evaluate((meter: HTMLMeterElement) => [meter.value, meter.max])).toEqual([0, 100]);
    for (let i = 0; i < 3; i++) expect(await callOrders(key)).toEqual({ status: 200, code: null });
    await expect.poll(() => quota.evaluate((meter: HTMLMeterElement) => meter.value), { timeout: 10_000 }).toBe(3);
    expect(await page.getByText("Quota per day: 3 of 100 used").isVisible()).toBe(true);
    await screenshot(page, "keys-usage");
  });

  it("falls back to requests per minute from the keys' usage on a gateway whose metrics API answers 404", async () => {
    // A gateway without the metrics API (one older than it): the browser answers its calls with the
    // gateway's 404 envelope, and the page charts the keys' quota counters instead.
    const other = await watchedPage(browser);
    const { page } = other;
    await page.route(/\/_gateway\/metrics\?/, (route) => route.fulfill({
      status: 404, contentType: "application/json",
      body: JSON.stringify({ error: { code: "not_found", message: "No admin endpoint here.", requestId: "test" } }),
    }));
    await page.goto(ui());
    await page.getByLabel("Admin token").fill(TOKEN);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.locator("#overview-source").textContent(), { timeout: 15_000 }).toContain("This gateway has no metrics API");
    const row = page.getByRole("row", { name: new RegExp(keyId) });
    await expect.poll(() => row.textContent(), { timeout: 15_000 }).toContain("3 of 100");
    for (let i = 0; i < 6; i++) expect((await callOrders(key)).status).toBe(200);
    const chart = page.getByRole("img", { name: /^Requests per minute \(admitted, from key quotas\)\. Latest: All sampled keys: \d/ });
    await chart.waitFor({ timeout: 15_000 });
    await expect.poll(() => row.textContent(), { timeout: 15_000 }).toContain("9 of 100");
    await screenshot(page, "overview-key-usage");
    // The 404 is asked once per page load; the page expects it, and logs nothing else.
    expect(other.errors.length).toBe(1);
    expect(other.errors[0]).toMatch(/status of 404 .*\/_gateway\/metrics\?/);
    expect(await other.violations()).toEqual([]);
    await page.context().close();
  });

  it("shows an answer of the metrics API it cannot read as an error with its request id, not as \"Loading…\"", async () => {
    const other = await watchedPage(browser);
    const { page } = other;
    await page.route(/\/_gateway\/metrics\?/, (route) => route.fulfill({
      status: 200, contentType: "application/json", headers: { "x-request-id": "req-unreadable-1" },
      body: JSON.stringify({ step: 60, series: [] }),
    }));
    await page.goto(ui());
    await page.getByLabel("Admin token").fill(TOKEN);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.locator("#overview-source").textContent(), { timeout: 15_000 }).toContain("The overview could not be loaded");
    expect(await page.getByRole("alert").textContent()).toMatch(/^The gateway's answer to \/metrics is not in a shape this console reads.* \(unreadable_answer, HTTP 200, request id req-unreadable-1\)$/);
    expect(other.errors).toEqual([]);
    await page.context().close();
  });

  it("charts each route from the gateway's metrics API: requests per minute, error rate, p50 and p99", async () => {
    const { page } = watched;
    await page.getByRole("link", { name: "Overview" }).click();
    // The 9 calls of the tests above, counted by the gateway's recorder (the metrics API flushes it before reading).
    const row = page.getByRole("row", { name: /^orders/ });
    await expect.poll(async () => (await row.count()) > 0 ? row.locator("td").first().textContent() : null, { timeout: 15_000 }).toBe("9");
    for (let i = 0; i < 2; i++) expect((await callOrders(key)).status).toBe(200);
    expect((await fetch(`${gateway.url}/v1/orders/42`)).status).toBe(401);
    await expect.poll(() => row.locator("td").first().textContent(), { timeout: 15_000 }).toBe("12");
    const cells = await row.locator("td").allTextContents();
    expect(cells[1]).toBe("8.3 %");
    for (const cell of cells.slice(2)) expect(cell).toMatch(/^\d[\d,]*\.\d$/);
    for (const title of ["Requests per minute", "Error rate (4xx and 5xx)", "Latency p50 (ms)", "Latency p99 (ms)"]) {
      const chart = page.getByRole("img", { name: new RegExp(`^${title.replace(/[()]/g, "\\$&")}\\. Latest: .*orders: \\d`) });
      await chart.waitFor();
    }
    await screenshot(page, "overview-metrics");
    await clean();

    await page.getByRole("link", { name: "Keys" }).click();
    await page.getByRole("button", { name: `Manage Checkout service (${keyId})` }).click();
    await page.locator(`#quota-${keyId}`).waitFor();
  });

  it("finds the key by owner and by name", async () => {
    const { page } = watched;
    for (const term of ["acme", "checkout"]) {
      await page.getByLabel("Search by owner or name").fill(term);
      await page.getByRole("button", { name: "Search" }).click();
      await expect.poll(() => page.locator("tbody tr").first().textContent()).toContain(keyId);
    }
    await page.getByLabel("Search by owner or name").fill("nobody-has-this");
    await page.getByRole("button", { name: "Search" }).click();
    await page.getByText(`No keys match "nobody-has-this".`).waitFor();
  });

  it("rotates the key (the new one shown once, the old one refused), resets its usage and changes its plan", async () => {
    const { page } = watched;
    await page.getByRole("button", { name: "Rotate…" }).click();
    await page.getByRole("dialog", { name: "Rotate Checkout service?" }).getByRole("button", { name: "Rotate key" }).click();
    await page.getByRole("heading", { name: "Store this key now" }).waitFor();
    const rotated = await page.locator("#new-key").inputValue();
    expect(rotated).toMatch(/^gw_[A-Za-z0-9_-]{43}$/);
    expect(rotated).not.toBe(key);
    expect(await callOrders(key)).toEqual({ status: 401, code: "api_key_invalid" });
    expect(await callOrders(rotated)).toEqual({ status: 200, code: null });
    key = rotated;
    await page.getByRole("button", { name: "I have stored it" }).click();

    const quota = page.locator(`#quota-${keyId}`);
    await expect.poll(() => quota.evaluate((meter: HTMLMeterElement) => meter.value)).toBeGreaterThan(0);
    await page.getByRole("button", { name: "Reset usage…" }).click();
    await page.getByRole("dialog", { name: "Reset the usage of Checkout service?" }).getByRole("button", { name: "Reset usage" }).click();
    await page.getByText("Usage reset.").waitFor();
    await expect.poll(() => quota.evaluate((meter: HTMLMeterElement) => meter.value)).toBe(0);
    expect(gateway.output()).toContain(`"code":"usage_reset","keyId":"${keyId}"`);

    await page.getByLabel("New plan").selectOption("pro");
    await page.getByRole("button", { name: "Change plan" }).click();
    await page.getByText("Plan changed.").waitFor();
    await expect.poll(() => quota.evaluate((meter: HTMLMeterElement) => meter.max)).toBe(10000);
    await screenshot(page, "keys-rotated-reset-replanned");
    await clean();
  });

  it("grants a scope, and the route that requires it admits the key", async () => {
    const { page } = watched;
    const reports = async () => (await fetch(`${gateway.url}/v1/reports/q3`, { headers: { "x-api-key": key } })).status;
    expect(await reports()).toBe(403);
    await page.getByLabel("Scopes of this key").fill("orders:read reports:read");
    await page.getByRole("button", { name: "Save scopes" }).click();
    await page.getByText("Scopes saved.").waitFor();
    await expect.poll(reports, { timeout: 5_000 }).toBe(200);
  });

  it("disables the key, and the call fails; enables it, and the call works", async () => {
    const { page } = watched;
    await page.getByRole("button", { name: "Disable" }).click();
    await page.getByText("Disabled: calls with this key are refused").waitFor();
    expect(await callOrders(key)).toEqual({ status: 403, code: "api_key_disabled" });
    await page.getByRole("button", { name: "Enable" }).click();
    await page.getByText("Enabled.").waitFor();
    await expect.poll(async () => (await callOrders(key)).status, { timeout: 5_000 }).toBe(200);
  });

  it("revokes the key after a confirmation that Escape cancels", async () => {
    const { page } = watched;
    await page.getByRole("button", { name: "Revoke…" }).click();
    const dialog = page.getByRole("dialog", { name: "Revoke Checkout service?" });
    await dialog.waitFor();
    await screenshot(page, "keys-confirm-revoke");
    await clean();
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
    expect(await callOrders(key)).toMatchObject({ status: 200 });

    await page.getByRole("button", { name: "Revoke…" }).click();
    await dialog.getByRole("button", { name: "Revoke key" }).click();
    await page.getByText("This key is revoked: it can no longer be used or changed.").waitFor();
    expect(await callOrders(key)).toEqual({ status: 403, code: "api_key_revoked" });
    await screenshot(page, "keys-revoked");
    await clean();
  });

  it("shows plans and routes with each route's policies in order", async () => {
    const { page } = watched;
    await page.getByRole("link", { name: "Plans and routes" }).click();
    await page.getByRole("heading", { level: 1, name: "Plans and routes" }).waitFor();
    const starter = page.getByRole("row", { name: /starter/ });
    await starter.waitFor();
    expect(await starter.textContent()).toContain("100 per day");
    const reports = page.getByRole("row", { name: /^reports/ });
    expect(await reports.textContent()).toContain("API key with scopes reports:read");
    expect(await reports.locator("ol.chain li").allTextContents()).toEqual(["api-key", "rate-limit", "cache"]);
    expect(await page.getByRole("row", { name: /^chat/ }).locator("ol.chain li").allTextContents()).toEqual(["jwt", "room"]);
    await screenshot(page, "routes");
    await clean();
  });

  it("shows each origin's targets: a refused one unhealthy with its circuit open, a healthy one, a drained one, and whose breakers they are", async () => {
    const { page } = watched;
    await page.getByRole("link", { name: "Upstreams" }).click();
    await page.getByRole("heading", { level: 1, name: "Upstreams" }).waitFor();
    await expect.poll(() => page.evaluate(() => document.activeElement?.tagName), { timeout: 5_000 }).toBe("H1");
    const pool = page.getByRole("region", { name: "pool (targets)" });
    const target = (label: RegExp) => pool.getByRole("row", { name: label });
    const refusedRow = target(new RegExp(`^127\\.0\\.0\\.1:${closedPort}(?!\\d)`));
    const liveRow = target(/\/live/);
    // Shown before any probe: the board starts every target healthy, and the page says none was probed.
    await refusedRow.waitFor();
    expect(await refusedRow.textContent()).toContain("Not probed yet");
    expect(await pool.textContent()).toContain("3 targets by weight · not sticky · no retries · breaker: opens after 2 failures in a row, for 300 s · health check: GET /healthz every 60 s");
    expect(await page.getByRole("region", { name: "echo (url)" }).getByRole("row", { name: /^127\.0\.0\.1/ }).textContent()).toContain("Not checked");

    // Real requests: the closed port refuses them (502) until its circuit opens after two.
    let refused = 0;
    for (let i = 0; i < 60 && refused < 2; i++) {
      const status = (await fetch(`${gateway.url}/v1/pool`)).status;
      expect([200, 502]).toContain(status);
      if (status === 502) refused++;
    }
    expect(refused).toBe(2);
    // Then the Cron Trigger's health check probes every target once.
    const run = await fetch(`${gateway.urls.cron}/run?time=${Date.now()}`, { method: "POST" });
    expect(await run.json()).toEqual({ outcome: "ok" });

    await page.getByRole("button", { name: "Refresh" }).click();
    await expect.poll(() => refusedRow.textContent(), { timeout: 10_000 }).toContain("Unhealthy");
    const refusedCells = await refusedRow.locator("td").allTextContents();
    expect(refusedCells[0]).toBe("1");
    expect(refusedCells[1]).toMatch(/^Unhealthy1 probe failed in a row; kept out of traffic \(verdict valid until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)$/);
    expect(refusedCells[2]).toMatch(/^could not connect \(connect\)\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    expect(refusedCells[3]).toMatch(/^Openskipped until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    // The out states are words in bold, not colour alone.
    expect(await refusedRow.locator(".state.out strong").allTextContents()).toEqual(["Unhealthy", "Open"]);
    const liveCells = await liveRow.locator("td").allTextContents();
    expect(liveCells[1]).toBe("Healthy1 probe passed in a row");
    expect(liveCells[2]).toMatch(/^HTTP 200\d{4}-/);
    expect(liveCells[3]).toBe("Closed");
    expect(await target(/\/drained/).locator("td").first().textContent()).toBe("0 (drained)");
    expect(await pool.textContent()).toContain("2 of 3 targets out (drained, unhealthy or circuit open).");
    // Whose breakers, and as of when.
    expect(await page.locator("#breaker-scope").textContent()).toMatch(/^Circuit breaker states are those of this isolate, the gateway isolate that answered, at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC: each isolate keeps its own/);
    expect(await page.locator("#upstreams-status").textContent()).toMatch(/^Answer of \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\.$/);
    await screenshot(page, "upstreams");
    await clean();
  });

  it("shows the upstreams view's 503 as its envelope with the request id, and says a gateway without the view (404) is older", async () => {
    const other = await watchedPage(browser);
    const { page } = other;
    let answer = { status: 503, body: { error: { code: "health_board_unavailable", message: "The health board cannot be read right now; try again shortly.", requestId: "req-board-down-1" } } };
    await page.route(/\/_gateway\/upstreams$/, (route) => route.fulfill({ status: answer.status, contentType: "application/json", body: JSON.stringify(answer.body) }));
    await page.goto(`${ui()}#/upstreams`);
    await page.getByLabel("Admin token").fill(TOKEN);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { level: 1, name: "Upstreams" }).waitFor();
    const alert = page.getByRole("alert");
    await alert.waitFor();
    expect(await alert.textContent()).toBe("The health board cannot be read right now; try again shortly. (health_board_unavailable, HTTP 503, request id req-board-down-1)");
    expect(await page.locator("#upstreams-status").textContent()).toBe("Could not load the upstreams.");
    await screenshot(page, "upstreams-503");

    answer = { status: 404, body: { error: { code: "not_found", message: "No admin endpoint here.", requestId: "req-old-1" } } };
    await page.getByRole("button", { name: "Refresh" }).click();
    await page.getByText("This gateway has no upstreams view").waitFor();
    expect(await page.getByRole("alert").count()).toBe(0);
    // Each refusal was asked for and shown; Chromium logs each, and nothing else.
    expect(other.errors).toHaveLength(2);
    expect(other.errors[0]).toMatch(/status of 503 .*\/_gateway\/upstreams/);
    expect(other.errors[1]).toMatch(/status of 404 .*\/_gateway\/upstreams/);
    expect(await other.violations()).toEqual([]);
    await page.context().close();
  });

  it("lists a room's connections with sub and claims, sends one a message and disconnects another", async () => {
    const connect = async (sub: string, name: string) => {
      const token = await mint(utf8(JWT_SECRET), "HS256", undefined, { claims: { sub, name, role: "member" } });
      const ws = new WebSocket(`${gateway.url.replace("http", "ws")}/v1/chat/lobby`, { headers: { authorization: `Bearer ${token}` } });
      sockets.push(ws);
      const frames: Record<string, unknown>[] = [];
      ws.on("message", (data) => frames.push(JSON.parse(String(data)) as Record<string, unknown>));
      await new Promise<void>((resolve, reject) => { ws.once("open", () => resolve()); ws.once("error", reject); });
      await expect.poll(() => frames.find((f) => f.type === "welcome")).toBeTruthy();
      return { ws, frames, id: frames.find((f) => f.type === "welcome")!.id as string };
    };
    const alice = await connect("alice", "Alice");
    const bob = await connect("bob", "Bob");

    const { page } = watched;
    await page.getByRole("link", { name: "Rooms" }).click();
    const row = page.getByRole("row", { name: /lobby/ });
    await expect.poll(() => row.textContent(), { timeout: 10_000 }).toContain("2");
    await page.getByRole("button", { name: "Open room lobby" }).click();
    const aliceRow = page.getByRole("row", { name: new RegExp(alice.id) });
    await aliceRow.waitFor();
    expect(await aliceRow.textContent()).toContain("alice");
    expect(await aliceRow.textContent()).toContain(`{"name":"Alice","role":"member"}`);
    expect(await page.getByRole("row", { name: new RegExp(bob.id) }).textContent()).toContain("bob");
    await screenshot(page, "rooms");
    await clean();

    await page.getByLabel(`Message to ${alice.id}`).fill(`{"text":"hello from the console"}`);
    await page.getByLabel(`Message to ${alice.id}`).press("Enter");
    await expect.poll(() => alice.frames.find((f) => f.type === "message")).toMatchObject({ type: "message", from: null, data: { text: "hello from the console" } });
    expect(bob.frames.find((f) => f.type === "message")).toBeUndefined();

    await page.getByLabel("Broadcast to everyone").fill("hello everyone");
    await page.getByRole("button", { name: "Broadcast" }).click();
    await page.getByText("Broadcast delivered to 2 connections.").waitFor();
    for (const client of [alice, bob]) await expect.poll(() => client.frames.find((f) => f.type === "message" && f.data === "hello everyone")).toBeTruthy();

    await page.getByRole("button", { name: `Disconnect ${bob.id}` }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Disconnect" }).click();
    // The room's close frame reaches bob at once (ws then waits out the TCP close: known gap, docs/rooms.md).
    await expect.poll(() => bob.ws.readyState).toBeGreaterThanOrEqual(WebSocket.CLOSING);
    await page.getByText(`Disconnected ${bob.id}.`).waitFor();
    await expect.poll(() => page.getByRole("row", { name: new RegExp(bob.id) }).count()).toBe(0);
    await screenshot(page, "rooms-after-disconnect");
    await clean();
  });

  it("shows the gateway's error with its request id, never a blank page", async () => {
    const { page } = watched;
    await page.getByLabel("Broadcast to everyone").fill("x".repeat(10));
    // A room API error: an oversized push is refused by the gateway (413) and shown as its envelope.
    await page.evaluate(() => { (document.getElementById("broadcast-data") as HTMLInputElement).value = "y".repeat(1_100_000); });
    await page.getByRole("button", { name: "Broadcast" }).click();
    const alert = page.getByRole("alert");
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/^The body may be at most 1048576 bytes\. \(payload_too_large, HTTP 413, request id [\w-]+\)$/);
    refused(413, "/rooms/lobby/broadcast");
    await clean();
  });

  it("goes back to sign-in when signed out, and the token is gone", async () => {
    const { page } = watched;
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("Admin token").waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
  });

  it("catches a CSP violation when there is one (the check can fail)", async () => {
    const { page } = watched;
    await page.evaluate(() => { const script = document.createElement("script"); script.textContent = "window.__ran = true"; document.body.append(script); });
    await expect.poll(() => watched.violations()).toContainEqual(expect.stringMatching(/^script-src/));
    expect(await page.evaluate(() => (globalThis as unknown as { __ran?: boolean }).__ran)).toBeUndefined();
  });
});
