/**
 * A micro-measure of what JWT verification adds per request, inside workerd: the same gateway
 * answers from a handler (no origin, so the network does not drown the figure) on a public route,
 * and on the benchmark fixture's HS256 and ES256 routes (remote JWKS, warm; scope check and an
 * identity header included). Prints microseconds per request and
 * asserts only what must hold: no JWKS fetch after warm-up.
 *
 * Timers in workerd advance only across I/O, so each batch is timed between two awaited I/O
 * events (a cache lookup). Batches of the three cases are interleaved; figures are the median of
 * the batch means. The machine is shared, so read ratios rather than absolute numbers.
 */
import { describe, expect, inject, it } from "vitest";
import { gatewayFor, policiesWith, route, testPolicy } from "../support/worker-gateway.ts";
import { TEST_JWT_SECRET } from "../support/jwt-secret.ts";
import { benchJwtFixture } from "../../tools/jwt-tokens.ts";
import { jwksServer } from "../support/jwt-tokens.ts";

const BATCH = 500;
const BATCHES = 8;
const server = jwksServer(inject("jwksServerPort"));

const tick = async () => { await caches.default.match("https://tick.invalid/"); };
type Call = (path: string, init?: RequestInit) => Promise<Response>;

/** Mean microseconds per request over one batch. */
async function batchMicros(call: Call, path: string, init: RequestInit): Promise<number> {
  await tick();
  const started = performance.now();
  for (let i = 0; i < BATCH; i++) {
    const response = await call(path, init);
    if (response.status !== 200) throw new Error(`status ${response.status}`);
    await response.arrayBuffer();
  }
  await tick();
  return ((performance.now() - started) * 1000) / BATCH;
}

/** Batches of each case interleaved (so drift and neighbours' load hit all alike); median per case. */
async function measure(call: Call, cases: Record<string, [string, RequestInit]>): Promise<Record<string, number>> {
  const samples: Record<string, number[]> = {};
  for (const [name, [path, init]] of Object.entries(cases)) {
    for (let i = 0; i < 200; i++) await (await call(path, init)).arrayBuffer(); // warm-up
    samples[name] = [];
  }
  for (let b = 0; b < BATCHES; b++) {
    for (const [name, [path, init]] of Object.entries(cases)) samples[name]!.push(await batchMicros(call, path, init));
  }
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  return Object.fromEntries(Object.entries(samples).map(([name, xs]) => [name, +median(xs).toFixed(1)]));
}

describe("JWT verification cost (micro-measure)", () => {
  it("reports the added cost of HS256 and ES256 and makes no JWKS fetch after warm-up", async () => {
    const set = `bench-${crypto.randomUUID()}`;
    const fixture = await benchJwtFixture({ secret: TEST_JWT_SECRET, jwksUrl: server.url(set), origin: "echo" });
    await server.put(set, { keys: fixture.jwks.keys });
    // The fixture names BENCH_JWT_SECRET; this project binds the same value as TEST_JWT_SECRET.
    fixture.authorizers["bench-hs256"].secret.env = "TEST_JWT_SECRET";
    const call = gatewayFor({
      authorizers: fixture.authorizers,
      routes: [route("public", "/public"), ...fixture.routes],
    }, { policies: policiesWith(testPolicy(async () => new Response("ok"))) });
    const hsToken = fixture.tokens.hs256;
    const esToken = fixture.tokens.es256;

    const fetchesAfterSetup = (await server.stats(set)).fetches;
    // The baseline sends the same header, so building the test request costs the same on all.
    const us = await measure(call, {
      public: ["/public", { headers: { authorization: `Bearer ${hsToken}` } }],
      hs256: ["/bench/hs256/x", { headers: { authorization: `Bearer ${hsToken}` } }],
      es256: ["/bench/es256/x", { headers: { authorization: `Bearer ${esToken}` } }],
    });
    const fetchesAfterRun = (await server.stats(set)).fetches;

    console.log(JSON.stringify({
      requestsPerCase: BATCH * BATCHES,
      publicRouteUs: us.public,
      hs256RouteUs: us.hs256, hs256AddedUs: +(us.hs256! - us.public!).toFixed(1),
      es256RouteUs: us.es256, es256AddedUs: +(us.es256! - us.public!).toFixed(1),
      jwksFetches: fetchesAfterRun,
    }));
    expect(fetchesAfterSetup).toBe(0);
    expect(fetchesAfterRun).toBe(1); // the ES256 warm-up's one fetch; none while measuring
  });
});
