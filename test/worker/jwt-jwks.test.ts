/**
 * The remote JWKS cache against a real JWKS server (test/support/jwt-jwks-server.ts, a Node
 * server started by globalSetup). Every test uses its own key set on the server, so fetch counts
 * are exact. The clock is frozen (Date only; timers stay real) and moved by hand.
 */
import { afterEach, beforeEach, describe, expect, inject, it, vi } from "vitest";
import { forgetRemoteJwksInIsolate, maxAgeFrom, remoteJwks } from "../../src/policies/jwt/remote_jwks.ts";
import { errorOf, gatewayFor, route } from "../support/worker-gateway.ts";
import { AUDIENCE, ISSUER, mint, mintWith, testKeyPair, type TestKeyPair } from "../../tools/jwt-tokens.ts";
import { jwksServer } from "../support/jwt-tokens.ts";

const server = jwksServer(inject("jwksServerPort"));
const k1: TestKeyPair = await testKeyPair("ES256", "key-1");
const k2: TestKeyPair = await testKeyPair("ES256", "key-2");
const rsa: TestKeyPair = await testKeyPair("RS256", "rsa-1");

const T0 = new Date("2026-06-01T12:00:00.000Z").getTime();
const at = (ms: number) => vi.setSystemTime(T0 + ms);

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date"] });
  at(0);
});
afterEach(() => {
  vi.useRealTimers();
});

/** A fresh key set on the server and a gateway whose authorizer reads it. */
async function setup(keys: TestKeyPair[], state: { cacheControl?: string; down?: boolean; delayMs?: number } = {}) {
  const set = `set-${crypto.randomUUID()}`;
  await server.put(set, { keys: keys.map((k) => k.publicJwk), ...state });
  const table = {
    authorizers: { idp: { type: "jwt", issuer: ISSUER, audience: AUDIENCE, algorithms: ["ES256", "RS256"], jwksUrl: server.url(set) } },
    routes: [route("api", "/api", { auth: { authorizer: "idp" } })],
  };
  const call = gatewayFor(table);
  const get = async (token: string) => call("/api", { headers: { authorization: `Bearer ${token}` } });
  const status = async (token: string) => (await get(token)).status;
  const fetches = async () => (await server.stats(set)).fetches;
  return { set, table, get, status, fetches, rebuild: () => gatewayFor(table) };
}

describe("remote JWKS: caching", () => {
  it("fetches the key set once and verifies every later token from the isolate's cache", async () => {
    const idp = await setup([k1]);
    for (let i = 0; i < 20; i++) expect(await idp.status(await mintWith(k1))).toBe(200);
    expect(await idp.fetches()).toBe(1);
  });

  it("shares the first fetch among concurrent requests on a cold isolate", async () => {
    const idp = await setup([k1], { delayMs: 100 });
    const token = await mintWith(k1);
    const statuses = await Promise.all(Array.from({ length: 50 }, () => idp.status(token)));
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(await idp.fetches()).toBe(1);
  });

  it("honours the JWKS Cache-Control max-age", async () => {
    const idp = await setup([k1], { cacheControl: "max-age=120" });
    expect(await idp.status(await mintWith(k1))).toBe(200);
    at(119_000);
    expect(await idp.status(await mintWith(k1))).toBe(200);
    expect(await idp.fetches()).toBe(1);
    at(121_000);
    expect(await idp.status(await mintWith(k1))).toBe(200);
    expect(await idp.fetches()).toBe(2);
  });

  it("clamps a max-age below 60 s up to 60 s", async () => {
    const idp = await setup([k1], { cacheControl: "max-age=1" });
    expect(await idp.status(await mintWith(k1))).toBe(200);
    at(59_000);
    expect(await idp.status(await mintWith(k1))).toBe(200);
    expect(await idp.fetches()).toBe(1);
    at(61_000);
    expect(await idp.status(await mintWith(k1))).toBe(200);
    expect(await idp.fetches()).toBe(2);
  });

  it("shares the fetched key set with a new isolate through the Cache API", async () => {
    const idp = await setup([k1]);
    expect(await idp.status(await mintWith(k1))).toBe(200);
    forgetRemoteJwksInIsolate(); // as a fresh isolate starts
    const fresh = idp.rebuild();
    const response = await fresh("/api", { headers: { authorization: `Bearer ${await mintWith(k1)}` } });
    expect(response.status).toBe(200);
    expect(await idp.fetches()).toBe(1);
  });

  it("never fetches a jku or x5u named in a token header", async () => {
    const idp = await setup([k1]);
    const attacker = `attacker-${crypto.randomUUID()}`;
    const forged = await mint(k2.privateKey, "ES256", "key-1", { header: { jku: server.url(attacker), x5u: `${server.base}/sets/${attacker}/cert.pem` } });
    expect(await idp.status(forged)).toBe(401);
    expect(await server.stats(attacker)).toEqual({ fetches: 0, requests: 0 });
  });
});

