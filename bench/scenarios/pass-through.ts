/**
 * Pass-through: a GET through the gateway Worker to a Node origin on loopback, against the origin
 * called directly and against a minimal hand-written proxy Worker (bench/workers/minimal-proxy.js)
 * served by the same workerd instance. Targets (issue 2): gateway throughput >= 0.9x the minimal
 * proxy's; gateway p50 <= minimal p50 + 0.5 ms at half load.
 *
 * Throughput runs alternate minimal and gateway (M G G M) so drift on the shared machine hits both
 * alike; the figures are the means of the two runs of each.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { bundleGateway } from "../lib/bundle.ts";
import { maxThroughput, pacedLoad, type LoadResult } from "../lib/load.ts";
import { startOrigin } from "../lib/origin.ts";
import { fmt, table, type Check, type ScenarioReport } from "../lib/results.ts";
import type { Scenario, ScenarioContext } from "../lib/scenario.ts";
import { startWorkerd, type DurableObjectClass } from "../lib/workerd.ts";

const PATH = "/pass/items/42?view=full";

/** The gateway's Durable Object classes (wrangler.toml), in memory for the bench. */
export const GATEWAY_DURABLE_OBJECTS: DurableObjectClass[] = [
  { binding: "QUOTA", className: "QuotaCounter", sql: true },
  { binding: "API_KEYS", className: "KeyStore", sql: true },
  { binding: "ROOMS", className: "RoomObject", sql: true },
];

function mean(results: LoadResult[], label: string): LoadResult {
  const avg = (key: "rps" | "p50" | "p90" | "p99" | "max") => results.reduce((s, r) => s + r[key], 0) / results.length;
  return {
    label,
    rps: avg("rps"), p50: avg("p50"), p90: avg("p90"), p99: avg("p99"), max: avg("max"),
    requests: results.reduce((s, r) => s + r.requests, 0),
    non2xx: results.reduce((s, r) => s + r.non2xx, 0),
    errors: results.reduce((s, r) => s + r.errors, 0),
    seconds: results.reduce((s, r) => s + r.seconds, 0),
  };
}

const row = (r: LoadResult): (string | number)[] =>
  [r.label, r.rate ? fmt(r.rate, 0) : "max", fmt(r.rps, 0), fmt(r.p50), fmt(r.p90), fmt(r.p99), fmt(r.max), r.requests, r.non2xx, r.errors, fmt(r.seconds, 1)];
