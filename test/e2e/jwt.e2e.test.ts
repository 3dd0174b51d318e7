/**
 * The JWT authorizer in the real Worker served by `workerd serve`, with a real JWKS server and a
 * real origin on loopback. Here every HTTP request is its own request context, as in production,
 * so this is where sharing one JWKS fetch across requests is proven (inside vitest's workerd all
 * calls of a test share one context).
 */
import { describe, expect, it } from "vitest";
import { startEchoOrigin } from "../support/echo-origin.ts";
import { useGateway } from "../support/e2e-gateway.ts";
import { startJwksServer } from "../support/jwt-jwks-server.ts";
import { AUDIENCE, ISSUER, mint, mintWith, testKeyPair, utf8, type TestKeyPair } from "../../tools/jwt-tokens.ts";
import { jwksServer } from "../support/jwt-tokens.ts";

const SECRET = "e2e-only-hmac-secret-0123456789abcdef-0123456789abcdef";
let server: ReturnType<typeof jwksServer>;
let k1: TestKeyPair;
let k2: TestKeyPair;
const sets = { cold: `e2e-cold-${process.pid}`, abandon: `e2e-abandon-${process.pid}`, down: `e2e-down-${process.pid}` };

const e2e = useGateway({ echo: startEchoOrigin, jwks: startJwksServer }, async ({ echo, jwks }) => {
  [k1, k2] = await Promise.all([testKeyPair("ES256", "e2e-1"), testKeyPair("ES256", "e2e-2")]);
  server = jwksServer(jwks.port);
  await server.put(sets.cold, { keys: [k1.publicJwk], delayMs: 300 });
  await server.put(sets.abandon, { keys: [k1.publicJwk], delayMs: 1500 });
  await server.put(sets.down, { keys: [k1.publicJwk], down: true });
  const authorizer = (set: string) => ({ type: "jwt", issuer: ISSUER, audience: AUDIENCE, algorithms: ["ES256"], jwksUrl: server.url(set) });
  return {
    routes: {
      origins: { echo: { url: echo.url } },
      authorizers: {
        cold: authorizer(sets.cold),
        abandon: authorizer(sets.abandon),
        down: authorizer(sets.down),
        internal: { type: "jwt", issuer: ISSUER, audience: AUDIENCE, algorithms: ["HS256"], secret: { env: "INTERNAL_JWT_SECRET" } },
      },
      routes: [
        { id: "cold", path: "/cold", origin: "echo", auth: { authorizer: "cold" } },
        { id: "abandon", path: "/abandon", origin: "echo", auth: { authorizer: "abandon" } },
        { id: "down", path: "/down", origin: "echo", auth: { authorizer: "down" } },
        { id: "internal", path: "/internal", origin: "echo", auth: { authorizer: "internal", scopes: ["read"] }, identityHeaders: { "x-user-id": "sub" } },
      ],
    },
    bindings: { INTERNAL_JWT_SECRET: SECRET },
  };
});

const get = (path: string, token: string, signal?: AbortSignal) =>
  fetch(`${e2e.gateway.url}${path}`, { headers: { authorization: `Bearer ${token}` }, signal });

describe("JWT authorizer in workerd serve", () => {
  it("verifies HS256 with the Worker secret and sends the identity header to the origin", async () => {
    const token = await mint(utf8(SECRET), "HS256", undefined, { claims: { sub: "e2e-user", scope: "read" } });
    const response = await get("/internal", token);
    expect(response.status).toBe(200);
    const echo = (await response.json()) as { headers: Record<string, string> };
    expect(echo.headers["x-user-id"]).toBe("e2e-user");
    expect(echo.headers.authorization).toBeUndefined();
  });

  it("makes one JWKS fetch for 100 concurrent requests, each in its own request context", async () => {
    const token = await mintWith(k1);
    const responses = await Promise.all(Array.from({ length: 100 }, () => get("/cold", token)));
    expect(responses.map((r) => r.status).filter((s) => s === 200).length).toBe(100);
    await Promise.all(responses.map((r) => r.arrayBuffer()));
    expect((await server.stats(sets.cold)).fetches).toBe(1);
  });

  it("does not hang when the request that started the shared fetch is abandoned by its client", async () => {
    const token = await mintWith(k1);
    const controller = new AbortController();
    const first = get("/abandon", token, controller.signal).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 200));
    controller.abort(); // the client goes away while the JWKS fetch (1.5 s) is under way
    const started = Date.now();
    const second = await get("/abandon", token);
    expect(second.status).toBe(200);
    await second.arrayBuffer();
    await first;
    // Either the shared fetch survived the abandoned request (1 fetch) or the waiter gave up on it
    // and fetched itself (2); never a hang past the fetch timeout plus the grace.
    expect(Date.now() - started).toBeLessThan(9_000);
    expect((await server.stats(sets.abandon)).fetches).toBeLessThanOrEqual(2);
  }, 20_000);

  it("answers 503 jwks_unavailable with Retry-After when the JWKS endpoint is down and nothing is cached", async () => {
    const response = await get("/down", await mintWith(k2));
    expect(response.status).toBe(503);
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("jwks_unavailable");
  });

  it("logs nothing of a token", async () => {
    const token = await mintWith(k1, { claims: { sub: "log-probe-subject" } });
    await (await get("/internal", token)).arrayBuffer();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const output = e2e.gateway.output();
    expect(output).toContain("\"routeId\":\"internal\"");
    expect(output).not.toContain(token.split(".")[1]!);
    expect(output).not.toContain(token.split(".")[2]!);
    expect(output).not.toContain("log-probe-subject");
  });
});
