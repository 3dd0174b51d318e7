/**
 * JWT verification cost (issue 3): one gateway, three routes to the same Node origin: `auth: "none"`
 * (the baseline), HS256 (the secret as a Worker secret, i.e. a text binding) and ES256 (a remote
 * JWKS served by lib/jwks-server.ts on loopback, which counts its fetches). Routes and tokens come
 * from tools/jwt-tokens.ts `benchJwtFixture`, so the bench verifies what the tests verify.
 *
 * Every route gets an `Authorization: Bearer` header of the same length (the baseline gets the
 * ES256 one; the HS256 token is padded with a claim to the same length), so the added cost is the
 * verification, not header bytes. Targets: HS256 adds <= 30 us per request (workerd CPU per
 * request, the steadiest figure on a shared machine; latency differences are reported too) and no
 * JWKS fetch after warm-up.
 *
 * The gateway remembers a verified token for up to a minute (src/policies/jwt/verified_tokens.ts),
 * and a client sends the same token for its lifetime: the three main routes measure that common
 * case. Two more rows send a token never seen before on every request (a rotating set of
 * UNIQUE_TOKENS, twice the cache's size, so every request misses): the cost of a first verification.
 */
import { buildGateway, gatewayService } from "../../tools/gateway.ts";
import { startJwksServer } from "../lib/jwks-server.ts";
import { interleaved, maxThroughput, medianOf, pacedLoad, type LoadResult } from "../lib/load.ts";
import { rawRunsTable, signed } from "../lib/load-table.ts";
import { startOrigin } from "../lib/origin.ts";
import { fmt, table, type Check, type ScenarioReport } from "../lib/results.ts";
import type { Scenario, ScenarioContext } from "../lib/scenario.ts";
import { startWorkerd } from "../../tools/workerd.ts";
import { benchJwtFixture, epochNow, mint, utf8 } from "../../tools/jwt-tokens.ts";

const ROUNDS = 3;
const SECRET = "bench-hs256-secret-0123456789abcdefghijklmnop"; // >= 32 bytes (RFC 7518 3.2)
const SUFFIX = "/items/42?view=full";
const UNIQUE_TOKENS = 4_000;

/** An HS256 token with a padding claim, as long as `length` (or one character longer: base64 steps). */
async function paddedHs256(length: number): Promise<string> {
  const exp = epochNow() + 24 * 3600;
  let best = "";
  for (let pad = 0; pad < 200; pad++) {
    best = await mint(utf8(SECRET), "HS256", undefined, { claims: { exp, scope: "bench", ...(pad > 0 ? { pad: "x".repeat(pad) } : {}) } });
    if (best.length >= length) return best;
  }
  return best;
}

async function expectStatus(url: string, headers: Record<string, string>, status: number, what: string): Promise<void> {
  const response = await fetch(url, { headers });
  const text = await response.text();
  if (response.status !== status) throw new Error(`${what}: expected ${status}, got ${response.status}: ${text.slice(0, 300)}`);
}

