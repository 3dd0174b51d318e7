/**
 * Origins with targets, through the real Worker inside workerd: weighted and sticky choice,
 * failover with retries, the circuit breaker, service bindings, and the access log line. Targets
 * are the real Node echo origin under different base paths (so the echo's path says which target
 * answered) and a closed port (refused).
 */
import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { compileRouteTable } from "../../src/router/index.ts";
import { loadRouteTable } from "../../src/config/index.ts";
import { POLICIES } from "../../src/policies/index.ts";
import { ISSUER, AUDIENCE, mint, utf8 } from "../../tools/jwt-tokens.ts";
import { TEST_JWT_SECRET } from "../support/jwt-secret.ts";
import { createKey, echoOf, errorOf, gatewayFor, route } from "../support/worker-gateway.ts";

const ECHO = env.ECHO_ORIGIN;
const REFUSED = "http://127.0.0.1:1";

afterEach(() => vi.restoreAllMocks());

/** Which target answered: the first segment of the path the echo origin saw. */
async function targetOf(response: Response): Promise<string> {
  return (await echoOf(response)).url.split("/")[1]!;
}

/** The access log lines written while `work` runs (LOG_REQUESTS on). */
async function logLines(work: () => Promise<void>): Promise<Record<string, unknown>[]> {
  const lines: string[] = [];
  vi.spyOn(console, "log").mockImplementation((line: unknown) => { lines.push(String(line)); });
  await work();
  vi.restoreAllMocks();
  return lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => "routeId" in l);
}

describe("a plain url origin", () => {
  it("compiles to the forwarding path it always had: no targets, no bookkeeping", () => {
    const table = loadRouteTable({ origins: { plain: { url: ECHO }, many: { targets: [{ url: ECHO }] } }, routes: [route("p", "/p", { origin: "plain" }), route("m", "/m", { origin: "many" })] });
    const { routes } = compileRouteTable(table, POLICIES);
    expect(routes[0]!.plan!.origin.upstream).toBeUndefined();
    expect(routes[1]!.plan!.origin.upstream?.targets.map((t) => t.label)).toEqual([new URL(ECHO).host]);
  });
});

describe("weighted targets", () => {
  const call = gatewayFor({
    origins: { users: { targets: [{ url: `${ECHO}/a`, weight: 3 }, { url: `${ECHO}/b`, weight: 1 }, { url: `${ECHO}/drained`, weight: 0 }] } },
    routes: [route("users", "/users/*", { origin: "users" })],
  });

  it("sends each target exactly its share, interleaved, and none to a drained target", async () => {
    const seen: string[] = [];
    for (let i = 0; i < 40; i++) seen.push(await targetOf(await call("/users/1")));
    expect(seen.filter((t) => t === "a").length).toBe(30);
    expect(seen.filter((t) => t === "b").length).toBe(10);
    // Smooth weighted round robin: the canary's share is spread out, never two in a row here.
    expect(seen.join("")).not.toContain("bb");
  });

  it("joins each target's own base path to the forwarded path", async () => {
    expect((await echoOf(await call("/users/7?x=1"))).url).toMatch(/^\/[ab]\/users\/7\?x=1$/);
  });
});

