/**
 * `GET /_gateway/upstreams` through the real Worker in workerd: every origin and target of the
 * table, each target's verdict on the real health board (driven by the real scheduled checker
 * against the Node echo origin and a closed port), each target's circuit breaker in the answering
 * isolate (opened by real refused connections), and the 503 when the board cannot be read.
 */
import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { loadRouteTable } from "../../src/config/index.ts";
import type { GatewayBindings } from "../../src/context.ts";
import { forgetHealthView, healthCheckHandler, recordProbes } from "../../src/health/index.ts";
import { ADMIN_HEADERS, errorOf, gatewayFor, route } from "../support/worker-gateway.ts";

const ECHO = env.ECHO_ORIGIN;
const ECHO_HOST = new URL(ECHO).host;
const REFUSED = "http://127.0.0.1:1";
const bindings: GatewayBindings = { ...env };
const admin = { pathPrefix: "/_gateway", token: { env: "ADMIN_TOKEN" } };

type Health = { checked: boolean; healthy?: boolean; failures?: number; successes?: number; checkedAt?: string | null; validUntil?: string | null; detail?: string | null; stale?: boolean };
type Breaker = { state: string; openUntil: string | null; failures: number } | null;
type TargetView = { label: string; url?: string; service?: string; weight: number; health: Health; breaker: Breaker };
type OriginView = { name: string; kind: string; stickyBy: string | null; retries: unknown; circuitBreaker: unknown; healthCheck: unknown; targets: TargetView[] };
type UpstreamsView = { at: string; breakerScope: string; origins: OriginView[] };

type Call = ReturnType<typeof gatewayFor>;

async function upstreamsOf(call: Call): Promise<UpstreamsView> {
  const response = await call("/_gateway/upstreams", { headers: ADMIN_HEADERS });
  if (response.status !== 200) throw new Error(`GET /upstreams answered ${response.status}: ${await response.text()}`);
  expect(response.headers.get("cache-control")).toBe("no-store");
  return (await response.json()) as UpstreamsView;
}

const originOf = (view: UpstreamsView, name: string) => view.origins.find((o) => o.name === name)!;

/** Runs the Worker's scheduled health checker once over `origins`, as the Cron Trigger would at `time`. */
async function cronRun(origins: Record<string, unknown>, time: number): Promise<void> {
  const { origins: parsed } = loadRouteTable({ origins, routes: [] });
  const ctx = createExecutionContext();
  await healthCheckHandler(parsed)(createScheduledController({ scheduledTime: time, cron: "* * * * *" }), bindings, ctx);
  await waitOnExecutionContext(ctx);
}

/** The start of a minute in the past (a past run never waits for its rounds). */
const pastMinute = () => Math.floor(Date.now() / 60_000) * 60_000 - 5 * 60_000;

beforeEach(() => forgetHealthView());