const HEAD = ["run", "offered req/s", "req/s (2xx)", "p50 ms", "p90 ms", "p99 ms", "max ms", "requests", "non-2xx", "errors", "s"];

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
    const routesFile = join(ctx.outDir, "routes.json");
    writeFileSync(routesFile, JSON.stringify({
      origins: { origin: { url: origin.url, timeoutMs: 10_000 } },
      routes: [
        { id: "health", methods: ["GET"], path: "/health", origin: "origin", auth: "none" },
        { id: "users.get", methods: ["GET"], path: "/v1/users/:id", origin: "origin", rewrite: "/users/:id", auth: "none" },
        { id: "orders.any", path: "/v1/orders/*", origin: "origin", stripPrefix: "/v1", auth: "none" },
        { id: "pass", methods: ["GET", "POST"], path: "/pass/*", origin: "origin", auth: "none" },
      ],
    }, null, 2));
    const gatewayModule = await bundleGateway(routesFile, join(ctx.outDir, "gateway"));
    ctx.log(`gateway bundled: ${gatewayModule}`);

    const gatewayService = (name: string, log: "on" | "off") => ({
      name,
      modules: [{ name: "index.js", path: gatewayModule }],
      compatibilityDate: ctx.compatibilityDate,
      text: { LOG_REQUESTS: log },
      durableObjects: GATEWAY_DURABLE_OBJECTS,
    });
    const workerd = await startWorkerd({
      services: [
        gatewayService("gateway", "off"),
        gatewayService("gateway-log", "on"),
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
      const s = ctx.seconds;
      const half = Math.max(1, Math.round(s / 2));
      ctx.log("warm-up");
      for (const url of [urls.origin, urls.minimal, urls.gateway, urls.gatewayLog]) await maxThroughput("warm-up", url, { connections: c, seconds: 2 });

      ctx.log(`max throughput, ${c} connections`);
      const direct = await maxThroughput("origin direct", urls.origin, { connections: c, seconds: s });
      const rounds: LoadResult[] = [];
      for (const [label, url] of [["minimal proxy #1", urls.minimal], ["gateway #1", urls.gateway], ["gateway #2", urls.gateway], ["minimal proxy #2", urls.minimal]] as const) {
        rounds.push(await maxThroughput(label, url, { connections: c, seconds: half }));
        ctx.log(`  ${label}: ${fmt(rounds.at(-1)!.rps, 0)} req/s`);
      }
      const minimal = mean(rounds.filter((r) => r.label.startsWith("minimal")), "minimal proxy (mean)");
      const gateway = mean(rounds.filter((r) => r.label.startsWith("gateway")), "gateway (mean)");
      const gatewayLog = await maxThroughput("gateway, LOG_REQUESTS on", urls.gatewayLog, { connections: c, seconds: half });

      const rate = Math.round(minimal.rps / 2);
      ctx.log(`half load: ${rate} req/s paced`);
      const paced: LoadResult[] = [];
      for (const [label, url] of [["minimal proxy #1", urls.minimal], ["gateway #1", urls.gateway], ["gateway #2", urls.gateway], ["minimal proxy #2", urls.minimal]] as const) {
        paced.push(await pacedLoad(label, url, { rate, seconds: half, maxSockets: c }));
        ctx.log(`  ${label}: p50 ${fmt(paced.at(-1)!.p50)} ms`);
      }
      const halfMinimal = mean(paced.filter((r) => r.label.startsWith("minimal")), "minimal proxy (mean)");
      const halfGateway = mean(paced.filter((r) => r.label.startsWith("gateway")), "gateway (mean)");
      halfMinimal.rate = halfGateway.rate = rate;

      const ratio = gateway.rps / minimal.rps;
      const extraP50 = halfGateway.p50 - halfMinimal.p50;
      const failures = [direct, ...rounds, gatewayLog, ...paced].reduce((n, r) => n + r.non2xx + r.errors, 0);
      const checks: Check[] = [
        { target: "gateway throughput >= 0.9x minimal proxy", measured: `${fmt(ratio)}x (${fmt(gateway.rps, 0)} / ${fmt(minimal.rps, 0)} req/s)`, pass: ratio >= 0.9 },
        { target: "gateway p50 <= minimal p50 + 0.5 ms at half load", measured: `${extraP50 >= 0 ? "+" : ""}${fmt(extraP50, 3)} ms (${fmt(halfGateway.p50, 3)} vs ${fmt(halfMinimal.p50, 3)} ms at ${rate} req/s)`, pass: extraP50 <= 0.5 },
        { target: "no failed requests", measured: `${failures} non-2xx or errors`, pass: failures === 0 },
      ];

      const markdown = [
        `Request: \`GET ${PATH}\` (route \`pass\`, \`/pass/*\`, in a 4-route table), origin body ${body.length} bytes.`,
        `Throughput: autocannon, ${c} connections, no pipelining; ${s} s origin direct, then minimal/gateway/gateway/minimal ${half} s each, after a 2 s warm-up of each target. ` +
          `Latency percentiles are exact (every response time kept), not autocannon's 1 ms histogram.`,
        "",
        "### Summary",
        "",
        table(["target", "req/s", "p50 ms", "p99 ms", "vs minimal", "vs origin"], [
          ["origin direct", fmt(direct.rps, 0), fmt(direct.p50), fmt(direct.p99), "-", "1.00x"],
          ["minimal proxy Worker", fmt(minimal.rps, 0), fmt(minimal.p50), fmt(minimal.p99), "1.00x", `${fmt(minimal.rps / direct.rps)}x`],
          ["gateway (log off)", fmt(gateway.rps, 0), fmt(gateway.p50), fmt(gateway.p99), `${fmt(ratio)}x`, `${fmt(gateway.rps / direct.rps)}x`],
          ["gateway (log on)", fmt(gatewayLog.rps, 0), fmt(gatewayLog.p50), fmt(gatewayLog.p99), `${fmt(gatewayLog.rps / minimal.rps)}x`, `${fmt(gatewayLog.rps / direct.rps)}x`],
        ]),
        "",
        `Half load: ${rate} req/s (half the minimal proxy's mean maximum), paced evenly (open loop, latency from each request's scheduled send time; bench/lib/load.ts says why not autocannon's overallRate), ${half} s per run, minimal/gateway/gateway/minimal.`,
        "",
        table(["target", "p50 ms", "p90 ms", "p99 ms"], [
          ["minimal proxy Worker", fmt(halfMinimal.p50, 3), fmt(halfMinimal.p90, 3), fmt(halfMinimal.p99, 3)],
          ["gateway (log off)", fmt(halfGateway.p50, 3), fmt(halfGateway.p90, 3), fmt(halfGateway.p99, 3)],
        ]),
        "",
        "### Raw runs",
        "",
        table(HEAD, [direct, ...rounds, gatewayLog, ...paced.map((r) => ({ ...r, label: `half load: ${r.label}` }))].map(row)),
      ].join("\n");
      const summary = [
        `origin ${fmt(direct.rps, 0)} req/s | minimal ${fmt(minimal.rps, 0)} | gateway ${fmt(gateway.rps, 0)} (${fmt(ratio)}x minimal) | gateway+log ${fmt(gatewayLog.rps, 0)}`,
        `half load ${rate} req/s: p50 minimal ${fmt(halfMinimal.p50, 3)} ms, gateway ${fmt(halfGateway.p50, 3)} ms (${extraP50 >= 0 ? "+" : ""}${fmt(extraP50, 3)} ms)`,
      ];
      return { markdown, checks, summary };
    } finally {
      await workerd.stop();
      await origin.child.stop();
    }
  },
};