describe("failover and retries", () => {
  const call = gatewayFor({
    origins: {
      pair: { targets: [{ url: REFUSED }, { url: `${ECHO}/up` }], retries: { attempts: 1, on: ["connect"], budgetPercent: 100 } },
      noRetry: { targets: [{ url: REFUSED }, { url: `${ECHO}/up` }] },
    },
    routes: [route("pair", "/pair", { origin: "pair" }), route("plain", "/plain", { origin: "noRetry" })],
  }, { bindings: { LOG_REQUESTS: "on" } });

  it("answers every safe request while one target refuses: the retry goes to the other target, and the log line says so", async () => {
    const lines = await logLines(async () => {
      for (let i = 0; i < 10; i++) expect(await targetOf(await call("/pair"))).toBe("up");
    });
    const retried = lines.filter((l) => l.retries !== undefined);
    expect(retried.length).toBe(5); // the refusing target's turns
    for (const line of retried) {
      expect(line.retries).toEqual([{ target: "127.0.0.1:1", outcome: "connect" }]);
      expect(line.target).toBe(`${new URL(ECHO).host}/up`);
    }
  });

  it("never retries a POST; retries one with an Idempotency-Key", async () => {
    const statuses: number[] = [];
    const lines = await logLines(async () => {
      for (let i = 0; i < 4; i++) statuses.push((await call("/pair", { method: "POST" })).status);
    });
    expect(statuses.sort()).toEqual([200, 200, 502, 502]);
    expect(lines.filter((l) => l.status === 502).map((l) => l.retryDenied)).toEqual(["method", "method"]);
    for (let i = 0; i < 4; i++) expect((await call("/pair", { method: "POST", headers: { "idempotency-key": `k-${i}` } })).status).toBe(200);
  });

  it("never retries a request with a body, whatever its method", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await call("/pair", { method: "PUT", body: "replace me" })).status);
    expect(statuses.sort()).toEqual([200, 200, 502, 502]);
  });

  it("without retries, a refused try is the client's 502", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await call("/plain")).status);
    expect(statuses.sort()).toEqual([200, 200, 502, 502]);
  });
});

describe("the circuit breaker", () => {
  it("opens after consecutive failures and then answers 503 origin_unavailable at once, with Retry-After", async () => {
    const call = gatewayFor({
      origins: { down: { url: REFUSED, circuitBreaker: { consecutiveFailures: 3, openSec: 30 } } },
      routes: [route("down", "/down", { origin: "down" })],
    });
    for (let i = 0; i < 3; i++) expect((await call("/down")).status).toBe(502);
    const open = await call("/down");
    expect(open.status).toBe(503);
    expect((await errorOf(open)).code).toBe("origin_unavailable");
    expect(Number(open.headers.get("retry-after"))).toBeGreaterThanOrEqual(29);
    expect(Number(open.headers.get("retry-after"))).toBeLessThanOrEqual(30);
  });

  it("skips an open target, so its traffic goes to the others by weight", async () => {
    const call = gatewayFor({
      origins: { pair: { targets: [{ url: REFUSED }, { url: `${ECHO}/b` }, { url: `${ECHO}/c` }], circuitBreaker: { consecutiveFailures: 1, openSec: 60 } } },
      routes: [route("pair", "/pair", { origin: "pair" })],
    });
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push((await call("/pair")).status);
    expect(statuses.filter((s) => s === 502).length).toBe(1);
    const after: string[] = [];
    for (let i = 0; i < 20; i++) after.push(await targetOf(await call("/pair")));
    expect(after.filter((t) => t === "b").length).toBe(10);
  });

  it("lets one probe through after openSec and closes again when it succeeds", async () => {
    const call = gatewayFor({
      origins: { flaky: { targets: [{ url: `${ECHO}/ok` }], circuitBreaker: { consecutiveFailures: 2, openSec: 1 } } },
      routes: [route("flaky", "/flaky", { origin: "flaky" })],
    });
    // The echo origin answers 503 when asked: two of them open the circuit.
    for (let i = 0; i < 2; i++) expect((await call("/flaky", { headers: { "x-origin-status": "503" } })).status).toBe(503);
    expect((await errorOf(await call("/flaky"))).code).toBe("origin_unavailable");
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await call("/flaky")).status).toBe(200); // the probe
    for (let i = 0; i < 3; i++) expect((await call("/flaky")).status).toBe(200);
  });
});