describe("GET /upstreams: the table", () => {
  const call = gatewayFor({
    admin,
    origins: {
      users: {
        targets: [{ url: `${ECHO}/a`, weight: 95 }, { url: REFUSED, weight: 5 }, { service: "AUTH_WORKER", weight: 0 }],
        stickyBy: "ip",
        retries: { attempts: 2, on: ["connect", 503] },
        circuitBreaker: { consecutiveFailures: 3, openSec: 20 },
      },
      auth: { service: "AUTH_WORKER" },
      plain: { url: `${ECHO}/plain/` },
    },
    routes: [route("users", "/users", { origin: "users", requestHeaders: { set: { "x-origin-key": "literal-origin-credential" } } })],
  });

  it("lists every origin in table order and every target with its weight, a plain url or service origin as one target", async () => {
    const view = await upstreamsOf(call);
    expect(view.breakerScope).toBe("this isolate");
    expect(Math.abs(Date.parse(view.at) - Date.now())).toBeLessThan(60_000);
    expect(view.origins.map((o) => [o.name, o.kind])).toEqual([["echo", "url"], ["users", "targets"], ["auth", "service"], ["plain", "url"]]);

    expect(originOf(view, "users")).toEqual({
      name: "users", kind: "targets", stickyBy: "ip",
      retries: { attempts: 2, on: ["connect", 503], budgetPercent: 10 },
      circuitBreaker: { consecutiveFailures: 3, openSec: 20 },
      healthCheck: null,
      targets: [
        { label: `${ECHO_HOST}/a`, url: `${ECHO}/a`, weight: 95, health: { checked: false }, breaker: { state: "closed", openUntil: null, failures: 0 } },
        { label: "127.0.0.1:1", url: REFUSED, weight: 5, health: { checked: false }, breaker: { state: "closed", openUntil: null, failures: 0 } },
        { label: "service:AUTH_WORKER", service: "AUTH_WORKER", weight: 0, health: { checked: false }, breaker: { state: "closed", openUntil: null, failures: 0 } },
      ],
    });
    expect(originOf(view, "auth")).toMatchObject({ stickyBy: null, retries: null, circuitBreaker: null, targets: [{ label: "service:AUTH_WORKER", service: "AUTH_WORKER", weight: 1, breaker: null }] });
    expect(originOf(view, "plain").targets).toEqual([{ label: `${ECHO_HOST}/plain`, url: `${ECHO}/plain/`, weight: 1, health: { checked: false }, breaker: null }]);
  });

  it("needs the admin token (401 without it, or with a wrong one)", async () => {
    const wrong: Record<string, string>[] = [{}, { authorization: "Bearer not-the-token" }];
    for (const headers of wrong) {
      const response = await call("/_gateway/upstreams", { headers });
      expect(response.status).toBe(401);
      expect((await errorOf(response)).code).toBe("admin_unauthorized");
    }
  });

  it("shows origins only: no route's header values", async () => {
    const response = await call("/_gateway/upstreams", { headers: ADMIN_HEADERS });
    expect(await response.text()).not.toContain("literal-origin-credential");
  });

  it("does not call the health board when no origin has a health check", async () => {
    // The board stand-in would fail any read: the answer is still 200.
    const noBoard = gatewayFor({ admin, origins: { plain: { url: ECHO } }, routes: [] }, { bindings: { UPSTREAM_HEALTH: failingBoard() } });
    expect((await upstreamsOf(noBoard)).origins.map((o) => o.name)).toEqual(["echo", "plain"]);
  });
});

describe("GET /upstreams: health verdicts from the board", () => {
  const origins = {
    checkedUsers: { targets: [{ url: `${ECHO}/a` }, { url: REFUSED }], healthCheck: { path: "/healthz", intervalSec: 60, unhealthyAfter: 1, healthyAfter: 2 } },
    unchecked: { url: `${ECHO}/u` },
  };
  const call = gatewayFor({ admin, origins, routes: [] });

  it("shows a failing target unhealthy with its probe's detail and times, a passing one healthy, an unchecked origin checked: false", async () => {
    const before = Date.now();
    await cronRun(origins, pastMinute());
    const view = await upstreamsOf(call);
    const [up, down] = originOf(view, "checkedUsers").targets;
    expect(originOf(view, "checkedUsers").healthCheck).toEqual({ path: "/healthz", intervalSec: 60, timeoutMs: 2000, unhealthyAfter: 1, healthyAfter: 2 });
    expect(up!.health).toMatchObject({ checked: true, healthy: true, failures: 0, successes: 1, detail: "200", stale: false });
    expect(down!.health).toMatchObject({ checked: true, healthy: false, failures: 1, successes: 0, detail: "connect", stale: false });
    const checkedAt = Date.parse(down!.health.checkedAt!);
    expect(checkedAt).toBeGreaterThanOrEqual(before - 1000);
    // An out verdict stands for three intervals, at least three minutes, after its probe.
    expect(Date.parse(down!.health.validUntil!) - checkedAt).toBe(180_000);
    expect(originOf(view, "unchecked").targets[0]!.health).toEqual({ checked: false });
    expect(originOf(view, "echo").targets[0]!.health).toEqual({ checked: false });
  });

  it("shows a health-checked target the checker has not probed yet as healthy with no times", async () => {
    const fresh = gatewayFor({ admin, origins: { neverProbed: { url: `${ECHO}/n`, healthCheck: { path: "/healthz" } } }, routes: [] });
    expect(originOf(await upstreamsOf(fresh), "neverProbed").targets[0]!.health).toEqual({
      checked: true, healthy: true, failures: 0, successes: 0, checkedAt: null, validUntil: null, detail: null, stale: false,
    });
  });

  it("marks a verdict past its validUntil as stale (forwarding no longer applies it)", async () => {
    const key = `checkedUsers ${REFUSED}`;
    await recordProbes(env.UPSTREAM_HEALTH, [{ key, ok: false, detail: "503", unhealthyAfter: 1, healthyAfter: 2, validForMs: 0 }], [key]);
    const down = originOf(await upstreamsOf(call), "checkedUsers").targets[1]!;
    expect(down.health).toMatchObject({ checked: true, healthy: false, detail: "503", stale: true });
    expect(down.health.validUntil).toBe(down.health.checkedAt);
  });
});

