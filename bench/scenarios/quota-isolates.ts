/**
 * Admitted vs allowed across isolates: four gateway services in one workerd (each its own isolate
 * and lease book, sharing one set of Durable Objects: tools/gateway.ts `gatewayIsolates`), one key
 * on a plan of 10,000 per minute, and an open-loop load spread evenly over the four, well above the
 * quota, for every minute from now to the end of the next full one (about 1.5 to 2 minutes: the
 * quota period is a calendar minute, the shortest there is).
 *
 * Every admitted response is counted in the quota period its unit belongs to, read from its own
 * RateLimit field (`t`: seconds to that period's end), so a response that crosses a boundary is
 * not misfiled. Target: in every period, 0 admitted over the quota and at most 1% under what was
 * allowed (the quota, or what was offered if less).
 */
import { Agent, request } from "node:http";
import { buildGateway, gatewayIsolates } from "../../tools/gateway.ts";
import { startWorkerd } from "../../tools/workerd.ts";
import { startOrigin } from "../lib/origin.ts";
import { fmt, table, type Check, type ScenarioReport } from "../lib/results.ts";
import type { Scenario, ScenarioContext } from "../lib/scenario.ts";

const ADMIN_TOKEN = "bench-admin-token-0123456789abcdef";
const ISOLATES = 4;
const QUOTA = 10_000;
const RATE = 600; // offered req/s over all isolates: 3.6x the quota's average rate
const MINUTE = 60_000;

interface PeriodCount {
  start: number;
  offered: number;
  admitted: number;
  admittedBy: number[];
  refused: number;
}

