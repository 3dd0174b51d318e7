/**
 * Where the gateway's JavaScript time goes: V8 CPU profiles (lib/profile.ts) of the gateway
 * isolate and of the minimal proxy's, each under the same paced load, summed up per function as
 * microseconds per request. Opt-in: `npm run bench -- --only gateway-profile`.
 */
import { fileURLToPath } from "node:url";
import { buildGateway, gatewayService } from "../../tools/gateway.ts";
import { pacedLoad } from "../lib/load.ts";
import { startOrigin } from "../lib/origin.ts";
import { profileWhile, type ProfileSummary } from "../lib/profile.ts";
import { fmt, table, type ScenarioReport } from "../lib/results.ts";
import type { Scenario, ScenarioContext } from "../lib/scenario.ts";
import { startWorkerd } from "../../tools/workerd.ts";

const PATH = "/pass/items/42?view=full";
const RATE = 2000;
const TOP = 30;

function topTable(summary: ProfileSummary, requests: number, key: "selfMs" | "totalMs"): string {
  const rows = [...summary.functions].sort((a, b) => b[key] - a[key]).slice(0, TOP)
    .map((f) => [`\`${f.name}\``, fmt((f.selfMs * 1000) / requests, 2), fmt((f.totalMs * 1000) / requests, 2)]);
  return table(["function @ script:line:column", "self us/request", "inclusive us/request"], rows);
}

export const gatewayProfile: Scenario = {
  name: "gateway-profile",
  title: "Gateway CPU profile: JavaScript time per request by function",
  optional: true,
  async run(ctx: ScenarioContext): Promise<ScenarioReport> {
    const origin = await startOrigin();
    const gatewayModule = await buildGateway({
      origins: { origin: { url: origin.url, timeoutMs: 10_000 } },
      routes: [{ id: "pass", methods: ["GET", "POST"], path: "/pass/*", origin: "origin", auth: "none" }],
    }, ctx.outDir);
    const workerd = await startWorkerd({
      services: [
        gatewayService("gateway", gatewayModule, ctx.compatibilityDate, { log: "off" }),
        {
          name: "minimal",
          modules: [{ name: "minimal-proxy.js", path: fileURLToPath(new URL("../workers/minimal-proxy.js", import.meta.url)) }],
          compatibilityDate: ctx.compatibilityDate,
          text: { ORIGIN: origin.url },
        },
      ],
      sockets: { gateway: "gateway", minimal: "minimal" },
      inspector: true,
    }, ctx.outDir, "profile");
    try {
      const seconds = Math.max(3, ctx.seconds / 2);
      const sections: string[] = [];
      const summary: string[] = [];
      for (const service of ["minimal", "gateway"] as const) {
        const url = workerd.urls[service] + PATH;
        await pacedLoad("warm-up", url, { rate: RATE, seconds: 2, maxSockets: ctx.connections });
        let requests = 0;
        const profile = await profileWhile(`${workerd.inspectorUrl}/${service}`, async () => {
          const r = await pacedLoad(service, url, { rate: RATE, seconds, maxSockets: ctx.connections });
          requests = r.requests;
        });
        const busy = profile.functions.filter((f) => f.name !== "(idle)" && f.name !== "(root)").reduce((s, f) => s + f.selfMs, 0);
        const gc = profile.functions.find((f) => f.name === "(garbage collector)")?.selfMs ?? 0;
        const line = `${service}: isolate thread busy ${fmt((busy * 1000) / requests, 1)} us per request, of which GC ${fmt((gc * 1000) / requests, 1)} us (${requests} requests at ${RATE} req/s, profiler attached)`;
        summary.push(line);
        ctx.log(line);
        sections.push(`### ${service}`, "", line + ".", "", "Top functions by inclusive time:", "", topTable(profile, requests, "totalMs"), "",
          "Top functions by self time:", "", topTable(profile, requests, "selfMs"), "");
      }
      const markdown = [
        `V8 sampling profiler (200 us interval) through workerd's inspector, ${seconds} s at ${RATE} req/s paced (\`GET ${PATH}\`), after a 2 s warm-up. ` +
          "Figures are sampled wall time on the isolate's thread divided by requests: they include native work done on that thread inside the call that caused it " +
          "(`fetch @native` is workerd's HTTP client), are inflated by the attached profiler (compare with workerd CPU per request in the pass-through section, about 90 us for the minimal proxy), " +
          "and small entries are noisy. Read them as proportions. Positions `index.js:line:column` are in the gateway bundle (bench/.out/gateway-profile/gateway/index.js); other scripts are workerd's own.",
        "",
        ...sections,
      ].join("\n");
      return { markdown, checks: [], summary };
    } finally {
      await workerd.stop();
      await origin.child.stop();
    }
  },
};
