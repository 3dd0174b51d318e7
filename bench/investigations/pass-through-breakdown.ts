/**
 * Where the gateway's pass-through time goes: the forwarding path rebuilt step by step
 * (bench/investigations/workers/gateway-probes.js), each step a service of one workerd, all
 * loaded the same way as the pass-through scenario. Not part of the default run (it is an investigation tool):
 * `npm run bench -- --only pass-through-breakdown`.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { bundleWorker } from "../../tools/bundle.ts";
import { buildGateway, gatewayService } from "../../tools/gateway.ts";
import { interleaved, maxThroughput, medianOf } from "../lib/load.ts";
import { startOrigin } from "../lib/origin.ts";
import { fmt, table, type ScenarioReport } from "../lib/results.ts";
import type { Scenario, ScenarioContext } from "../lib/scenario.ts";
import { startWorkerd, type WorkerService } from "../../tools/workerd.ts";

const PATH = "/pass/items/42?view=full";
const ROUNDS = 4;
const PROBES: [probe: string, what: string, log?: "on"][] = [
  ["fetch", "plain fetch (the minimal proxy)"],
  ["fetch+timeout", "+ AbortController and setTimeout/clearTimeout"],
  ["fetch+signal", "+ AbortSignal.timeout() instead (cannot be cleared: not a drop-in fix)"],
  ["fetch+wait", "+ Promise.race with scheduler.wait() (native timer, not cleared)"],
  ["fetch+request", "plain fetch of a copied Request (new Request + new Headers)"],
  ["fetch+rewrap", "plain fetch, response rebuilt (new Response(res.body) + new Headers)"],
  ["fetch+rewrap2", "plain fetch, response rebuilt as new Response(res.body, res)"],
  ["fetch+log", "plain fetch + the per-request JSON log line (src/log.ts)"],
  ["hono-proxy", "hono/proxy instead of fetch (header and Response copies), no timeout"],
  ["forward", "src/upstream forwardToOrigin (hono/proxy + timeout)"],
  ["pieces", "canonicalize + match + originRequestHeaders + forwardToOrigin + applyResponseEdits, no Hono"],
  ["hono+fetch", "a bare Hono app around plain fetch"],
  ["hono+requestId", "a bare Hono app + hono/request-id around plain fetch (Hono rebuilds the Response)"],
  ["lean", "the issue's forwarding done directly: canonicalize, match, originRequestHeaders, fetch + timeout, one rebuild for x-request-id"],
  ["gateway", "the gateway Worker (its deploy bundle), LOG_REQUESTS off"],
  ["gateway", "the gateway Worker, LOG_REQUESTS on", "on"],
];

export const passThroughBreakdown: Scenario = {
  name: "pass-through-breakdown",
  title: "Pass-through cost breakdown: the gateway's forwarding path step by step",
  optional: true,
  async run(ctx: ScenarioContext): Promise<ScenarioReport> {
    const origin = await startOrigin();
    const entry = fileURLToPath(new URL("./workers/gateway-probes.js", import.meta.url));
    const module = await bundleWorker(entry, join(ctx.outDir, "probes"), ctx.compatibilityDate);
    const routes = {
      origins: { origin: { url: origin.url, timeoutMs: 10_000 } },
      routes: [{ id: "pass", methods: ["GET", "POST"], path: "/pass/*", origin: "origin", auth: "none" }],
    };
    const gatewayModule = await buildGateway(routes, ctx.outDir);
    const services: WorkerService[] = PROBES.map(([probe, , log], i) => probe === "gateway"
      ? gatewayService(`probe-${i}`, gatewayModule, ctx.compatibilityDate, { log: log ?? "off" })
      : {
        name: `probe-${i}`,
        modules: [{ name: "index.js", path: module }],
        compatibilityDate: ctx.compatibilityDate,
        text: { PROBE: probe, ORIGIN: origin.url },
        json: { TABLE: routes },
      });
    const workerd = await startWorkerd({ services, sockets: Object.fromEntries(services.map((s) => [s.name, s.name])) }, ctx.outDir, "probes");
    try {
      const targets = PROBES.map(([probe, what], i) => ({ label: `probe-${i}`, probe, what, url: workerd.urls[`probe-${i}`] + PATH }));
      for (const t of targets) {
        const check = await fetch(t.url);
        if (check.status !== 200) throw new Error(`probe ${t.probe}: ${check.status} ${await check.text()}`);
        await check.arrayBuffer();
        await maxThroughput("warm-up", t.url, { connections: ctx.connections, seconds: 1 });
      }
      const seconds = 1.5;
      const runs = await interleaved(targets, ROUNDS, async (t, label) => {
        const r = await maxThroughput(label, t.url, { connections: ctx.connections, seconds, cpuPid: workerd.child.process.pid });
        ctx.log(`  ${t.probe} (${label}): ${fmt(r.rps, 0)} req/s, ${fmt(r.cpuUsPerRequest, 1)} us CPU/request`);
        return r;
      });
      const results = targets.map((t) => medianOf(runs.get(t.label)!, t.what));
      const base = results[0]!;
      const baseCpu = base.cpuUsPerRequest ?? NaN;
      const rows = results.map((r, i) => {
        const spread = runs.get(targets[i]!.label)!.map((x) => x.rps);
        const cpu = r.cpuUsPerRequest ?? NaN;
        return [`\`${PROBES[i]![0]}\``, r.label, fmt(cpu, 1), fmt(cpu - baseCpu, 1), fmt(baseCpu / cpu), fmt(r.rps, 0), `${fmt(Math.min(...spread), 0)}-${fmt(Math.max(...spread), 0)}`, fmt(r.rps / base.rps), fmt(r.p50), r.non2xx + r.errors];
      });
      const markdown = [
        `Each step: autocannon, ${ctx.connections} connections, ${ROUNDS} interleaved rounds (order rotated each round) of ${seconds} s after a 1 s warm-up, median over the rounds; same origin and request (\`GET ${PATH}\`) as the pass-through scenario. ` +
          "CPU is workerd's user+system time (/proc) during each run divided by its 2xx responses: on this shared machine throughput swings by tens of percent between runs, CPU per request much less, so the CPU columns are the ones to read. " +
          "\"predicted\" is the throughput ratio to `fetch` that the CPU cost implies when workerd is the bottleneck.",
        "",
        table(["probe", "what", "workerd CPU us/request", "extra vs fetch", "predicted vs fetch", "req/s", "range over rounds", "measured vs fetch", "p50 ms", "failed"], rows),
      ].join("\n");
      const gateway = results[PROBES.findIndex(([p]) => p === "gateway")]!;
      return {
        markdown,
        checks: [],
        summary: results.map((r, i) => `${PROBES[i]![0].padEnd(14)} ${fmt(r.cpuUsPerRequest, 1).padStart(6)} us CPU/request  ${fmt(r.rps, 0).padStart(6)} req/s  (${r.label})`)
          .concat([`gateway: ${fmt(gateway.cpuUsPerRequest, 1)} us CPU/request vs ${fmt(baseCpu, 1)} for plain fetch (${fmt(baseCpu / (gateway.cpuUsPerRequest ?? NaN))}x predicted throughput)`]),
      };
    } finally {
      await workerd.stop();
      await origin.child.stop();
    }
  },
};