export const quotaIsolates: Scenario = {
  name: "quota-isolates",
  title: `Quota across ${ISOLATES} isolates: admitted vs allowed at ${QUOTA.toLocaleString("en")} per minute, open-loop load above it`,
  async run(ctx: ScenarioContext): Promise<ScenarioReport> {
    const origin = await startOrigin();
    let workerd: Awaited<ReturnType<typeof startWorkerd>> | undefined;
    try {
      const module = await buildGateway({
        origins: { origin: { url: origin.url, timeoutMs: 10_000 } },
        admin: { token: { env: "ADMIN_TOKEN" } },
        plans: { tenk: { quota: { limit: QUOTA, per: "minute" } } },
        routes: [{ id: "keyed", path: "/keyed/*", origin: "origin", auth: { apiKey: true } }],
      }, ctx.outDir);
      const services = gatewayIsolates("gateway", ISOLATES, module, ctx.compatibilityDate, { log: "off", secrets: { ADMIN_TOKEN } });
      workerd = await startWorkerd({ services, sockets: Object.fromEntries(services.map((s) => [s.name, s.name])) }, ctx.outDir);
      const urls = services.map((s) => new URL(workerd!.urls[s.name]!));
      const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
      const created = await fetch(`${urls[0]!.origin}/_gateway/keys`, {
        method: "POST", headers: { ...admin, "content-type": "application/json" }, body: JSON.stringify({ name: "isolates", owner: "bench", plan: "tenk" }),
      });
      const { id, key } = (await created.json()) as { id: string; key: string };
      if (created.status !== 201) throw new Error(`POST /_gateway/keys: ${created.status}`);
      const counterCalls = async () => ((await (await fetch(`${urls[0]!.origin}/_gateway/keys/${id}/usage`, { headers: admin })).json()) as { counterCalls: number }).counterCalls;

      const started = Date.now();
      const until = (Math.floor(started / MINUTE) + 2) * MINUTE; // the end of the next full minute
      ctx.log(`${RATE} req/s over ${ISOLATES} isolates until ${new Date(until).toISOString()} (${fmt((until - started) / 1000, 0)} s)`);
      const calls0 = await counterCalls();
      const periods = new Map<number, PeriodCount>();
      const period = (start: number) => {
        let p = periods.get(start);
        if (!p) periods.set(start, p = { start, offered: 0, admitted: 0, admittedBy: new Array<number>(ISOLATES).fill(0), refused: 0 });
        return p;
      };
      const agents = urls.map(() => new Agent({ keepAlive: true, maxSockets: 64 }));
      let errors = 0, other = 0, sent = 0;
      const pending: Promise<void>[] = [];
      const fire = (isolate: number) => new Promise<void>((resolve) => {
        const url = urls[isolate]!;
        period(Math.floor(Date.now() / MINUTE) * MINUTE).offered++;
        const req = request({ agent: agents[isolate], host: url.hostname, port: url.port, path: "/keyed/x", headers: { "x-api-key": key } }, (res) => {
          res.resume();
          res.on("end", () => {
            // The period the decision belongs to: its RateLimit `t` is the seconds to that period's end.
            const t = Number(/;t=(\d+)/.exec(String(res.headers["ratelimit"] ?? ""))?.[1]);
            const decidedIn = () => period(Math.round((Date.now() + t * 1000 - 500) / MINUTE) * MINUTE - MINUTE);
            if (res.statusCode === 200) {
              const p = decidedIn();
              p.admitted++;
              p.admittedBy[isolate]!++;
            } else if (res.statusCode === 429) decidedIn().refused++;
            else other++;
            resolve();
          });
        });
        req.on("error", () => { errors++; resolve(); });
        req.end();
      });
      await new Promise<void>((resolve) => {
        const interval = 1000 / RATE;
        const t0 = performance.now();
        const tick = () => {
          const due = Math.floor((performance.now() - t0) / interval);
          while (sent < due) pending.push(fire(sent++ % ISOLATES));
          if (Date.now() >= until) return resolve();
          setTimeout(tick, 1);
        };
        tick();
      });
      await Promise.all(pending);
      for (const a of agents) a.destroy();
      const calls = (await counterCalls()) - calls0;

      const rows = [...periods.values()].sort((a, b) => a.start - b.start);
      // Allowed: the quota if anything was turned away in the period, else what was admitted (all of it).
      const judged = rows.map((p) => {
        const allowed = p.refused > 0 ? QUOTA : Math.min(QUOTA, p.admitted);
        return { ...p, allowed, over: Math.max(0, p.admitted - QUOTA), under: Math.max(0, allowed - p.admitted) };
      });
      const worstUnder = Math.max(...judged.map((p) => p.under / p.allowed));
      const over = judged.reduce((n, p) => n + p.over, 0);
      const checks: Check[] = [
        { target: "0 admitted over the quota in any period", measured: `${over} over`, pass: over === 0 },
        { target: "under by at most 1% of what was allowed, in every period", measured: `worst ${fmt(100 * worstUnder, 2)}% (${judged.map((p) => p.under).join(", ")} under)`, pass: worstUnder <= 0.01 },
        { target: "no errors (every answer a 200 or a 429)", measured: `${errors} errors, ${other} other statuses`, pass: errors === 0 && other === 0 },
      ];
      const markdown = [
        `${ISOLATES} gateway services in one workerd (each its own isolate), the first declaring the Durable Objects and the others binding them, as isolates of one Worker share them on Cloudflare. ` +
          `Plan \`tenk\`: quota ${QUOTA} per minute, counting by leases. One key on \`/keyed/*\`; requests paced at ${RATE} req/s in all, taken by the isolates in turn, from ${new Date(started).toISOString()} to ${new Date(until).toISOString()}. ` +
          `Every answer counts in the period its decision belongs to, read from its RateLimit \`t\` (a request sent just before a boundary may be decided after it); offered requests in the minute they were sent. ` +
          `Allowed is the quota when a period turned requests away, else everything admitted in it.`,
        "",
        table(["period (UTC)", "offered", "allowed", "admitted", "per isolate", "refused", "over", "under"], judged.map((p) => [
          `${new Date(p.start).toISOString().slice(11, 16)}${p.start < Math.floor(started / MINUTE) * MINUTE + MINUTE ? " (joined late)" : ""}`,
          p.offered, p.allowed, p.admitted, p.admittedBy.join(" / "), p.refused, p.over, `${p.under} (${fmt((100 * p.under) / p.allowed, 2)}%)`,
        ])),
        "",
        `QuotaCounter calls during the run: ${calls} for ${sent} requests (${fmt(calls / sent, 4)} per request).`,
      ].join("\n");
      const summary = [`admitted per period: ${judged.map((p) => `${p.admitted}/${p.allowed}`).join(", ")}; counter calls per request ${fmt(calls / sent, 4)}`];
      return { markdown, checks, summary };
    } finally {
      await workerd?.stop();
      await origin.child.stop();
    }
  },
};