describe("sticky targets", () => {
  const targets = ["a", "b", "c", "d"].map((name) => ({ url: `${ECHO}/${name}` }));
  const call = gatewayFor({
    origins: { byIp: { targets, stickyBy: "ip" }, bySub: { targets, stickyBy: "jwt:sub" } },
    authorizers: { internal: { type: "jwt", issuer: ISSUER, audience: AUDIENCE, algorithms: ["HS256"], secret: { env: "TEST_JWT_SECRET" } } },
    routes: [
      route("ip", "/ip", { origin: "byIp" }),
      route("sub", "/sub", { origin: "bySub", auth: { authorizer: "internal" } }),
    ],
  });

  it("keeps each client IP on one target, and spreads the IPs over all of them", async () => {
    const placed = new Map<string, string>();
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 40; i++) {
        const ip = `198.51.100.${i}`;
        const target = await targetOf(await call("/ip", { clientIp: ip }));
        if (round === 0) placed.set(ip, target);
        else expect(target, ip).toBe(placed.get(ip));
      }
    }
    expect(new Set(placed.values()).size).toBe(4);
  });

  it("keeps each API key on one target", async () => {
    const keyed = gatewayFor({
      origins: { byKey: { targets, stickyBy: "apiKey" } },
      plans: { basic: { quota: { limit: 1000, per: "month" } } },
      admin: { token: { env: "ADMIN_TOKEN" } },
      routes: [route("key", "/key", { origin: "byKey", auth: { apiKey: true } })],
    });
    const keys = await Promise.all(Array.from({ length: 8 }, () => createKey(keyed, { owner: "sticky-test", plan: "basic" })));
    const placed = new Map<string, string>();
    for (let round = 0; round < 3; round++) {
      for (const { key, id } of keys) {
        const target = await targetOf(await keyed("/key", { headers: { "x-api-key": key } }));
        if (round === 0) placed.set(id, target);
        else expect(target, id).toBe(placed.get(id));
      }
    }
    expect(new Set(placed.values()).size).toBeGreaterThan(1);
  });

  it("keeps each token subject on one target", async () => {
    const key = utf8(TEST_JWT_SECRET);
    const placed = new Map<string, string>();
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 12; i++) {
        const token = await mint(key, "HS256", undefined, { claims: { sub: `user-${i}` } });
        const target = await targetOf(await call("/sub", { headers: { authorization: `Bearer ${token}` } }));
        if (round === 0) placed.set(`user-${i}`, target);
        else expect(target).toBe(placed.get(`user-${i}`));
      }
    }
    expect(new Set(placed.values()).size).toBeGreaterThan(1);
  });
});

describe("a service binding as the origin", () => {
  const call = gatewayFor({
    origins: {
      auth: { service: "AUTH_WORKER", timeoutMs: 500 },
      missing: { service: "NO_SUCH_BINDING" },
    },
    routes: [
      route("auth", "/auth/*", { origin: "auth", stripPrefix: "/auth", requestHeaders: { set: { "x-api-version": "2" } } }),
      route("missing", "/missing", { origin: "missing" }),
    ],
  });

  it("forwards to the other Worker with the same header hygiene, no public hop", async () => {
    const response = await call("/auth/login?next=%2F", {
      method: "POST", body: "user=ann",
      headers: { "x-forwarded-for": "6.6.6.6", "cf-connecting-ip": "6.6.6.6", "x-gateway-room-connect": "forged", connection: "close" },
      clientIp: "203.0.113.9",
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-request-id")).toBeTruthy();
    const seen = (await response.json()) as { worker: string; method: string; url: string; headers: Record<string, string>; body: string };
    expect(seen.worker).toBe("service");
    expect(seen.method).toBe("POST");
    expect(new URL(seen.url).pathname + new URL(seen.url).search).toBe("/login?next=%2F");
    expect(new URL(seen.url).host).toBe("gateway.test");
    expect(seen.body).toBe("user=ann");
    expect(seen.headers["x-forwarded-for"]).toBe("203.0.113.9");
    expect(seen.headers["x-api-version"]).toBe("2");
    expect(seen.headers["x-request-id"]).toBe(response.headers.get("x-request-id"));
    expect(seen.headers["x-gateway-room-connect"]).toBeUndefined();
    expect(seen.headers["cf-connecting-ip"]).toBeUndefined();
  });

  it("answers 504 when the Worker does not answer within the origin's timeout", async () => {
    const started = Date.now();
    const response = await call("/auth/slow", { headers: { "x-service-delay": "3000" } });
    expect(response.status).toBe(504);
    expect((await errorOf(response)).code).toBe("origin_timeout");
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("refuses with 500 internal_error, and says why in the operator log, when the binding does not exist", async () => {
    const errors: string[] = [];
    vi.spyOn(console, "error").mockImplementation((line: unknown) => { errors.push(String(line)); });
    const response = await call("/missing");
    expect(response.status).toBe(500);
    expect((await errorOf(response)).code).toBe("internal_error");
    expect(errors.some((l) => l.includes("service_binding_missing") && l.includes("NO_SUCH_BINDING"))).toBe(true);
  });
});
