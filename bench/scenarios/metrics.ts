/**
 * Metrics (issue 13): what the per-request recorder costs on the forwarding path, and whether the
 * counts are exact under load. One workerd runs the gateway twice, the same bundle and route table:
 * with RECORD_METRICS=off and with the recorder on (its default), both with the access log off, in
 * front of the Node origin. Figures: workerd CPU per request (the steady measure on this machine)
 * and throughput, interleaved rounds. Then the requests autocannon completed against the recording
 * gateway are compared with what the admin API reads back (the read flushes the isolate; workerd
 * serve runs one isolate per service, so nothing can be pending elsewhere).
 */
import { buildGateway, gatewayService } from "../../tools/gateway.ts";
import { startWorkerd } from "../../tools/workerd.ts";
import { interleaved, maxThroughput, medianOf } from "../lib/load.ts";
import { rawRunsTable, signed } from "../lib/load-table.ts";
import { startOrigin } from "../lib/origin.ts";
import { fmt, table, type Check, type ScenarioReport } from "../lib/results.ts";
import type { Scenario, ScenarioContext } from "../lib/scenario.ts";

const ROUNDS = 3;
const TOKEN = "bench-admin-token-metrics";

export const metrics: Scenario = {
  name: "metrics",
  title: "Metrics: the per-request recorder on vs off, and exact counts under load",
  async run(ctx: ScenarioContext): Promise<ScenarioReport> {
    const origin = await startOrigin();
    let workerd: Awaited<ReturnType<typeof startWorkerd>> | undefined;
    try {
      const module = await buildGateway({
        origins: { origin: { url: origin.url, timeoutMs: 10_000 } },
        admin: { token: { env: "ADMIN_TOKEN" } },
        routes: [{ id: "pass", methods: ["GET"], path: "/pass/*", origin: "origin", auth: "none" }],
      }, ctx.outDir);
      workerd = await startWorkerd({
        services: [
          gatewayService("gateway-off", module, ctx.compatibilityDate, { log: "off", secrets: { ADMIN_TOKEN: TOKEN, RECORD_METRICS: "off" } }),
          gatewayService("gateway-on", module, ctx.compatibilityDate, { log: "off", secrets: { ADMIN_TOKEN: TOKEN } }),
        ],
        sockets: { off: "gateway-off", on: "gateway-on" },
      }, ctx.outDir);
      const cpuPid = workerd.child.process.pid;
      const targets = [{ label: "metrics off", url: `${workerd.urls.off}/pass/items/42` }, { label: "metrics on", url: `${workerd.urls.on}/pass/items/42` }];
      let sentToRecorder = 0;
      for (const t of targets) {
        const response = await fetch(t.url);
        if (response.status !== 200) throw new Error(`${t.label}: expected 200, got ${response.status}`);
        await response.arrayBuffer();
      }
      sentToRecorder += 1;
      const c = ctx.connections;
      const run = Math.max(1, ctx.seconds / ROUNDS);
      ctx.log("warm-up");
      for (const t of targets) {
        const r = await maxThroughput("warm-up", t.url, { connections: c, seconds: 1 });
        if (t.label === "metrics on") sentToRecorder += r.requests;
      }
      ctx.log(`${ROUNDS} interleaved rounds of ${run} s, ${c} connections`);
      const runs = await interleaved(targets, ROUNDS, async (t, label) => {
        const r = await maxThroughput(label, t.url, { connections: c, seconds: run, cpuPid });
        ctx.log(`  ${label}: ${fmt(r.rps, 0)} req/s, ${fmt(r.cpuUsPerRequest, 1)} us CPU/req`);
        return r;
      });
      sentToRecorder += runs.get("metrics on")!.reduce((n, r) => n + r.requests, 0);
      const off = medianOf(runs.get("metrics off")!, "metrics off");
      const on = medianOf(runs.get("metrics on")!, "metrics on");
      const added = (on.cpuUsPerRequest ?? NaN) - (off.cpuUsPerRequest ?? NaN);

      const read = await fetch(`${workerd.urls.on}/_gateway/metrics?route=pass&from=${Math.floor(Date.now() / 1000) - 3600}`, { headers: { authorization: `Bearer ${TOKEN}` } });
      const body = (await read.json()) as { routes: { totals: { requests: number } }[] };
      const counted = body.routes[0]?.totals.requests ?? 0;
      // autocannon stops a run with up to one request in flight per connection: the gateway may
      // have answered (and counted) those without autocannon counting them.
      const runsOnRecorder = 1 + ROUNDS;
      const slack = c * runsOnRecorder;
      const failures = [...runs.values()].flat().reduce((n, r) => n + r.non2xx + r.errors, 0);
      const checks: Check[] = [
        { target: "no failed requests", measured: `${failures} non-2xx or errors`, pass: failures === 0 },
        {
          target: "metrics count every completed request (at most one in flight per connection per run more)",
          measured: `${counted} counted, ${sentToRecorder} completed (+${counted - sentToRecorder}, bound ${slack})`,
          pass: counted >= sentToRecorder && counted - sentToRecorder <= slack,
        },
      ];
      const markdown = [
        `Request: \`GET /pass/items/42\` through one gateway bundle served twice by one workerd, with \`RECORD_METRICS=off\` and with the recorder on (both \`LOG_REQUESTS=off\`), to the Node origin. ` +
          `autocannon, ${c} connections, ${ROUNDS} interleaved rounds of ${run} s per target after a 1 s warm-up; medians over the rounds.`,
        "",
        table(["", "req/s", "CPU us/req", "p50 ms", "p99 ms"], [
          ["metrics off", fmt(off.rps, 0), fmt(off.cpuUsPerRequest, 1), fmt(off.p50), fmt(off.p99)],
          ["metrics on", fmt(on.rps, 0), fmt(on.cpuUsPerRequest, 1), fmt(on.p50), fmt(on.p99)],
        ]),
        "",
        `Added by the recorder: ${signed(added)} us of workerd CPU per request (${fmt(on.rps / off.rps)}x the throughput). ` +
          "It includes the access entry the core builds for the recorder (with the log on it is built anyway), the counting, and the flush to the MetricsShard objects every 5 s.",
        "",
        `Exactness under load: the admin API read back ${counted} requests on route \`pass\`; autocannon completed ${sentToRecorder}.`,
        "",
        "### Raw runs",
        "",
        rawRunsTable([...runs.values()].flat()),
      ].join("\n");
      const summary = [`metrics: ${fmt(off.cpuUsPerRequest, 1)} -> ${fmt(on.cpuUsPerRequest, 1)} us CPU/req (${signed(added)} us), ${fmt(off.rps, 0)} -> ${fmt(on.rps, 0)} req/s; ${counted} counted of ${sentToRecorder} completed`];
      return { markdown, checks, summary };
    } finally {
      await workerd?.stop();
      await origin.child.stop();
    }
  },
};
