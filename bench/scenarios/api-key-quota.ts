/**
 * Limited routes under counting by leases (the default) against the public pass-through route, in
 * one gateway on one workerd, all to the same Node origin:
 *
 * - `/pass/*` (`auth: "none"`): the baseline.
 * - `/keyed/*` (`auth: { apiKey: true }`): the key's plan counts, with one hot key and with 1,000
 *   keys taken in turn (autocannon `headerCycle`), and with a key on a plan with `counting: "exact"`
 *   (one QuotaCounter call per request: today's behaviour before leases, for the ratio).
 * - `/ip/*`: `rateLimit: { plan, by: "ip" }`, one client address (`CF-Connecting-IP`).
 * - `/jwt/*`: HS256 (tools/jwt-tokens.ts `benchJwtFixture`) + `rateLimit: { by: "jwt:sub" }`, one subject.
 *
 * Plans never refuse (rate 1e9 per 1s, quota 1e12 per month), so the figures are the cost of
 * counting. Counter calls per request are measured, not assumed: the keys' `counterCalls` from
 * `GET /_gateway/keys/:id/usage` (calls each key's QuotaCounter answered) before and after the
 * measured runs (after a warm-up, i.e. at steady state), divided by the requests answered 2xx.
 * KeyStore calls (lookups and change-feed polls) are measured too, from the object's own counts
 * (`stats()`, read by bench/workers/key-store-stats.js, which binds the gateway's KeyStore class).
 *
 * The 1,000 keys are measured apart, paced at MANY_KEYS_RATE (one request per key per second): the
 * question is what each key costs at a low rate per key, and at saturation the backlog of 1,000
 * first lookups would disturb whichever target ran next.
 */
import { fileURLToPath } from "node:url";
import { buildGateway, gatewayService } from "../../tools/gateway.ts";
import { benchJwtFixture } from "../../tools/jwt-tokens.ts";
import { LEASE_TTL_MS } from "../../src/quota/decision.ts";
import { startWorkerd } from "../../tools/workerd.ts";
import { interleaved, maxThroughput, medianOf, pacedLoad, type LoadResult } from "../lib/load.ts";
import { rawRunsTable, signed } from "../lib/load-table.ts";
import { startOrigin } from "../lib/origin.ts";
import { fmt, table, type Check, type ScenarioReport } from "../lib/results.ts";
import type { Scenario, ScenarioContext } from "../lib/scenario.ts";

const ROUNDS = 3;
const ADMIN_TOKEN = "bench-admin-token-0123456789abcdef";
const JWT_SECRET = "bench-hs256-secret-0123456789abcdefghijklmnop";
const SUFFIX = "/items/42?view=full";
const MANY_KEYS = 1_000;
const MANY_KEYS_RATE = 1_000;
/** A pause after each run, so one target's backlog does not run into the next one's measurement. */
const SETTLE_MS = 1_000;
const settle = () => new Promise((r) => setTimeout(r, SETTLE_MS));
const NEVER_REFUSES = { rate: { limit: 1_000_000_000, per: "1s" }, quota: { limit: 1_000_000_000_000, per: "month" } };

interface Target {
  label: string;
  url: string;
  headers: Record<string, string>;
  headerCycle?: Record<string, string>[];
  /** Key ids whose counter calls are this target's. */
  keys?: string[];
}

/** 2xx responses of a run (rps is 2xx per second of the run). */
const okCount = (r: LoadResult): number => Math.round(r.rps * r.seconds);

