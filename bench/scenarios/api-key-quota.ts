/**
 * API key + plan counting (issue 4): one gateway, two routes to the same Node origin: pass-through
 * (`auth: "none"`) and a key-protected route (`auth: { apiKey: true }`), where the key's own plan
 * counts every request in its QuotaCounter Durable Object (plan "bench": 1e9 per second, 1e12 per
 * month, so nothing is ever refused). The key is created through the admin API at start
 * (`POST /_gateway/keys`, admin token as a text binding) and sent as `x-api-key`.
 *
 * Durable Object calls per request are measured, not assumed: the key's quota `used`
 * (`GET /_gateway/keys/:id/usage`) before and after, divided by the requests the load generator
 * completed. KeyStore lookups are cached 0.9 s per isolate (src/policies/api-key), so they are at
 * most one per 0.9 s here (one isolate); they cannot be counted from outside and are stated by design.
 * No target beyond recording: the next step takes the counter off the hot path.
 */
import { buildGateway, gatewayService } from "../../tools/gateway.ts";
import { interleaved, maxThroughput, medianOf, pacedLoad, type LoadResult } from "../lib/load.ts";
import { rawRunsTable, signed } from "../lib/load-table.ts";
import { startOrigin } from "../lib/origin.ts";
import { fmt, table, type Check, type ScenarioReport } from "../lib/results.ts";
import type { Scenario, ScenarioContext } from "../lib/scenario.ts";
import { startWorkerd } from "../../tools/workerd.ts";

const ROUNDS = 3;
const ADMIN_TOKEN = "bench-admin-token-0123456789abcdef";
const SUFFIX = "/items/42?view=full";

interface Usage {
  plan: string;
  quota: { used: number; limit: number };
  rate: { used: number };
}

/** 2xx responses of a run (rps is 2xx per second of the run). */
const okCount = (r: LoadResult): number => Math.round(r.rps * r.seconds);