describe("remote JWKS: sharing a fetch across requests", () => {
  it("stops waiting for a shared fetch whose request is gone, and fetches itself", async () => {
    const set = `set-${crypto.randomUUID()}`;
    await server.put(set, { keys: [k1.publicJwk] });
    const jwks = remoteJwks(server.url(set));
    // Another request started a fetch 5.5 s ago and ended; its promise will never settle.
    (jwks as unknown as { inFlight: unknown }).inFlight = { promise: new Promise(() => {}), startedAt: Date.now() - 5_500 };
    const started = performance.now();
    const key = await jwks.keyFor("ES256", "key-1", "idp");
    expect(key.type).toBe("public");
    expect(performance.now() - started).toBeLessThan(3_000);
    expect((await server.stats(set)).fetches).toBe(1);
  });
});

describe("remote JWKS: freshness from Cache-Control", () => {
  it("reads max-age, clamps it to [60 s, 24 h] and treats no-store as the minimum", () => {
    expect(maxAgeFrom(null)).toBe(600_000);
    expect(maxAgeFrom("public, max-age=300, must-revalidate")).toBe(300_000);
    expect(maxAgeFrom("max-age=5")).toBe(60_000);
    expect(maxAgeFrom("max-age=604800")).toBe(86_400_000);
    expect(maxAgeFrom("no-store")).toBe(60_000);
    expect(maxAgeFrom("private")).toBe(600_000);
  });
});

describe("remote JWKS: rotation", () => {
  it("accepts tokens with a new kid after exactly one refetch", async () => {
    const idp = await setup([k1]);
    expect(await idp.status(await mintWith(k1))).toBe(200);
    await server.put(idp.set, { keys: [k1.publicJwk, k2.publicJwk] });
    at(31_000);
    expect(await idp.status(await mintWith(k2))).toBe(200);
    expect(await idp.fetches()).toBe(2);
    for (let i = 0; i < 10; i++) expect(await idp.status(await mintWith(i % 2 ? k1 : k2))).toBe(200);
    expect(await idp.fetches()).toBe(2);
  });

  it("refetches for an unknown kid at most once per 30 s cooldown", async () => {
    const idp = await setup([k1]);
    expect(await idp.status(await mintWith(k1))).toBe(200);
    at(10_000);
    for (let i = 0; i < 20; i++) {
      const response = await idp.get(await mint(k1.privateKey, "ES256", `unknown-${i}`));
      expect((await errorOf(response)).code).toBe("token_invalid");
    }
    expect(await idp.fetches()).toBe(1);
    at(40_000);
    for (let i = 0; i < 20; i++) expect(await idp.status(await mint(k1.privateKey, "ES256", `unknown-${i}`))).toBe(401);
    expect(await idp.fetches()).toBe(2);
  });

  it("makes one fetch for 100 concurrent requests with a new kid", async () => {
    const idp = await setup([k1], { delayMs: 100 });
    expect(await idp.status(await mintWith(k1))).toBe(200);
    await server.put(idp.set, { keys: [k2.publicJwk] });
    at(31_000);
    const token = await mintWith(k2);
    const statuses = await Promise.all(Array.from({ length: 100 }, () => idp.status(token)));
    expect(statuses.filter((s) => s === 200).length).toBe(100);
    expect(await idp.fetches()).toBe(2);
  });

  it("makes one fetch for 100 concurrent requests with a kid nobody knows", async () => {
    const idp = await setup([k1], { delayMs: 100 });
    expect(await idp.status(await mintWith(k1))).toBe(200);
    at(31_000);
    const token = await mint(k1.privateKey, "ES256", "nobody-knows-me");
    const statuses = await Promise.all(Array.from({ length: 100 }, () => idp.status(token)));
    expect(statuses.filter((s) => s === 401).length).toBe(100);
    expect(await idp.fetches()).toBe(2);
  });

  it("drops a key the identity provider no longer publishes once the set is refreshed", async () => {
    const idp = await setup([k1, k2], { cacheControl: "max-age=60" });
    expect(await idp.status(await mintWith(k1))).toBe(200);
    await server.put(idp.set, { keys: [k2.publicJwk] });
    at(61_000);
    await idp.status(await mintWith(k2)); // stale: refreshed in the background of this request
    expect(await idp.fetches()).toBe(2);
    expect(await idp.status(await mintWith(k1))).toBe(401);
  });
});

