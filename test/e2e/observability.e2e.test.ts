/**
 * Metrics, traces and the access log over real HTTP: the bundled Worker on `workerd serve` (each
 * request its own request context, the MetricsShard objects in SQLite on a temporary disk) in front
 * of a real Node origin. Usage read back through the admin API equals what was sent; the Prometheus
 * scrape reads under a strict reader; the origin receives the continued trace; and nothing workerd
 * printed, from start to stop, holds a key, token or secret the test used.
 */
import { describe, expect, it } from "vitest";
import { startEchoOrigin } from "../support/echo-origin.ts";
import { useGateway } from "../support/e2e-gateway.ts";
import { parsePrometheusText, sampleValue } from "../support/prometheus-format.ts";
import { AUDIENCE, ISSUER, mint, utf8 } from "../../tools/jwt-tokens.ts";

const ADMIN_TOKEN = "e2e-observability-admin-token-7f3a9c";
const HMAC_SECRET = "e2e-observability-hmac-secret-0123456789abcdef-fedcba9876543210";
const SUBJECT = "grace.hopper@example.com";
const TRACE = "0af7651916cd43dd8448eb211c80319c";
const e2e = useGateway({ echo: startEchoOrigin }, ({ echo }) => ({
  routes: {
    origins: { echo: { url: echo.url } },
    plans: { roomy: { quota: { limit: 1000, per: "day" } } },
    authorizers: {
      main: {
        type: "jwt", issuer: ISSUER, audience: AUDIENCE, algorithms: ["HS256"], secret: { env: "JWT_SECRET" },
        tokenSources: [{ header: "authorization" }, { query: "access_token" }],
      },
    },
    admin: { token: { env: "ADMIN_TOKEN" } },
    routes: [
      { id: "keyed", path: "/v1/keyed/*", origin: "echo", auth: { apiKey: true } },
      { id: "jwt", path: "/v1/jwt/*", origin: "echo", auth: { authorizer: "main" } },
      { id: "timed", path: "/v1/timed", origin: "echo", auth: "none", serverTiming: true },
    ],
  },
  bindings: { ADMIN_TOKEN, JWT_SECRET: HMAC_SECRET },
}));

const admin = async (path: string, init: RequestInit = {}) =>
  fetch(`${e2e.gateway.url}/_gateway${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json", ...init.headers } });

async function statusesOf(n: number, url: string, init: RequestInit = {}): Promise<number[]> {
  // Concurrent, as real clients are: each request is its own request context in workerd.
  return Promise.all(Array.from({ length: n }, async () => {
    const response = await fetch(url, init);
    await response.arrayBuffer();
    return response.status;
  }));
}

describe("metrics, traces and logs over real HTTP", () => {
  const used: string[] = [HMAC_SECRET, ADMIN_TOKEN, SUBJECT];

  it("reads back through the admin API exactly the requests sent, per route and per key", async () => {
    const created = await admin("/keys", { method: "POST", body: JSON.stringify({ name: "e2e", owner: "e2e", plan: "roomy" }) });
    expect(created.status).toBe(201);
    const { id, key } = (await created.json()) as { id: string; key: string };
    const wrongKey = "gw_" + "A".repeat(43);
    const jwt = await mint(utf8(HMAC_SECRET), "HS256", undefined, { claims: { sub: SUBJECT } });
    const forged = await mint(utf8("not-the-secret-but-still-a-credential-0123456789"), "HS256", undefined, { claims: { sub: SUBJECT } });
    used.push(key, key.slice(3), wrongKey, jwt, jwt.split(".")[2]!, forged, forged.split(".")[2]!, "wrong-admin-token-e2e-4411");

    expect(await statusesOf(25, `${e2e.gateway.url}/v1/keyed/orders`, { headers: { "x-api-key": key } })).toEqual(Array(25).fill(200));
    expect(await statusesOf(3, `${e2e.gateway.url}/v1/keyed/orders`, { headers: { "x-api-key": wrongKey } })).toEqual(Array(3).fill(401));
    expect(await statusesOf(20, `${e2e.gateway.url}/v1/jwt/me`, { headers: { authorization: `Bearer ${jwt}` } })).toEqual(Array(20).fill(200));
    expect(await statusesOf(2, `${e2e.gateway.url}/v1/jwt/me?access_token=${jwt}&page=2`)).toEqual([200, 200]);
    expect(await statusesOf(1, `${e2e.gateway.url}/v1/jwt/me`, { headers: { authorization: `Bearer ${forged}` } })).toEqual([401]);
    expect((await fetch(`${e2e.gateway.url}/_gateway/metrics`, { headers: { authorization: "Bearer wrong-admin-token-e2e-4411" } })).status).toBe(401);

    const keyed = (await (await admin("/metrics?route=keyed")).json()) as { routes: { totals: { requests: number; errors: Record<string, number> }; topKeys: { key: string; requests: number }[] }[] };
    expect(keyed.routes[0]!.totals).toMatchObject({ requests: 28, errors: { api_key_invalid: 3 } });
    expect(keyed.routes[0]!.topKeys).toEqual([expect.objectContaining({ key: id, requests: 25 })]);
    const byKey = (await (await admin(`/metrics?key=${id}`)).json()) as { routes: { route: string; totals: { requests: number } }[] };
    expect(byKey.routes.map((r) => [r.route, r.totals.requests])).toEqual([["keyed", 25]]);

    const scrape = await admin("/metrics/prometheus");
    expect(scrape.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const families = parsePrometheusText(await scrape.text());
    expect(sampleValue(families, "gateway_requests_total", { route: "jwt", class: "2xx" })).toBe(22);
    expect(sampleValue(families, "gateway_requests_total", { route: "jwt", class: "4xx" })).toBe(1);
    expect(sampleValue(families, "gateway_errors_total", { route: "jwt", code: "token_invalid" })).toBe(1);
    expect(sampleValue(families, "gateway_request_duration_seconds_count", { route: "keyed" })).toBe(28);
  });

  it("continues the caller's trace to the origin, logs its trace id, and sends Server-Timing where the route asks", async () => {
    const response = await fetch(`${e2e.gateway.url}/v1/timed`, { headers: { traceparent: `00-${TRACE}-b7ad6b7169203331-01` } });
    const echo = (await response.json()) as { headers: Record<string, string> };
    expect(echo.headers.traceparent).toMatch(new RegExp(`^00-${TRACE}-(?!b7ad6b7169203331)[0-9a-f]{16}-01$`));
    expect(response.headers.get("server-timing")).toMatch(/^gw;dur=[\d.]+, origin;dur=[\d.]+$/);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(e2e.gateway.output()).toContain(`"traceId":"${TRACE}"`);
  });

  it("never prints a key, token or secret it was given, anywhere in workerd's output", async () => {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const output = e2e.gateway.output();
    // The access log ran (so the search below searched something), with the fields it should have.
    expect(output).toContain(`"routeId":"keyed"`);
    expect(output).toMatch(/"keyId":"key_[0-9a-f]{20}"/);
    expect(output).toMatch(/"routeId":"jwt"[^\n]*"sub":"[0-9a-f]{32}"/);
    expect(used.length).toBeGreaterThan(10);
    for (const secret of used) expect(output.includes(secret), `output holds ${secret.slice(0, 12)}…`).toBe(false);
  });
});