describe("GET /upstreams: circuit breakers in this isolate", () => {
  it("shows the target whose circuit refused connections opened as open with openUntil, and the others closed", async () => {
    const call = gatewayFor({
      admin,
      origins: { flaky: { targets: [{ url: REFUSED }, { url: `${ECHO}/b` }, { url: `${ECHO}/c` }], circuitBreaker: { consecutiveFailures: 2, openSec: 30 } } },
      routes: [route("flaky", "/flaky", { origin: "flaky" })],
    });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await call("/flaky")).status);
    expect(statuses.filter((s) => s === 502).length).toBe(2);

    const view = await upstreamsOf(call);
    const [refused, b, c] = originOf(view, "flaky").targets;
    expect(refused!.breaker).toMatchObject({ state: "open", failures: 0 });
    const openFor = Date.parse(refused!.breaker!.openUntil!) - Date.parse(view.at);
    expect(openFor).toBeGreaterThan(25_000);
    expect(openFor).toBeLessThanOrEqual(30_000);
    expect(b!.breaker).toEqual({ state: "closed", openUntil: null, failures: 0 });
    expect(c!.breaker).toEqual({ state: "closed", openUntil: null, failures: 0 });
  });

  it("counts failures in a row below the threshold on a closed circuit", async () => {
    const call = gatewayFor({
      admin,
      origins: { lone: { url: REFUSED, circuitBreaker: { consecutiveFailures: 5, openSec: 30 } } },
      routes: [route("lone", "/lone", { origin: "lone" })],
    });
    for (let i = 0; i < 3; i++) expect((await call("/lone")).status).toBe(502);
    expect(originOf(await upstreamsOf(call), "lone").targets[0]!.breaker).toEqual({ state: "closed", openUntil: null, failures: 3 });
  });
});

/** A stand-in for the UPSTREAM_HEALTH namespace whose object never answers a read (a board that is down). */
function failingBoard() {
  return {
    idFromName: (name: string) => ({ name }),
    get: () => ({ states: () => Promise.reject(new Error("board down (test stand-in)")) }),
  };
}

describe("GET /upstreams: the board cannot be read", () => {
  const table = { admin, origins: { checked: { url: `${ECHO}/c`, healthCheck: { path: "/healthz" } } }, routes: [] };

  it("answers 503 health_board_unavailable in the envelope, with Retry-After, when the board's read fails", async () => {
    const call = gatewayFor(table, { bindings: { UPSTREAM_HEALTH: failingBoard() } });
    const response = await call("/_gateway/upstreams", { headers: { ...ADMIN_HEADERS, "x-request-id": "upstreams-503" } });
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("1");
    expect(await errorOf(response)).toEqual({ code: "health_board_unavailable", message: "The health board cannot be read right now; try again shortly.", requestId: "upstreams-503" });
  });

  it("answers the same when the UPSTREAM_HEALTH binding is missing", async () => {
    const call = gatewayFor(table, { bindings: { UPSTREAM_HEALTH: undefined } });
    const response = await call("/_gateway/upstreams", { headers: ADMIN_HEADERS });
    expect(response.status).toBe(503);
    expect((await errorOf(response)).code).toBe("health_board_unavailable");
  });
});