export const apiKeyQuota: Scenario = {
  name: "api-key-quota",
  title: "Quotas by leases: key, IP and JWT-subject routes vs pass-through; counter calls per request; exact counting beside",
  async run(ctx: ScenarioContext): Promise<ScenarioReport> {
    const origin = await startOrigin();
    let workerd: Awaited<ReturnType<typeof startWorkerd>> | undefined;
    let keepAlive: ReturnType<typeof setInterval> | undefined;
    try {
      const fixture = await benchJwtFixture({ secret: JWT_SECRET, jwksUrl: "http://127.0.0.1:9/unused", origin: "origin" });
      const gatewayModule = await buildGateway({
        origins: { origin: { url: origin.url, timeoutMs: 10_000 } },
        admin: { token: { env: "ADMIN_TOKEN" } },
        authorizers: { hs: fixture.authorizers["bench-hs256"] },
        plans: { bench: NEVER_REFUSES, benchExact: { ...NEVER_REFUSES, counting: "exact" } },
        routes: [
          { id: "pass", path: "/pass/*", origin: "origin", auth: "none" },
          { id: "keyed", path: "/keyed/*", origin: "origin", auth: { apiKey: true } },
          { id: "ip", path: "/ip/*", origin: "origin", auth: "none", rateLimit: { plan: "bench", by: "ip" } },
          { id: "jwt", path: "/jwt/*", origin: "origin", auth: { authorizer: "hs" }, rateLimit: { plan: "bench", by: "jwt:sub" } },
        ],
      }, ctx.outDir);
      workerd = await startWorkerd({
        services: [
          gatewayService("gateway", gatewayModule, ctx.compatibilityDate, { log: "off", secrets: { ADMIN_TOKEN, BENCH_JWT_SECRET: JWT_SECRET } }),
          {
            name: "keystats",
            modules: [{ name: "key-store-stats.js", path: fileURLToPath(new URL("../workers/key-store-stats.js", import.meta.url)) }],
            compatibilityDate: ctx.compatibilityDate,
            durableObjects: [{ binding: "API_KEYS", className: "KeyStore", sql: true, serviceName: "gateway" }],
          },
        ],
        sockets: { gateway: "gateway", keystats: "keystats" },
      }, ctx.outDir);
      const base = workerd.urls.gateway!;
      const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

      const createKey = async (plan: string, name: string) => {
        const created = await fetch(`${base}/_gateway/keys`, {
          method: "POST", headers: { ...admin, "content-type": "application/json" }, body: JSON.stringify({ name, owner: "bench", plan }),
        });
        const record = (await created.json()) as { id?: string; key?: string };
        if (created.status !== 201 || !record.id || !record.key) throw new Error(`POST /_gateway/keys: ${created.status} ${JSON.stringify(record)}`);
        return { id: record.id, key: record.key };
      };
      const counterCalls = async (ids: string[]): Promise<number> => {
        let sum = 0;
        for (const id of ids) {
          const response = await fetch(`${base}/_gateway/keys/${id}/usage`, { headers: admin });
          const body = (await response.json()) as { counterCalls?: number };
          if (response.status !== 200 || typeof body.counterCalls !== "number") throw new Error(`usage: ${response.status} ${JSON.stringify(body)}`);
          sum += body.counterCalls;
        }
        return sum;
      };

      /** Calls the KeyStore answered so far: lookups plus change-feed polls. */
      const keyStoreCalls = async (): Promise<number> => {
        const response = await fetch(workerd!.urls.keystats!);
        const body = (await response.json()) as { lookups?: number; feedPolls?: number };
        if (response.status !== 200 || typeof body.lookups !== "number" || typeof body.feedPolls !== "number") throw new Error(`KeyStore stats: ${response.status} ${JSON.stringify(body)}`);
        return body.lookups + body.feedPolls;
      };

      // The counts live in the object's memory: keep it from being evicted while idle (the pass-through,
      // IP and JWT runs make no KeyStore call for 10 s and more). `stats()` is not itself counted.
      keepAlive = setInterval(() => { keyStoreCalls().catch(() => {}); }, 2_000);

      const hot = await createKey("bench", "hot");
      const exact = await createKey("benchExact", "exact");
      ctx.log(`creating ${MANY_KEYS} keys`);
      const many: { id: string; key: string }[] = [];
      for (let i = 0; i < MANY_KEYS; i++) many.push(await createKey("bench", `many-${i}`));
      const token = await fixture.mintHs256({ sub: "bench-subject" });

      const targets: Target[] = [
        { label: "pass-through (auth none)", url: `${base}/pass${SUFFIX}`, headers: { "x-api-key": hot.key } },
        { label: "API key, one hot key", url: `${base}/keyed${SUFFIX}`, headers: { "x-api-key": hot.key }, keys: [hot.id] },
        { label: `API key, ${MANY_KEYS} keys in turn`, url: `${base}/keyed${SUFFIX}`, headers: {}, headerCycle: many.map((k) => ({ "x-api-key": k.key })), keys: many.map((k) => k.id) },
        { label: "IP-limited", url: `${base}/ip${SUFFIX}`, headers: { "cf-connecting-ip": "203.0.113.9" } },
        { label: "JWT HS256 + jwt:sub-limited", url: `${base}/jwt${SUFFIX}`, headers: { authorization: `Bearer ${token}` } },
        { label: "API key, counting: exact", url: `${base}/keyed${SUFFIX}`, headers: { "x-api-key": exact.key }, keys: [exact.id] },
      ];
      const [pass, hotKey, manyKeys, ip, jwt, exactKey] = targets as [Target, Target, Target, Target, Target, Target];
      const compared = [pass, hotKey, ip, jwt, exactKey];

      for (const t of targets) {
        const response = await fetch(t.url, { headers: t.headerCycle?.[0] ?? t.headers });
        await response.arrayBuffer();
        if (response.status !== 200 || (t !== pass && !response.headers.get("ratelimit"))) throw new Error(`${t.label}: expected 200 with RateLimit, got ${response.status}`);
      }
      const refused = await fetch(`${base}/ip${SUFFIX}`);
      await refused.arrayBuffer();
      if (refused.status !== 400) throw new Error(`IP route without an address: expected 400, got ${refused.status}`);

      const c = ctx.connections;
      const cpuPid = workerd.child.process.pid;
      const run = Math.max(1, ctx.seconds / 4);
      const options = (t: Target) => ({ connections: c, cpuPid, headers: t.headers, ...(t.headerCycle ? { headerCycle: t.headerCycle } : {}) });
      ctx.log("warm-up");
      for (const t of compared) { await maxThroughput("warm-up", t.url, { ...options(t), seconds: 2 }); await settle(); }

      const callsBefore = new Map<Target, number>();
      for (const t of compared) if (t.keys) callsBefore.set(t, await counterCalls(t.keys));
      const storeCallsBefore = await keyStoreCalls();
      const answered = new Map<Target, number>(targets.map((t) => [t, 0]));

      ctx.log(`max throughput, ${c} connections, ${ROUNDS} interleaved rounds of ${run} s`);
      const max = await interleaved(compared, ROUNDS, async (t, label) => {
        const r = await maxThroughput(label, t.url, { ...options(t), seconds: run });
        answered.set(t, answered.get(t)! + okCount(r));
        ctx.log(`  ${label}: ${fmt(r.rps, 0)} req/s, ${fmt(r.cpuUsPerRequest, 1)} us CPU/req`);
        await settle();
        return r;
      });
      const medians = new Map(compared.map((t) => [t, medianOf(max.get(t.label)!, t.label)]));
      const rate = Math.round(medians.get(pass)!.rps / 2);
      ctx.log(`half of pass-through's maximum: ${rate} req/s paced`);
      // counting: exact cannot serve that rate on one key (it is a fraction of its maximum): left out.
      const pacedTargets = compared.filter((t) => t !== exactKey);
      const pacedRuns = await interleaved(pacedTargets, 2, async (t, label) => {
        const r = await pacedLoad(label, t.url, { rate, seconds: run, maxSockets: c, cpuPid, headers: t.headers });
        answered.set(t, answered.get(t)! + okCount(r) + r.non2xx);
        ctx.log(`  ${label}: p50 ${fmt(r.p50, 3)} ms`);
        await settle();
        return r;
      });
      const paced = new Map(pacedTargets.map((t) => [t, medianOf(pacedRuns.get(t.label)!, t.label)]));
      const callsPerRequest = new Map<Target, { calls: number; requests: number }>();
      for (const t of compared) if (t.keys) callsPerRequest.set(t, { calls: (await counterCalls(t.keys)) - callsBefore.get(t)!, requests: answered.get(t)! });
      // The KeyStore is one object for every key: its calls in this phase are the keyed targets' together.
      const keyedRequests = answered.get(hotKey)! + answered.get(exactKey)!;
      const storeCalls = new Map<Target, { calls: number; requests: number }>();
      storeCalls.set(hotKey, { calls: (await keyStoreCalls()) - storeCallsBefore, requests: keyedRequests });

      // The 1,000 keys, apart: a paced warm-up, then one measured paced run as long as a lease lives
      // (at one request per key per second a key's lease is topped up about every 30 s, so a shorter
      // window catches a phase of that cycle, not its average), then one saturating run.
      const manyWarmUp = 10, manyMeasured = Math.ceil(LEASE_TTL_MS / 1000);
      ctx.log(`${MANY_KEYS} keys in turn: ${MANY_KEYS_RATE} req/s paced (${manyWarmUp} s warm-up, ${manyMeasured} s measured), then one maximum`);
      const manyOptions = { rate: MANY_KEYS_RATE, maxSockets: c, cpuPid, headers: {}, headerCycle: manyKeys.headerCycle! };
      await pacedLoad("warm-up", manyKeys.url, { ...manyOptions, seconds: manyWarmUp });
      const manyBefore = await counterCalls(manyKeys.keys!);
      const manyStoreBefore = await keyStoreCalls();
      const manyPaced = [await pacedLoad(manyKeys.label, manyKeys.url, { ...manyOptions, seconds: manyMeasured })];
      ctx.log(`  ${manyKeys.label}: ${fmt(manyPaced[0]!.rps, 0)} req/s, p50 ${fmt(manyPaced[0]!.p50, 3)} ms`);
      await settle();
      const manyRequests = manyPaced.reduce((n, r) => n + okCount(r) + r.non2xx, 0);
      callsPerRequest.set(manyKeys, { calls: (await counterCalls(manyKeys.keys!)) - manyBefore, requests: manyRequests });
      storeCalls.set(manyKeys, { calls: (await keyStoreCalls()) - manyStoreBefore, requests: manyRequests });
      const manyMax = await maxThroughput(`${manyKeys.label} (max)`, manyKeys.url, { ...options(manyKeys), seconds: run });
      ctx.log(`  ${manyMax.label}: ${fmt(manyMax.rps, 0)} req/s, ${fmt(manyMax.cpuUsPerRequest, 1)} us CPU/req`);
      medians.set(manyKeys, manyMax);

      const cpu = (r: LoadResult) => r.cpuUsPerRequest ?? NaN;
      const manyKeptUp = manyPaced[0]!.p99 < 1000 && manyPaced[0]!.errors + manyPaced[0]!.non2xx === 0;
      const p = medians.get(pass)!, q = paced.get(pass)!;
      const ratio = (t: Target) => medians.get(t)!.rps / p.rps;
      const cpr = (t: Target) => { const x = callsPerRequest.get(t)!; return x.calls / x.requests; };
      const spr = (t: Target) => { const x = storeCalls.get(t)!; return x.calls / x.requests; };
      /** Durable Object calls per request: the key's QuotaCounter and the KeyStore. */
      const dpr = (t: Target) => cpr(t) + spr(t);
      const allRuns = [...max.values(), ...pacedRuns.values(), manyPaced, [manyMax]].flat();
      const failures = allRuns.reduce((n, r) => n + r.non2xx + r.errors, 0);
      const checks: Check[] = [
        ...[hotKey, ip, jwt].map((t): Check => ({
          target: `${t.label}: throughput >= 0.8x pass-through`,
          measured: `${fmt(ratio(t))}x (${fmt(medians.get(t)!.rps, 0)} / ${fmt(p.rps, 0)} req/s); CPU ${signed(cpu(medians.get(t)!) - cpu(p))} us/request`,
          pass: ratio(t) >= 0.8,
        })),
        ...[hotKey, ip, jwt].map((t): Check => ({
          target: `${t.label}: p50 at ${rate} req/s within +0.5 ms of pass-through`,
          measured: `${fmt(paced.get(t)!.p50, 3)} vs ${fmt(q.p50, 3)} ms (${signed(paced.get(t)!.p50 - q.p50, 3)})`,
          pass: paced.get(t)!.p50 - q.p50 <= 0.5,
        })),
        {
          target: `${hotKey.label}: Durable Object calls per request at steady state (QuotaCounter + KeyStore) <= 0.05`,
          measured: `${fmt(dpr(hotKey), 4)} (QuotaCounter ${fmt(cpr(hotKey), 4)}: ${callsPerRequest.get(hotKey)!.calls} / ${callsPerRequest.get(hotKey)!.requests}; KeyStore ${fmt(spr(hotKey), 4)}: ${storeCalls.get(hotKey)!.calls} / ${storeCalls.get(hotKey)!.requests} keyed requests)`,
          pass: dpr(hotKey) <= 0.05,
        },
        {
          // Only a run that kept up is at steady state: an overloaded one delays and bunches each key's requests.
          target: `${manyKeys.label}: Durable Object calls per request at steady state (QuotaCounter + KeyStore) <= 0.05 (paced at ${MANY_KEYS_RATE} req/s, which the gateway must keep up with: p99 under 1 s, no errors)`,
          measured: `${fmt(dpr(manyKeys), 4)} (QuotaCounter ${fmt(cpr(manyKeys), 4)}: ${callsPerRequest.get(manyKeys)!.calls} / ${callsPerRequest.get(manyKeys)!.requests}; KeyStore ${fmt(spr(manyKeys), 4)}: ${storeCalls.get(manyKeys)!.calls} / ${storeCalls.get(manyKeys)!.requests}); paced run ${fmt(manyPaced[0]!.rps, 0)} req/s, p50 ${fmt(manyPaced[0]!.p50)} ms, p99 ${fmt(manyPaced[0]!.p99)} ms, ${manyPaced[0]!.errors + manyPaced[0]!.non2xx} failed`,
          pass: dpr(manyKeys) <= 0.05 && manyKeptUp,
        },
        {
          target: "counting: exact, for comparison (recorded): throughput vs pass-through, counter calls per request",
          measured: `${fmt(ratio(exactKey))}x; ${fmt(cpr(exactKey), 3)} calls per request`,
          pass: true,
        },
        { target: "no failed requests", measured: `${failures} non-2xx or errors`, pass: failures === 0 },
      ];

      const markdown = [
        `One gateway, one isolate, routes to the same Node origin: \`/pass/*\` (\`auth: "none"\`), \`/keyed/*\` (\`auth: { "apiKey": true }\`: the key's plan counts), ` +
          `\`/ip/*\` (\`rateLimit: { plan, by: "ip" }\`, one \`CF-Connecting-IP\`) and \`/jwt/*\` (HS256 from \`benchJwtFixture\`, \`rateLimit: { by: "jwt:sub" }\`, one subject). ` +
          `Plan \`bench\` (counting by leases, the default): rate 1e9 per 1s, quota 1e12 per month, never refuses; plan \`benchExact\`: the same with \`counting: "exact"\`. ` +
          `The hot-key and pass-through rows send the same \`x-api-key\`; the ${MANY_KEYS}-key row sends ${MANY_KEYS} keys in turn (each key about 1/${MANY_KEYS} of the traffic). ` +
          `Durable Objects run in the same workerd process (SQLite on local disk), so workerd CPU per request includes the counters' work.`,
        `Throughput: autocannon, ${c} connections, ${ROUNDS} interleaved rounds of ${run} s per target after a 2 s warm-up of each, medians over rounds. ` +
          `Paced: ${rate} req/s (half of pass-through's maximum), 2 interleaved rounds of ${run} s per target (not the exact-counting key: that rate is above what it can serve). ` +
          `A ${SETTLE_MS} ms pause after every run. The ${MANY_KEYS} keys apart: paced at ${MANY_KEYS_RATE} req/s (one request per key per second), ${manyWarmUp} s of warm-up and one measured run of ${manyMeasured} s (a lease's life: at this rate each key's lease is topped up about that often), then one saturating run of ${run} s (its row in the summary).`,
        "",
        "### Summary",
        "",
        table(["route", "req/s", "vs pass-through", "p50 ms", "p99 ms", "workerd CPU us/request", "added CPU us/request", `p50 ms at ${rate} req/s`, `p99 ms at ${rate} req/s`], [...compared, manyKeys].map((t) => {
          const m = medians.get(t)!, h = paced.get(t);
          return [t.label, fmt(m.rps, 0), `${fmt(m.rps / p.rps)}x`, fmt(m.p50), fmt(m.p99), fmt(cpu(m), 1), signed(cpu(m) - cpu(p)), h ? fmt(h.p50, 3) : "-", h ? fmt(h.p99, 3) : "-"];
        })),
        "",
        "### Durable Object calls per request",
        "",
        table(["route", "QuotaCounter calls per request", "KeyStore calls per request", "Durable Object calls per request"], [hotKey, manyKeys, exactKey].map((t) => {
          const x = callsPerRequest.get(t)!;
          const label = t === manyKeys ? `${t.label} (paced, ${MANY_KEYS_RATE} req/s)` : t.label;
          if (t === exactKey) return [label, `${fmt(cpr(t), 4)} (${x.calls} / ${x.requests})`, "(with the hot key)", "-"];
          const y = storeCalls.get(t)!;
          return [label, `${fmt(cpr(t), 4)} (${x.calls} / ${x.requests})`, `${fmt(spr(t), 4)} (${y.calls} / ${y.requests})`, fmt(dpr(t), 4)];
        })),
        "",
        `QuotaCounter calls from each key's \`counterCalls\` (\`GET /_gateway/keys/:id/usage\`) before and after the measured runs, over the requests answered in them. ` +
          `KeyStore calls (lookups plus change-feed polls) from the object's own counts before and after; the object serves every key, so in the interleaved phase its calls are divided by the hot and exact keys' requests together. ` +
          `The IP and JWT routes' counters have no admin endpoint; they follow the same lease rule as the hot key.`,
        "",
        "### Raw runs",
        "",
        rawRunsTable([...max.values(), ...[...pacedRuns.values(), manyPaced].map((runs) => runs.map((r) => ({ ...r, label: `paced: ${r.label}` }))), [manyMax]].flat()),
      ].join("\n");
      const summary = [
        `req/s: pass-through ${fmt(p.rps, 0)} | hot key ${fmt(ratio(hotKey))}x | ${MANY_KEYS} keys ${fmt(ratio(manyKeys))}x | IP ${fmt(ratio(ip))}x | JWT+sub ${fmt(ratio(jwt))}x | exact ${fmt(ratio(exactKey))}x`,
        `counter calls per request: hot key ${fmt(cpr(hotKey), 4)} | ${MANY_KEYS} keys ${fmt(cpr(manyKeys), 4)} | exact ${fmt(cpr(exactKey), 3)}`,
        `KeyStore calls per request: hot key ${fmt(spr(hotKey), 4)} | ${MANY_KEYS} keys ${fmt(spr(manyKeys), 4)}`,
      ];
      return { markdown, checks, summary };
    } finally {
      clearInterval(keepAlive);
      await workerd?.stop();
      await origin.child.stop();
    }
  },
};
