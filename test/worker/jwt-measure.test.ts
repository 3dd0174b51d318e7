/**
 * A micro-measure of what JWT verification adds per request, inside workerd: the same gateway
 * answers from a handler (no origin, so the network does not drown the figure) on a public route,
 * an HS256 route and an ES256 route (remote JWKS, warm). Prints microseconds per request and
 * asserts only what must hold: no JWKS fetch after warm-up.
 *
 * Timers in workerd advance only across I/O, so each batch is timed between two awaited I/O
 * events (a cache lookup) and the figures are means over the batch.
 */
import { describe, expect, inject, it } from "vitest";
import { gatewayBuilders } from "../../src/pipeline.ts";
import { gatewayFor, route } from "../support/worker-gateway.ts";
import { TEST_JWT_SECRET } from "../support/jwt-secret.ts";
import { AUDIENCE, ISSUER, jwksServer, mint, mintWith, testKeyPair, utf8 } from "../support/jwt-tokens.ts";

const ROUNDS = 2_000;
const server = jwksServer(inject("jwksServerPort"));

const tick = async () => { await caches.default.match("https://tick.invalid/"); };

async function perRequestMicros(call: (path: string, init?: RequestInit) => Promise<Response>, path: string, init: RequestInit): Promise<number> {
  for (let i = 0; i < 200; i++) await (await call(path, init)).arrayBuffer(); // warm-up
  await tick();
  const started = performance.now();
  for (let i = 0; i < ROUNDS; i++) {
    const response = await call(path, init);
    if (response.status !== 200) throw new Error(`status ${response.status}`);
    await response.arrayBuffer();
  }
  await tick();
  return ((performance.now() - started) * 1000) / ROUNDS;
}

describe("JWT verification cost (micro-measure)", () => {
  it("reports the added cost of HS256 and ES256 and makes no JWKS fetch after warm-up", async () => {
    const es = await testKeyPair("ES256", "bench-es");
    const set = `bench-${crypto.randomUUID()}`;
    await server.put(set, { keys: [es.publicJwk] });
    const call = gatewayFor({
      authorizers: {
        hs: { type: "jwt", issuer: ISSUER, audience: AUDIENCE, algorithms: ["HS256"], secret: { env: "TEST_JWT_SECRET" } },
        es: { type: "jwt", issuer: ISSUER, audience: AUDIENCE, algorithms: ["ES256"], jwksUrl: server.url(set) },
      },
      routes: [
        route("public", "/public"),
        route("hs", "/hs", { auth: { authorizer: "hs" }, identityHeaders: { "x-user-id": "sub" } }),
        route("es", "/es", { auth: { authorizer: "es" }, identityHeaders: { "x-user-id": "sub" } }),
      ],
    }, { builders: { ...gatewayBuilders, handler: () => () => new Response("ok") } });
    const hsToken = await mint(utf8(TEST_JWT_SECRET), "HS256", undefined, { claims: { exp: Math.floor(Date.now() / 1000) + 3600 } });
    const esToken = await mintWith(es, { claims: { exp: Math.floor(Date.now() / 1000) + 3600 } });

    const base = await perRequestMicros(call, "/public", {});
    const hs = await perRequestMicros(call, "/hs", { headers: { authorization: `Bearer ${hsToken}` } });
    const fetchesAfterWarmUp = (await server.stats(set)).fetches;
    const esCost = await perRequestMicros(call, "/es", { headers: { authorization: `Bearer ${esToken}` } });
    const fetchesAfterRun = (await server.stats(set)).fetches;

    console.log(JSON.stringify({
      rounds: ROUNDS,
      publicRouteUs: +base.toFixed(1),
      hs256RouteUs: +hs.toFixed(1), hs256AddedUs: +(hs - base).toFixed(1),
      es256RouteUs: +esCost.toFixed(1), es256AddedUs: +(esCost - base).toFixed(1),
      jwksFetches: fetchesAfterRun,
    }));
    expect(fetchesAfterWarmUp).toBe(0);
    expect(fetchesAfterRun).toBe(1); // the ES256 warm-up's one fetch, none in the measured rounds
  });
});