describe("remote JWKS: endpoint down", () => {
  it("keeps verifying with cached keys when the endpoint is down, and retries it sparingly", async () => {
    const idp = await setup([k1], { cacheControl: "max-age=60" });
    expect(await idp.status(await mintWith(k1))).toBe(200);
    await server.put(idp.set, { down: true });
    at(61_000); // the set is stale now
    for (let i = 0; i < 10; i++) expect(await idp.status(await mintWith(k1))).toBe(200);
    expect(await idp.fetches()).toBe(2); // one failed refresh, then 5 s of backoff
    at(67_000);
    expect(await idp.status(await mintWith(k1))).toBe(200);
    expect(await idp.fetches()).toBe(3);
    await server.put(idp.set, { down: false, keys: [k1.publicJwk, k2.publicJwk] });
    at(73_000);
    expect(await idp.status(await mintWith(k1))).toBe(200);
    expect(await idp.fetches()).toBe(4);
    expect(await idp.status(await mintWith(k2))).toBe(200);
    expect(await idp.fetches()).toBe(4);
  });

  it("answers 401, not 503, for an unknown kid while the endpoint is down and keys are cached", async () => {
    const idp = await setup([k1]);
    expect(await idp.status(await mintWith(k1))).toBe(200);
    await server.put(idp.set, { down: true });
    at(31_000);
    const response = await idp.get(await mintWith(k2));
    expect(response.status).toBe(401);
    expect((await errorOf(response)).code).toBe("token_invalid");
  });

  it("answers 503 jwks_unavailable with Retry-After when no key was ever fetched", async () => {
    const idp = await setup([k1], { down: true });
    const response = await idp.get(await mintWith(k1));
    expect(response.status).toBe(503);
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect((await errorOf(response)).code).toBe("jwks_unavailable");
    // Within the backoff the endpoint is not asked again.
    expect(await idp.status(await mintWith(k1))).toBe(503);
    expect(await idp.fetches()).toBe(1);
    await server.put(idp.set, { down: false });
    at(6_000);
    expect(await idp.status(await mintWith(k1))).toBe(200);
    expect(await idp.fetches()).toBe(2);
  });

  it("answers 503, never 500, when the endpoint serves something that is not a JWKS", async () => {
    const set = `set-${crypto.randomUUID()}`;
    await server.put(set, { keys: [{ kty: "oct", k: "c2VjcmV0" }] as never });
    const call = gatewayFor({
      authorizers: { idp: { type: "jwt", issuer: ISSUER, audience: AUDIENCE, algorithms: ["RS256"], jwksUrl: server.url(set) } },
      routes: [route("api", "/api", { auth: { authorizer: "idp" } })],
    });
    const response = await call("/api", { headers: { authorization: `Bearer ${await mintWith(rsa)}` } });
    expect(response.status).toBe(503);
    expect((await errorOf(response)).code).toBe("jwks_unavailable");
  });
});
