/**
 * Pass-through: a GET through the gateway Worker to a Node origin on loopback, against the origin
 * called directly and against a minimal hand-written proxy Worker (bench/workers/minimal-proxy.js)
 * served by the same workerd instance. Targets (issue 2): gateway throughput >= 0.9x the minimal
 * proxy's; gateway p50 <= minimal p50 + 0.5 ms at half load.
 *
 * Runs are short and interleaved (lib/load.ts `interleaved`) so drift on the shared machine hits
 * every target alike; the figures are the medians over the rounds.
 */
import { fileURLToPath } from "node:url";
import { buildGateway, gatewayService } from "../../tools/gateway.ts";
import { interleaved, maxThroughput, medianOf, pacedLoad, type LoadResult } from "../lib/load.ts";
import { startOrigin } from "../lib/origin.ts";
import { fmt, table, type Check, type ScenarioReport } from "../lib/results.ts";
import type { Scenario, ScenarioContext } from "../lib/scenario.ts";
import { startWorkerd } from "../../tools/workerd.ts";

const PATH = "/pass/items/42?view=full";
const ROUNDS = 4;

const row = (r: LoadResult): (string | number)[] =>
  [r.label, r.rate ? fmt(r.rate, 0) : "max", fmt(r.rps, 0), fmt(r.p50), fmt(r.p90), fmt(r.p99), fmt(r.max), fmt(r.cpuUsPerRequest, 1), r.requests, r.non2xx, r.errors, fmt(r.seconds, 1)];
const HEAD = ["run", "offered req/s", "req/s (2xx)", "p50 ms", "p90 ms", "p99 ms", "max ms", "workerd CPU us/req", "requests", "non-2xx", "errors", "s"];

async function expectPassThrough(url: string, what: string, body: string): Promise<void> {
  const response = await fetch(url);
  const text = await response.text();
  if (response.status !== 200 || text !== body) throw new Error(`${what}: expected the origin's 200 body, got ${response.status}: ${text.slice(0, 300)}`);
}