export const jwt: Scenario = {
  name: "jwt",
  title: "JWT verification: added cost of HS256 and ES256 (remote JWKS) over an unauthenticated route",
  async run(ctx: ScenarioContext): Promise<ScenarioReport> {
    const origin = await startOrigin();
    const jwks = await startJwksServer();
    let workerd: Awaited<ReturnType<typeof startWorkerd>> | undefined;
    try {
      const fixture = await benchJwtFixture({ secret: SECRET, jwksUrl: jwks.url, origin: "origin" });
      jwks.serve(fixture.jwks);
      const es256 = fixture.tokens.es256;
      const hs256 = await paddedHs256(es256.length);
      const gatewayModule = await buildGateway({
        origins: { origin: { url: origin.url, timeoutMs: 10_000 } },
        authorizers: fixture.authorizers,
        routes: [{ id: "bench.none", path: "/bench/none/*", origin: "origin", auth: "none" }, ...fixture.routes],
      }, ctx.outDir);
      workerd = await startWorkerd({
        services: [gatewayService("gateway", gatewayModule, ctx.compatibilityDate, { log: "off", secrets: { BENCH_JWT_SECRET: SECRET } })],
        sockets: { gateway: "gateway" },
      }, ctx.outDir);
      const base = workerd.urls.gateway!;
      // Distinct tokens of one fixed length (a fixed-width jti), for the first-verification rows.
      const jti = (i: number) => ({ jti: String(i).padStart(8, "0") });
      const uniqueHs: Record<string, string>[] = [];
      const uniqueEs: Record<string, string>[] = [];
      for (let i = 0; i < UNIQUE_TOKENS; i++) {
        uniqueHs.push({ authorization: `Bearer ${await fixture.mintHs256(jti(i))}` });
        uniqueEs.push({ authorization: `Bearer ${await fixture.mintEs256(jti(i))}` });
      }
      const targets: { label: string; url: string; headers: Record<string, string>; headerCycle?: Record<string, string>[] }[] = [
        { label: "auth none (baseline)", url: `${base}/bench/none${SUFFIX}`, headers: { authorization: `Bearer ${es256}` } },
        { label: "HS256 (secret)", url: `${base}/bench/hs256${SUFFIX}`, headers: { authorization: `Bearer ${hs256}` } },
        { label: "ES256 (remote JWKS)", url: `${base}/bench/es256${SUFFIX}`, headers: { authorization: `Bearer ${es256}` } },
        { label: "HS256, new token each request", url: `${base}/bench/hs256${SUFFIX}`, headers: {}, headerCycle: uniqueHs },
        { label: "ES256, new token each request", url: `${base}/bench/es256${SUFFIX}`, headers: {}, headerCycle: uniqueEs },
      ];
      ctx.log(`workerd ${base}, JWKS ${jwks.url}; token lengths: ES256 ${es256.length}, HS256 ${hs256.length}`);

      // The routes do what they claim: a valid token passes, none is refused.
      for (const t of targets) await expectStatus(t.url, t.headerCycle?.[0] ?? t.headers, 200, t.label);
      await expectStatus(targets[1]!.url, {}, 401, "HS256 without a token");
      await expectStatus(targets[2]!.url, { authorization: `Bearer ${hs256}` }, 401, "ES256 route with the HS256 token");

      const c = ctx.connections;
      const cpuPid = workerd.child.process.pid;
      const run = Math.max(1, ctx.seconds / 4);
      ctx.log("warm-up");
      for (const t of targets.slice(0, 3)) await maxThroughput("warm-up", t.url, { connections: c, seconds: 2, headers: t.headers });
      const fetchesAtWarm = jwks.fetches();

      ctx.log(`max throughput, ${c} connections, ${ROUNDS} interleaved rounds of ${run} s`);
      const max = await interleaved(targets, ROUNDS, async (t, label) => {
        const r = await maxThroughput(label, t.url, { connections: c, seconds: run, cpuPid, headers: t.headers, ...(t.headerCycle ? { headerCycle: t.headerCycle } : {}) });
        ctx.log(`  ${label}: ${fmt(r.rps, 0)} req/s, ${fmt(r.cpuUsPerRequest, 1)} us CPU/req`);
        return r;
      });
      const [none, hs, es, hsNew, esNew] = targets.map((t) => medianOf(max.get(t.label)!, t.label));

      // Below saturation, the latency a verification adds (not queueing).
      const rate = Math.round(none!.rps / 4);
      ctx.log(`quarter load: ${rate} req/s paced`);
      const pacedRuns = await interleaved(targets.slice(0, 3), 2, async (t, label) => {
        const r = await pacedLoad(label, t.url, { rate, seconds: run, maxSockets: c, cpuPid, headers: t.headers });
        ctx.log(`  ${label}: p50 ${fmt(r.p50, 3)} ms`);
        return r;
      });
      const [qNone, qHs, qEs] = targets.slice(0, 3).map((t) => medianOf(pacedRuns.get(t.label)!, t.label));
      const fetchesAfter = jwks.fetches();

      const cpu = (r: LoadResult) => r.cpuUsPerRequest ?? NaN;
      const hsExtra = cpu(hs!) - cpu(none!);
      const esExtra = cpu(es!) - cpu(none!);
      const hsNewExtra = cpu(hsNew!) - cpu(none!);
      const esNewExtra = cpu(esNew!) - cpu(none!);
      const rounds = [...max.values()].flat();
      const paced = [...pacedRuns.values()].flat();
      const failures = [...rounds, ...paced].reduce((n, r) => n + r.non2xx + r.errors, 0);
      const jwksDelta = fetchesAfter - fetchesAtWarm;
      const checks: Check[] = [
        { target: "HS256 adds <= 30 us per request, token seen before (workerd CPU per request over auth none)", measured: `${signed(hsExtra)} us (${fmt(cpu(hs!), 1)} vs ${fmt(cpu(none!), 1)} us); p50 at quarter load ${signed(qHs!.p50 - qNone!.p50, 3)} ms`, pass: hsExtra <= 30 },
        { target: "zero JWKS fetches after warm-up", measured: `${jwksDelta} (${fetchesAtWarm} during warm-up, ${fetchesAfter} in all)`, pass: jwksDelta === 0 },
        { target: "ES256 added cost (no target, recorded)", measured: `${signed(esExtra)} us CPU per request; p50 at quarter load ${signed(qEs!.p50 - qNone!.p50, 3)} ms`, pass: true },
        { target: "HS256 adds <= 30 us per request, a token never seen before", measured: `${signed(hsNewExtra)} us CPU per request (${fmt(cpu(hsNew!), 1)} us)`, pass: hsNewExtra <= 30 },
        { target: "ES256, a token never seen before (no target, recorded)", measured: `${signed(esNewExtra)} us CPU per request (${fmt(cpu(esNew!), 1)} us)`, pass: true },
        { target: "no failed requests", measured: `${failures} non-2xx or errors`, pass: failures === 0 },
      ];

      const markdown = [
        `Request: \`GET /bench/<route>${SUFFIX}\` on three routes of one gateway to the same origin: \`auth: "none"\`, HS256 (secret as a text binding, \`BENCH_JWT_SECRET\`) and ES256 (remote JWKS at a loopback server that counts fetches, \`Cache-Control: max-age=600\`); ` +
          `routes, tokens and JWKS from \`tools/jwt-tokens.ts\` \`benchJwtFixture\` (issuer, audience, \`scopes: ["bench"]\`, \`identityHeaders\`). ` +
          `Every request carries \`Authorization: Bearer\` with a token of the same length (ES256 ${es256.length} characters; the HS256 token padded with a claim to ${hs256.length}; the baseline sends the ES256 token, which it does not read).`,
        `Throughput: autocannon, ${c} connections, ${ROUNDS} interleaved rounds of ${run} s per route after a 2 s warm-up of each, medians over rounds. ` +
          `Quarter load: ${rate} req/s paced (a quarter of the baseline's maximum), 2 interleaved rounds of ${run} s per route. JWKS fetches are counted at the server after the warm-up and at the end.`,
        "",
        "### Summary",
        "",
        table(["route", "req/s", "vs none", "p50 ms", "p99 ms", "workerd CPU us/request", "added CPU us/request", `p50 ms at ${rate} req/s`, "added p50 ms", `p99 ms at ${rate} req/s`], [
          [none!, qNone!], [hs!, qHs!], [es!, qEs!], [hsNew!, undefined], [esNew!, undefined],
        ].map(([m, q]) => [
          m!.label, fmt(m!.rps, 0), `${fmt(m!.rps / none!.rps)}x`, fmt(m!.p50), fmt(m!.p99), fmt(cpu(m!), 1), signed(cpu(m!) - cpu(none!)),
          q ? fmt(q.p50, 3) : "-", q ? signed(q.p50 - qNone!.p50, 3) : "-", q ? fmt(q.p99, 3) : "-",
        ])),
        "",
        `The first three rows send one token over and over (verified once, then remembered); the last two send one of ${UNIQUE_TOKENS} distinct tokens in turn, so every request is a first verification.`,
        "",
        `JWKS fetches: ${fetchesAtWarm} during warm-up, ${jwksDelta} after it (${fetchesAfter} in all).`,
        "",
        "### Raw runs",
        "",
        rawRunsTable([...rounds, ...paced.map((r) => ({ ...r, label: `quarter load: ${r.label}` }))]),
      ].join("\n");
      const summary = [
        `req/s: none ${fmt(none!.rps, 0)} | HS256 ${fmt(hs!.rps, 0)} | ES256 ${fmt(es!.rps, 0)}; CPU us/req ${fmt(cpu(none!), 1)} / ${fmt(cpu(hs!), 1)} / ${fmt(cpu(es!), 1)}`,
        `added per request: HS256 ${signed(hsExtra)} us CPU, ES256 ${signed(esExtra)} us CPU (token seen before); first verification: HS256 ${signed(hsNewExtra)}, ES256 ${signed(esNewExtra)} us; JWKS fetches after warm-up: ${jwksDelta}`,
      ];
      return { markdown, checks, summary };
    } finally {
      await workerd?.stop();
      await jwks.close();
      await origin.child.stop();
    }
  },
};
