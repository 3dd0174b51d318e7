/**
 * Traces, the access log line and Server-Timing through the real gateway app and the real echo
 * origin: the W3C traceparent is continued or started and the origin receives the gateway's own;
 * the log line carries the trace id, the key id, the JWT sub as configured, the colo and bytes, and
 * never a credential; Server-Timing is off unless a route or the table turns it on, and then shows
 * each timed policy's own time.
 */
import { env } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { loadRouteTable } from "../../src/config/index.ts";
import type { GatewayMiddleware } from "../../src/context.ts";
import type { AnyPolicy } from "../../src/policy.ts";
import { parseTraceparent } from "../../src/trace.ts";
import { AUDIENCE, ISSUER, mint, utf8 } from "../../tools/jwt-tokens.ts";
import { TEST_JWT_SECRET } from "../support/jwt-secret.ts";
import { ADMIN_HEADERS, createKey, echoOf, gatewayFor, policiesWith, route, testPolicy } from "../support/worker-gateway.ts";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT = "00f067aa0ba902b7";
const AUTHORIZERS = { main: { type: "jwt", issuer: ISSUER, audience: AUDIENCE, algorithms: ["HS256"], secret: { env: "TEST_JWT_SECRET" } } };
const PLANS = { roomy: { quota: { limit: 1_000, per: "month" } }, two: { quota: { limit: 2, per: "month" } } };
const token = (sub = "user-1") => mint(utf8(TEST_JWT_SECRET), "HS256", undefined, { claims: { sub } });
const sha256Prefix = async (text: string) =>
  [...new Uint8Array(await crypto.subtle.digest("SHA-256", utf8(text)))].slice(0, 16).map((b) => b.toString(16).padStart(2, "0")).join("");

let lines: string[] = [];
beforeEach(() => {
  lines = [];
  vi.spyOn(console, "log").mockImplementation((line: unknown) => { lines.push(String(line)); });
});
afterEach(() => { vi.restoreAllMocks(); });

/** The access log line of the response (found by its request id). */
function logLineOf(response: Response): Record<string, unknown> {
  const id = response.headers.get("x-request-id");
  const line = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.requestId === id && "status" in l);
  if (!line) throw new Error(`no access line for ${id} in ${lines.length} lines`);
  return line;
}

const LOG_ON = { LOG_REQUESTS: "on" };

describe("W3C Trace Context", () => {
  const call = gatewayFor({ routes: [route("traced", "/traced")] }, { bindings: LOG_ON });

  it("continues a valid incoming trace: the origin gets the same trace id with the gateway's span as parent, and the tracestate", async () => {
    const response = await call("/traced", { headers: { traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: "rojo=00f067aa0ba902b7" } });
    const echo = await echoOf(response);
    const sent = parseTraceparent(String(echo.headers.traceparent))!;
    expect(sent.traceId).toBe(TRACE);
    expect(sent.parentId).not.toBe(PARENT);
    expect(sent.flags).toBe("01");
    expect(echo.headers.tracestate).toBe("rojo=00f067aa0ba902b7");
    expect(logLineOf(response).traceId).toBe(TRACE);
  });

  it("starts a trace when there is none or it is invalid, and then never passes the client's values on", async () => {
    for (const headers of [{} as Record<string, string>, { traceparent: `00-${TRACE}-${PARENT}-01-junk`, tracestate: "rojo=1" }, { traceparent: "garbage", tracestate: "rojo=1" }]) {
      const response = await call("/traced", { headers });
      const echo = await echoOf(response);
      const sent = parseTraceparent(String(echo.headers.traceparent))!;
      expect(sent, JSON.stringify(headers)).toBeDefined();
      expect(sent.traceId).not.toBe(TRACE);
      expect(echo.headers.tracestate).toBeUndefined();
      expect(echo.rawHeaders.filter((h) => h.toLowerCase() === "traceparent")).toHaveLength(1);
      expect(logLineOf(response).traceId).toBe(sent.traceId);
    }
  });

  it("keeps traceparent and tracestate out of a route's header edits", () => {
    for (const name of ["traceparent", "tracestate"]) {
      expect(() => loadRouteTable({ origins: { echo: { url: env.ECHO_ORIGIN } }, routes: [route("x", "/x", { requestHeaders: { set: { [name]: "x" } } })] }))
        .toThrow(/managed by the gateway/);
    }
  });
});