export const passThrough: Scenario = {
  name: "pass-through",
  title: "Pass-through: origin direct vs minimal proxy Worker vs gateway (workerd serve)",
  async run(ctx: ScenarioContext): Promise<ScenarioReport> {
    const body = "hello from the bench origin\n";
    const origin = await startOrigin({ ORIGIN_BODY: body });
    ctx.log(`origin on ${origin.url}`);

    // The route table under test: the pass-through route among a few others, as an operator would have.
    const gatewayModule = await buildGateway({
      origins: { origin: { url: origin.url, timeoutMs: 10_000 } },
      routes: [
        { id: "health", methods: ["GET"], path: "/health", origin: "origin", auth: "none" },
        { id: "users.get", methods: ["GET"], path: "/v1/users/:id", origin: "origin", rewrite: "/users/:id", auth: "none" },
        { id: "orders.any", path: "/v1/orders/*", origin: "origin", stripPrefix: "/v1", auth: "none" },
        { id: "pass", methods: ["GET", "POST"], path: "/pass/*", origin: "origin", auth: "none" },
      ],
    }, ctx.outDir);
    ctx.log(`gateway bundled: ${gatewayModule}`);

    const workerd = await startWorkerd({
      services: [
        gatewayService("gateway", gatewayModule, ctx.compatibilityDate, { log: "off" }),
        gatewayService("gateway-log", gatewayModule, ctx.compatibilityDate, { log: "on" }),
        {
          name: "minimal",
          modules: [{ name: "minimal-proxy.js", path: fileURLToPath(new URL("../workers/minimal-proxy.js", import.meta.url)) }],
          compatibilityDate: ctx.compatibilityDate,
          text: { ORIGIN: origin.url },
        },
      ],
      sockets: { gateway: "gateway", gatewayLog: "gateway-log", minimal: "minimal" },
    }, ctx.outDir);
    const urls = {
      origin: origin.url + PATH,
      minimal: workerd.urls.minimal + PATH,
      gateway: workerd.urls.gateway + PATH,
      gatewayLog: workerd.urls.gatewayLog + PATH,
    };
    ctx.log(`workerd: ${JSON.stringify(workerd.urls)}`);

    try {
      for (const [what, url] of Object.entries(urls)) await expectPassThrough(url, what, body);

      const c = ctx.connections;
      const cpuPid = workerd.child.process.pid;
      // ctx.seconds per target in total, split into ROUNDS interleaved runs.
      const run = Math.max(1, ctx.seconds / ROUNDS);
      ctx.log("warm-up");
      for (const url of [urls.origin, urls.minimal, urls.gateway, urls.gatewayLog]) await maxThroughput("warm-up", url, { connections: c, seconds: 2 });

      ctx.log(`max throughput, ${c} connections, ${ROUNDS} interleaved rounds of ${run} s`);
      const direct = await maxThroughput("origin direct", urls.origin, { connections: c, seconds: run * 2 });
      const targets = [{ label: "minimal proxy", url: urls.minimal }, { label: "gateway", url: urls.gateway }, { label: "gateway, LOG_REQUESTS on", url: urls.gatewayLog }];
      const max = await interleaved(targets, ROUNDS, async (t, label) => {
        const r = await maxThroughput(label, t.url, { connections: c, seconds: run, cpuPid });
        ctx.log(`  ${label}: ${fmt(r.rps, 0)} req/s`);
        return r;
      });
      const rounds = [...max.values()].flat();
      const minimal = medianOf(max.get("minimal proxy")!, "minimal proxy (median)");
      const gateway = medianOf(max.get("gateway")!, "gateway (median)");
      const gatewayLog = medianOf(max.get("gateway, LOG_REQUESTS on")!, "gateway, log on (median)");

      const rate = Math.round(minimal.rps / 2);
      ctx.log(`half load: ${rate} req/s paced`);
      const halfRuns = await interleaved(targets.slice(0, 2), ROUNDS, async (t, label) => {
        const r = await pacedLoad(label, t.url, { rate, seconds: run, maxSockets: c, cpuPid });
        ctx.log(`  ${label}: p50 ${fmt(r.p50, 3)} ms`);
        return r;
      });
      const paced = [...halfRuns.values()].flat();
      const halfMinimal = medianOf(halfRuns.get("minimal proxy")!, "minimal proxy (median)");
      const halfGateway = medianOf(halfRuns.get("gateway")!, "gateway (median)");

      // A quarter of the minimal proxy's maximum: below the gateway's own saturation, so the
      // difference is the per-request latency the gateway adds rather than queueing.
      const quarterRate = Math.round(minimal.rps / 4);
      ctx.log(`quarter load: ${quarterRate} req/s paced`);
      const quarterRuns = await interleaved(targets.slice(0, 2), ROUNDS, async (t, label) => {
        const r = await pacedLoad(label, t.url, { rate: quarterRate, seconds: run, maxSockets: c, cpuPid });
        ctx.log(`  ${label}: p50 ${fmt(r.p50, 3)} ms`);
        return r;
      });
      const quarter = [...quarterRuns.values()].flat();
      const quarterMinimal = medianOf(quarterRuns.get("minimal proxy")!, "minimal proxy (median)");
      const quarterGateway = medianOf(quarterRuns.get("gateway")!, "gateway (median)");

      const ratio = gateway.rps / minimal.rps;
      const extraP50 = halfGateway.p50 - halfMinimal.p50;
      const failures = [direct, ...rounds, ...paced, ...quarter].reduce((n, r) => n + r.non2xx + r.errors, 0);
      const checks: Check[] = [
        { target: "gateway throughput >= 0.9x minimal proxy", measured: `${fmt(ratio)}x (${fmt(gateway.rps, 0)} / ${fmt(minimal.rps, 0)} req/s)`, pass: ratio >= 0.9 },
        { target: "gateway p50 <= minimal p50 + 0.5 ms at half load", measured: `${extraP50 >= 0 ? "+" : ""}${fmt(extraP50, 3)} ms (${fmt(halfGateway.p50, 3)} vs ${fmt(halfMinimal.p50, 3)} ms at ${rate} req/s)`, pass: extraP50 <= 0.5 },
        { target: "no failed requests", measured: `${failures} non-2xx or errors`, pass: failures === 0 },
      ];

      const markdown = [
        `Request: \`GET ${PATH}\` (route \`pass\`, \`/pass/*\`, in a 4-route table), origin body ${body.length} bytes.`,
        `Throughput: autocannon, ${c} connections, no pipelining; ${run * 2} s origin direct, then ${ROUNDS} interleaved rounds (order rotated each round) of ${run} s per target, after a 2 s warm-up of each; figures are medians over the rounds. ` +
          `Latency percentiles are exact (every response time kept), not autocannon's 1 ms histogram.`,
        "",
        "### Summary",
        "",
        table(["target", "req/s", "p50 ms", "p99 ms", "vs minimal", "vs origin", "workerd CPU us/request"], [
          ["origin direct", fmt(direct.rps, 0), fmt(direct.p50), fmt(direct.p99), "-", "1.00x", "-"],
          ["minimal proxy Worker", fmt(minimal.rps, 0), fmt(minimal.p50), fmt(minimal.p99), "1.00x", `${fmt(minimal.rps / direct.rps)}x`, fmt(minimal.cpuUsPerRequest, 1)],
          ["gateway (log off)", fmt(gateway.rps, 0), fmt(gateway.p50), fmt(gateway.p99), `${fmt(ratio)}x`, `${fmt(gateway.rps / direct.rps)}x`, fmt(gateway.cpuUsPerRequest, 1)],
          ["gateway (log on)", fmt(gatewayLog.rps, 0), fmt(gatewayLog.p50), fmt(gatewayLog.p99), `${fmt(gatewayLog.rps / minimal.rps)}x`, `${fmt(gatewayLog.rps / direct.rps)}x`, fmt(gatewayLog.cpuUsPerRequest, 1)],
        ]),
        "",
        `workerd CPU per request (user+system from /proc, steadier than throughput on a shared machine): gateway ${fmt(gateway.cpuUsPerRequest, 1)} us vs minimal ${fmt(minimal.cpuUsPerRequest, 1)} us, ` +
          `which predicts ${fmt((minimal.cpuUsPerRequest ?? NaN) / (gateway.cpuUsPerRequest ?? NaN))}x the minimal proxy's throughput when workerd is the bottleneck. ` +
          "Where that time goes: the pass-through-breakdown section (`npm run bench -- --only pass-through-breakdown`).",
        "",
        `Half load: ${rate} req/s (half the minimal proxy's median maximum), paced evenly (open loop, latency from each request's scheduled send time; bench/lib/load.ts says why not autocannon's overallRate), ${ROUNDS} interleaved rounds of ${run} s per target.`,
        "",
        table(["target", "offered req/s", "p50 ms", "p90 ms", "p99 ms"], [
          ["minimal proxy Worker", rate, fmt(halfMinimal.p50, 3), fmt(halfMinimal.p90, 3), fmt(halfMinimal.p99, 3)],
          ["gateway (log off)", rate, fmt(halfGateway.p50, 3), fmt(halfGateway.p90, 3), fmt(halfGateway.p99, 3)],
          ["minimal proxy Worker, quarter load", quarterRate, fmt(quarterMinimal.p50, 3), fmt(quarterMinimal.p90, 3), fmt(quarterMinimal.p99, 3)],
          ["gateway (log off), quarter load", quarterRate, fmt(quarterGateway.p50, 3), fmt(quarterGateway.p90, 3), fmt(quarterGateway.p99, 3)],
        ]),
        "",
        `Half of the minimal proxy's maximum is ${fmt(rate / gateway.rps * 100, 0)}% of the gateway's own maximum in this run, so the gateway's half-load latency includes queueing; ` +
          `the quarter-load rows (not a target) show the latency it adds below saturation: ${fmt(quarterGateway.p50 - quarterMinimal.p50, 3)} ms at p50.`,
        "",
        "### Raw runs",
        "",
        table(HEAD, [direct, ...rounds, ...paced.map((r) => ({ ...r, label: `half load: ${r.label}` })), ...quarter.map((r) => ({ ...r, label: `quarter load: ${r.label}` }))].map(row)),
      ].join("\n");
      const summary = [
        `origin ${fmt(direct.rps, 0)} req/s | minimal ${fmt(minimal.rps, 0)} | gateway ${fmt(gateway.rps, 0)} (${fmt(ratio)}x minimal) | gateway+log ${fmt(gatewayLog.rps, 0)}`,
        `workerd CPU/request: minimal ${fmt(minimal.cpuUsPerRequest, 1)} us, gateway ${fmt(gateway.cpuUsPerRequest, 1)} us, gateway+log ${fmt(gatewayLog.cpuUsPerRequest, 1)} us`,
        `half load ${rate} req/s: p50 minimal ${fmt(halfMinimal.p50, 3)} ms, gateway ${fmt(halfGateway.p50, 3)} ms (${extraP50 >= 0 ? "+" : ""}${fmt(extraP50, 3)} ms)`,
      ];
      return { markdown, checks, summary };
    } finally {
      await workerd.stop();
      await origin.child.stop();
    }
  },
};
