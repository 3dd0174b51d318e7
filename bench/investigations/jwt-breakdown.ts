/**
 * Investigation for the jwt scenario: what HS256 and ES256 verification cost inside workerd, step
 * by step (bench/investigations/workers/jwt-probe.js): the bare WebCrypto verify, decoding, jose's
 * jwtVerify and the gateway's JwtVerifier. Compare with the jwt section's added workerd CPU per request: the
 * difference is the policy around the verification (token lookup, scopes, identity headers, the
 * removal of Authorization) and the rest of the request path.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { bundleWorker } from "../../tools/bundle.ts";
import { buildGateway, gatewayService } from "../../tools/gateway.ts";
import { interleaved, maxThroughput, medianOf } from "../lib/load.ts";
import { startOrigin } from "../lib/origin.ts";
import { fmt, table, type ScenarioReport } from "../lib/results.ts";
import type { Scenario, ScenarioContext } from "../lib/scenario.ts";
import { startWorkerd } from "../../tools/workerd.ts";
import { AUDIENCE, benchJwtFixture, ISSUER } from "../../tools/jwt-tokens.ts";

const SECRET = "bench-hs256-secret-0123456789abcdefghijklmnop";
const COUNT = 3000;

export const jwtBreakdown: Scenario = {
  name: "jwt-breakdown",
  title: "JWT verification cost breakdown inside workerd (investigation)",
  optional: true,
  async run(ctx: ScenarioContext): Promise<ScenarioReport> {
    const entry = fileURLToPath(new URL("./workers/jwt-probe.js", import.meta.url));
    const module = await bundleWorker(entry, join(ctx.outDir, "jwt-probe"), ctx.compatibilityDate);
    const fixture = await benchJwtFixture({ secret: SECRET, jwksUrl: "http://127.0.0.1:9/jwks.json", origin: "origin" });
    const workerd = await startWorkerd({
      services: [{ name: "probe", modules: [{ name: "index.js", path: module }], compatibilityDate: ctx.compatibilityDate, loopbackOutbound: false }],
      sockets: { probe: "probe" },
    }, ctx.outDir);
    let markdownE2e = "";
    let e2eSummary = "";
    try {
      const response = await fetch(`${workerd.urls.probe}/measure?count=${COUNT}`, {
        method: "POST",
        body: JSON.stringify({ secret: SECRET, hs256: fixture.tokens.hs256, es256: fixture.tokens.es256, jwk: fixture.jwks.keys[0], issuer: ISSUER, audience: AUDIENCE }),
      });
      const body = (await response.json()) as { name: string; what: string; us: number }[] | { error: string };
      if ("error" in body) throw new Error(`jwt probe: ${body.error}`);
      for (const step of body) ctx.log(`${step.name}: ${fmt(step.us, 1)} us`);
      await workerd.stop();

      // End to end: which part of the HS256 route's policy costs what, by route variants.
      const origin = await startOrigin();
      mkdirSync(join(ctx.outDir, "e2e"), { recursive: true });
      const gw = await (async () => {
        const gatewayModule = await buildGateway({
          origins: { origin: { url: origin.url, timeoutMs: 10_000 } },
          authorizers: fixture.authorizers,
          routes: [
            { id: "none", path: "/none/*", origin: "origin", auth: "none" },
            { id: "hs-bare", path: "/hs-bare/*", origin: "origin", auth: { authorizer: "bench-hs256", forwardAuthorization: true } },
            { id: "hs-strip", path: "/hs-strip/*", origin: "origin", auth: { authorizer: "bench-hs256" } },
            { id: "hs-scopes", path: "/hs-scopes/*", origin: "origin", auth: { authorizer: "bench-hs256", scopes: ["bench"] } },
            fixture.routes[0]!,
          ],
        }, join(ctx.outDir, "e2e"));
        return startWorkerd({
          services: [gatewayService("gateway", gatewayModule, ctx.compatibilityDate, { log: "off", secrets: { BENCH_JWT_SECRET: SECRET } })],
          sockets: { gateway: "gateway" },
        }, join(ctx.outDir, "e2e"));
      })();
      try {
        const headers = { authorization: `Bearer ${fixture.tokens.hs256}` };
        const base = gw.urls.gateway!;
        const targets = [
          { label: "auth none", what: "baseline", url: `${base}/none/items/42` },
          { label: "HS256, forwardAuthorization", what: "verify only: no scopes, no identity headers, Authorization forwarded", url: `${base}/hs-bare/items/42` },
          { label: "HS256", what: "+ Authorization removed before the origin", url: `${base}/hs-strip/items/42` },
          { label: "HS256 + scopes", what: "+ `scopes: [\"bench\"]`", url: `${base}/hs-scopes/items/42` },
          { label: "HS256 + scopes + identityHeaders", what: "+ `identityHeaders: { x-user-id: sub }` (the jwt scenario's route)", url: `${base}/bench/hs256/items/42` },
        ];
        for (const t of targets) {
          const r = await fetch(t.url, { headers });
          await r.arrayBuffer();
          if (r.status !== 200) throw new Error(`${t.label}: ${r.status}`);
          await maxThroughput("warm-up", t.url, { connections: ctx.connections, seconds: 1, headers });
        }
        const cpuPid = gw.child.process.pid;
        const runs = await interleaved(targets, 3, async (t, label) => {
          const r = await maxThroughput(label, t.url, { connections: ctx.connections, seconds: 2, cpuPid, headers });
          ctx.log(`  ${label}: ${fmt(r.cpuUsPerRequest, 1)} us CPU/req`);
          return r;
        });
        const med = targets.map((t) => ({ t, r: medianOf(runs.get(t.label)!, t.label) }));
        const baseCpu = med[0]!.r.cpuUsPerRequest ?? NaN;
        markdownE2e = [
          "### End to end: route variants",
          "",
          `One gateway, the same HS256 token (${fixture.tokens.hs256.length} characters) on every route, autocannon ${ctx.connections} connections, 3 interleaved rounds of 2 s after a 1 s warm-up, medians; workerd CPU per request from /proc.`,
          "",
          table(["route", "what", "req/s", "workerd CPU us/request", "added vs auth none"], med.map(({ t, r }) => [t.label, t.what, fmt(r.rps, 0), fmt(r.cpuUsPerRequest, 1), fmt((r.cpuUsPerRequest ?? NaN) - baseCpu, 1)])),
        ].join("\n");
        e2eSummary = med.map(({ t, r }) => `${t.label} ${fmt((r.cpuUsPerRequest ?? NaN) - baseCpu, 1)}`).join(", ");
      } finally {
        await gw.stop();
        await origin.child.stop();
      }
      const markdown = [
        `Each step: ${COUNT} awaited operations in a loop inside one workerd isolate (no HTTP, no load generator), fastest of three loops; workerd's clock has 1 ms resolution, so figures are +-${fmt(1000 / COUNT, 2)} us. Wall time of the isolate's thread, comparable with (but not the same as) the jwt section's workerd CPU per request.`,
        "",
        table(["step", "what", "us/operation"], body.map((s) => [`\`${s.name}\``, s.what, fmt(s.us, 1)])),
        "",
        markdownE2e,
      ].join("\n");
      const get = (name: string) => body.find((s) => s.name === name)?.us ?? NaN;
      return {
        markdown,
        checks: [],
        summary: [`HMAC verify ${fmt(get("hmac-verify"), 1)} us, jose HS256 ${fmt(get("jose-hs256"), 1)} us, JwtVerifier HS256 ${fmt(get("verifier-hs256"), 1)} us, ECDSA verify ${fmt(get("ecdsa-verify"), 1)} us, jose ES256 ${fmt(get("jose-es256"), 1)} us`, `added CPU us/request: ${e2eSummary}`],
      };
    } finally {
      await workerd.stop();
    }
  },
};