export const apiKeyQuota: Scenario = {
  name: "api-key-quota",
  title: "API key + plan counting: a key-protected, counted route vs pass-through, Durable Object calls per request",
  async run(ctx: ScenarioContext): Promise<ScenarioReport> {
    const origin = await startOrigin();
    let workerd: Awaited<ReturnType<typeof startWorkerd>> | undefined;
    try {
      const gatewayModule = await buildGateway({
        origins: { origin: { url: origin.url, timeoutMs: 10_000 } },
        admin: { token: { env: "ADMIN_TOKEN" } },
        plans: { bench: { rate: { limit: 1_000_000_000, per: "1s" }, quota: { limit: 1_000_000_000_000, per: "month" } } },
        routes: [
          { id: "pass", path: "/pass/*", origin: "origin", auth: "none" },
          { id: "keyed", path: "/keyed/*", origin: "origin", auth: { apiKey: true } },
        ],
      }, ctx.outDir);
      workerd = await startWorkerd({
        services: [gatewayService("gateway", gatewayModule, ctx.compatibilityDate, { log: "off", secrets: { ADMIN_TOKEN } })],
        sockets: { gateway: "gateway" },
      }, ctx.outDir);
      const base = workerd.urls.gateway!;
      const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

      const created = await fetch(`${base}/_gateway/keys`, {
        method: "POST",
        headers: { ...admin, "content-type": "application/json" },
        body: JSON.stringify({ name: "bench", owner: "bench", plan: "bench" }),
      });
      const record = (await created.json()) as { id?: string; key?: string };
      if (created.status !== 201 || !record.id || !record.key) throw new Error(`POST /_gateway/keys: ${created.status} ${JSON.stringify(record)}`);
      const usage = async (): Promise<Usage> => {
        const response = await fetch(`${base}/_gateway/keys/${record.id}/usage`, { headers: admin });
        const body = (await response.json()) as Usage;
        if (response.status !== 200) throw new Error(`usage: ${response.status} ${JSON.stringify(body)}`);
        return body;
      };
      const keyHeaders = { "x-api-key": record.key };
      const targets = [
        { label: "pass-through (auth none)", url: `${base}/pass${SUFFIX}`, headers: keyHeaders },
        { label: "API key, plan counted", url: `${base}/keyed${SUFFIX}`, headers: keyHeaders },
      ];
      const keyed = targets[1]!;
      ctx.log(`workerd ${base}, key ${record.id}`);

      const refused = await fetch(keyed.url);
      await refused.arrayBuffer();
      if (refused.status !== 401) throw new Error(`key route without a key: expected 401, got ${refused.status}`);
      const first = await fetch(keyed.url, { headers: keyHeaders });
      await first.arrayBuffer();
      if (first.status !== 200 || !first.headers.get("ratelimit")) throw new Error(`key route: expected 200 with RateLimit, got ${first.status}`);
      let keyedOk = 1;
      const used0 = (await usage()).quota.used;

      const c = ctx.connections;
      const cpuPid = workerd.child.process.pid;
      const run = Math.max(1, ctx.seconds / 4);
      ctx.log("warm-up");
      for (const t of targets) {
        const r = await maxThroughput("warm-up", t.url, { connections: c, seconds: 2, headers: t.headers });
        if (t === keyed) keyedOk += okCount(r);
      }

      ctx.log(`max throughput, ${c} connections, ${ROUNDS} interleaved rounds of ${run} s`);
      const max = await interleaved(targets, ROUNDS, async (t, label) => {
        const r = await maxThroughput(label, t.url, { connections: c, seconds: run, cpuPid, headers: t.headers });
        if (t === keyed) keyedOk += okCount(r);
        ctx.log(`  ${label}: ${fmt(r.rps, 0)} req/s, ${fmt(r.cpuUsPerRequest, 1)} us CPU/req`);
        return r;
      });
      const [pass, key] = targets.map((t) => medianOf(max.get(t.label)!, t.label));
      // autocannon stops with requests in flight: the counter may have counted some it never saw answered.
      await new Promise((r) => setTimeout(r, 500));
      const used1 = (await usage()).quota.used;

      // Paced runs await every request, so their count is exact.
      const rate = Math.round(key!.rps / 2);
      ctx.log(`half of the key route's maximum: ${rate} req/s paced`);
      let pacedKeyed = 0;
      const pacedRuns = await interleaved(targets, 2, async (t, label) => {
        const r = await pacedLoad(label, t.url, { rate, seconds: run, maxSockets: c, cpuPid, headers: t.headers });
        if (t === keyed) pacedKeyed += okCount(r) + r.non2xx;
        ctx.log(`  ${label}: p50 ${fmt(r.p50, 3)} ms`);
        return r;
      });
      const [qPass, qKey] = targets.map((t) => medianOf(pacedRuns.get(t.label)!, t.label));
      const used2 = (await usage()).quota.used;

      const cpu = (r: LoadResult) => r.cpuUsPerRequest ?? NaN;
      const callsMax = (used1 - used0) / keyedOk;
      const callsPaced = (used2 - used1) / pacedKeyed;
      const ratio = key!.rps / pass!.rps;
      const rounds = [...max.values()].flat();
      const paced = [...pacedRuns.values()].flat();
      const failures = [...rounds, ...paced].reduce((n, r) => n + r.non2xx + r.errors, 0);
      const keyStorePerRequest = 1 / (0.9 * key!.rps);
      const checks: Check[] = [
        { target: "key route throughput vs pass-through (recorded)", measured: `${fmt(ratio)}x (${fmt(key!.rps, 0)} / ${fmt(pass!.rps, 0)} req/s); CPU ${fmt(cpu(key!), 1)} vs ${fmt(cpu(pass!), 1)} us/request (${signed(cpu(key!) - cpu(pass!))})`, pass: true },
        { target: "counter (QuotaCounter) calls per request, measured: quota used / requests completed (expected 1)", measured: `${fmt(callsPaced, 3)} in paced runs (${used2 - used1} / ${pacedKeyed}); ${fmt(callsMax, 3)} in throughput runs (${used1 - used0} / ${keyedOk} answered)`, pass: Math.abs(callsPaced - 1) < 0.01 },
        { target: "no failed requests", measured: `${failures} non-2xx or errors`, pass: failures === 0 },
      ];

      const markdown = [
        `Routes of one gateway to the same origin: \`/pass/*\` (\`auth: "none"\`) and \`/keyed/*\` (\`auth: { "apiKey": true }\`, no route \`rateLimit\`: the key's own plan counts every request, one QuotaCounter call each). ` +
          `Plan \`bench\`: rate 1e9 per 1s, quota 1e12 per month (never refuses). One key created with \`POST /_gateway/keys\` (admin token as a text binding) and sent as \`x-api-key\` to both routes (the pass-through route ignores it). ` +
          `Durable Objects run in the same workerd process (SQLite on local disk), so workerd CPU per request includes the counter object's work.`,
        `Throughput: autocannon, ${c} connections, ${ROUNDS} interleaved rounds of ${run} s per route after a 2 s warm-up of each, medians over rounds. ` +
          `Paced: ${rate} req/s (half the key route's maximum), 2 interleaved rounds of ${run} s per route.`,
        "",
        "### Summary",
        "",
        table(["route", "req/s", "vs pass-through", "p50 ms", "p99 ms", "workerd CPU us/request", "added CPU us/request", `p50 ms at ${rate} req/s`, `p99 ms at ${rate} req/s`], [
          [pass!, qPass!], [key!, qKey!],
        ].map(([m, q]) => [
          m!.label, fmt(m!.rps, 0), `${fmt(m!.rps / pass!.rps)}x`, fmt(m!.p50), fmt(m!.p99), fmt(cpu(m!), 1), signed(cpu(m!) - cpu(pass!)), fmt(q!.p50, 3), fmt(q!.p99, 3),
        ])),
        "",
        "### Durable Object calls per request (key route)",
        "",
        table(["object", "calls per request", "how"], [
          ["QuotaCounter (`key:<id>`)", `${fmt(callsPaced, 3)} (paced runs), ${fmt(callsMax, 3)} (throughput runs)`, `measured: the key's quota \`used\` from \`GET /_gateway/keys/:id/usage\` before and after, divided by the requests the load generator completed (paced runs await every request; in throughput runs autocannon stops with up to ${c} requests in flight that the counter may count)`],
          ["KeyStore", `<= ${keyStorePerRequest.toExponential(1)} (at most one per 0.9 s per isolate, here 1 isolate at ${fmt(key!.rps, 0)} req/s)`, "by design (per-isolate cache, 0.9 s); not observable from outside"],
        ]),
        "",
        "### Raw runs",
        "",
        rawRunsTable([...rounds, ...paced.map((r) => ({ ...r, label: `paced: ${r.label}` }))]),
      ].join("\n");
      const summary = [
        `req/s: pass-through ${fmt(pass!.rps, 0)} | key route ${fmt(key!.rps, 0)} (${fmt(ratio)}x); CPU us/req ${fmt(cpu(pass!), 1)} / ${fmt(cpu(key!), 1)}`,
        `p50/p99 ms at max: ${fmt(pass!.p50)}/${fmt(pass!.p99)} vs ${fmt(key!.p50)}/${fmt(key!.p99)}; counter calls per request ${fmt(callsPaced, 3)} (paced), ${fmt(callsMax, 3)} (max)`,
      ];
      return { markdown, checks, summary };
    } finally {
      await workerd?.stop();
      await origin.child.stop();
    }
  },
};