describe("the access log line", () => {
  it("carries the trace id, key id, hashed sub, colo, bytes and cache outcome, and no credential", async () => {
    const call = gatewayFor({
      admin: { token: { env: "ADMIN_TOKEN" } }, plans: PLANS, authorizers: AUTHORIZERS,
      routes: [route("both", "/both", { auth: { authorizer: "main", apiKey: true } })],
    }, { bindings: LOG_ON });
    const key = await createKey(call, { plan: "roomy" });
    const jwt = await token("ada@example.com");
    const response = await call("/both", {
      method: "POST", body: "0123456789",
      headers: { authorization: `Bearer ${jwt}`, "x-api-key": key.key, "content-length": "10" },
      cf: { colo: "AMS" },
    });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    const line = logLineOf(response);
    expect(line).toMatchObject({ routeId: "both", status: 200, keyId: key.id, sub: await sha256Prefix("ada@example.com"), colo: "AMS", bytesIn: 10, bytesOut: null, origin: "echo" });
    expect(line.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(line).not.toHaveProperty("code");
    const all = lines.join("\n");
    for (const secret of [key.key, jwt, jwt.split(".")[2]!, TEST_JWT_SECRET, env.ADMIN_TOKEN, "ada@example.com"]) expect(all).not.toContain(secret);
  });

  it("shows the sub as is with logging.sub \"plain\", and not at all with \"off\"", async () => {
    for (const [mode, expected] of [["plain", "u-42"], ["off", undefined]] as const) {
      const call = gatewayFor({ logging: { sub: mode }, authorizers: AUTHORIZERS, routes: [route("jwt", "/jwt", { auth: { authorizer: "main" } })] }, { bindings: LOG_ON });
      const response = await call("/jwt", { headers: { authorization: `Bearer ${await token("u-42")}` } });
      await response.arrayBuffer();
      expect(logLineOf(response).sub, mode).toBe(expected);
    }
  });

  it("carries the gateway's error code and the origin's Content-Length as bytes out", async () => {
    const call = gatewayFor({ plans: PLANS, routes: [route("limited", "/limited", { rateLimit: { plan: "two", by: "ip" } })] }, { bindings: LOG_ON });
    const ip = `198.51.100.${Math.floor(Math.random() * 250)}`;
    const headers = { "x-origin-bytes": "321", "x-origin-headers": JSON.stringify({ "content-length": "321" }) };
    const responses = [];
    for (let i = 0; i < 3; i++) {
      const r = await call("/limited", { headers, clientIp: ip });
      await r.arrayBuffer();
      responses.push(r);
    }
    expect(logLineOf(responses[0]!)).toMatchObject({ status: 200, bytesOut: 321, bytesIn: null });
    expect(logLineOf(responses[2]!)).toMatchObject({ status: 429, code: "quota_exceeded", origin: "echo", originMs: null });
  });
});

/** A stand-in policy with a Server-Timing name that spends `ms` before and after its next(). */
function sleeper(name: string, timing: string, ms: number, refuse = false): AnyPolicy {
  const middleware: GatewayMiddleware = async (_c, next) => {
    await new Promise((resolve) => setTimeout(resolve, ms));
    if (refuse) return new Response("refused by the stand-in", { status: 403 });
    await next();
  };
  return { ...testPolicy(middleware, name), timing };
}

/** name -> dur from a Server-Timing value. */
function timings(header: string | null): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of (header ?? "").split(",")) {
    const m = /^\s*([\w-]+);dur=([\d.]+)\s*$/.exec(part);
    if (!m) throw new Error(`not a Server-Timing metric: "${part}" in "${header}"`);
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

describe("Server-Timing", () => {
  const policies = [sleeper("outer", "auth", 30), sleeper("inner", "limit", 50)];

  it("is never sent unless a route or the table turns it on", async () => {
    const call = gatewayFor({ admin: { token: { env: "ADMIN_TOKEN" } }, routes: [route("plain", "/plain")] }, { policies });
    const response = await call("/plain");
    await response.arrayBuffer();
    expect(response.headers.get("server-timing")).toBeNull();
    const admin = await call("/_gateway/keys?owner=x", { headers: ADMIN_HEADERS });
    expect(admin.headers.get("server-timing")).toBeNull();
  });

  it("shows gw, each timed policy's own time (not the time inside its next()), and the origin", async () => {
    const call = gatewayFor({ routes: [route("timed", "/timed", { serverTiming: true })] }, { policies });
    const response = await call("/timed", { headers: { "x-origin-delay": "20" } });
    await response.arrayBuffer();
    const t = timings(response.headers.get("server-timing"));
    expect(Object.keys(t)).toEqual(["gw", "auth", "limit", "origin"]);
    expect(t.auth).toBeGreaterThanOrEqual(29);
    expect(t.auth).toBeLessThan(45); // 30 ms of its own; the 50 + 20 inside its next() are not its time
    expect(t.limit).toBeGreaterThanOrEqual(49);
    expect(t.limit).toBeLessThan(65);
    expect(t.origin).toBeGreaterThanOrEqual(19);
    expect(t.gw).toBeGreaterThanOrEqual(t.auth! + t.limit! + t.origin! - 1);
  });

  it("is on table-wide for every route that does not turn it off, refusals included", async () => {
    const call = gatewayFor({ serverTiming: true, routes: [route("on", "/on"), route("off", "/off", { serverTiming: false })] },
      { policies: [sleeper("outer", "auth", 5, true)] });
    const on = await call("/on");
    expect(on.status).toBe(403);
    expect(Object.keys(timings(on.headers.get("server-timing")))).toEqual(["gw", "auth"]); // no origin was called
    expect((await call("/off")).headers.get("server-timing")).toBeNull();
  });

  it("names the real policies' steps: auth for the JWT and the API key together, limit for the rate limit", async () => {
    const call = gatewayFor({
      admin: { token: { env: "ADMIN_TOKEN" } }, plans: PLANS, authorizers: AUTHORIZERS,
      routes: [route("real", "/real", { auth: { authorizer: "main", apiKey: true }, rateLimit: { plan: "roomy", by: "ip" }, serverTiming: true })],
    }, { policies: policiesWith(testPolicy(async (_c, next) => { await next(); }, "untimed")) });
    const key = await createKey(call, { plan: "roomy" });
    const response = await call("/real", { headers: { authorization: `Bearer ${await token()}`, "x-api-key": key.key } });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    expect(Object.keys(timings(response.headers.get("server-timing")))).toEqual(["gw", "auth", "limit", "origin"]);
  });
});
