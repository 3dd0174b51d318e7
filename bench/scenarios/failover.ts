/**
 * Failover (issue 11): an origin with two targets, one of them down, against the healthy target
 * alone; a target that hangs, once its circuit is open; and the cost of a plain single-URL origin
 * against the code before upstreams existed (the merge-base with main, bundled in the same run).
 *
 * Targets: with one target of two down, success 100% and p99 within the healthy target's p99 plus
 * one connect failure; no request waits for a timeout once the breaker is open; single-target
 * pass-through costs no more than before (workerd CPU per request and throughput, same run).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request, Agent, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { bundleGatewayFrom } from "../../tools/bundle.ts";
import { buildGateway, GATEWAY_DURABLE_OBJECTS, gatewayService } from "../../tools/gateway.ts";
import { REPO_ROOT, startWorkerd, type WorkerService } from "../../tools/workerd.ts";
import { interleaved, maxThroughput, medianOf, pacedLoad, pacedMix, type LoadResult } from "../lib/load.ts";
import { startOrigin } from "../lib/origin.ts";
import { fmt, table, type Check, type ScenarioReport } from "../lib/results.ts";
import type { Scenario, ScenarioContext } from "../lib/scenario.ts";

const COST_ROUNDS = 5;
const RATE = 300; // req/s in all, paced: far below the gateway's saturation on this (shared) machine, so queueing behind other tenants stays small
const HANG_TIMEOUT_MS = 500;

/** A port that refuses connections: bound, then closed. */
async function refusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A server that accepts requests and never answers. */
async function hangingServer(): Promise<{ server: Server; url: string; hits: () => number }> {
  let hits = 0;
  const server = createServer(() => { hits++; });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits: () => hits };
}

/** `count` sequential requests on one keep-alive connection: each latency in ms and status. */
async function sequential(url: string, count: number): Promise<{ ms: number[]; statuses: number[] }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const ms: number[] = [], statuses: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    statuses.push(await new Promise<number>((resolve, reject) => {
      request(url, { agent }, (res) => { res.resume(); res.on("end", () => resolve(res.statusCode ?? 0)); }).on("error", reject).end();
    }));
    ms.push(performance.now() - started);
  }
  agent.destroy();
  return { ms, statuses };
}

const p = (values: number[], q: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(q * values.length))]!;

/** The source tree of `ref` under `dir` (inside the repo, so its imports resolve to node_modules). */
function checkout(ref: string, dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const archive = execFileSync("git", ["archive", "--format=tar", ref, "src"], { cwd: REPO_ROOT });
  execFileSync("tar", ["-x", "-C", dir], { input: archive });
}

function baselineRef(): string | undefined {
  const ref = process.env.BENCH_BASELINE ?? "main";
  try {
    return execFileSync("git", ["merge-base", "HEAD", ref], { cwd: REPO_ROOT, encoding: "utf8" }).trim();
  } catch {
    return undefined;
  }
}

const row = (r: LoadResult): (string | number)[] =>
  [r.label, r.rate ? fmt(r.rate, 0) : "max", fmt(r.rps, 0), fmt(r.p50), fmt(r.p99), fmt(r.max), fmt(r.cpuUsPerRequest, 1), r.requests, r.non2xx, r.errors];
const HEAD = ["run", "offered req/s", "req/s (2xx)", "p50 ms", "p99 ms", "max ms", "workerd CPU us/req", "requests", "non-2xx", "errors"];

export const failover: Scenario = {
  name: "failover",
  title: "Failover: two targets with one down, a hanging target behind an open breaker, single-target cost",
  async run(ctx: ScenarioContext): Promise<ScenarioReport> {
    const origin = await startOrigin();
    const refused = `http://127.0.0.1:${await refusedPort()}`;
    const hang = await hangingServer();
    const routes = {
      origins: {
        healthy: { url: origin.url, timeoutMs: 10_000 },
        single: { targets: [{ url: origin.url }], timeoutMs: 10_000 },
        pair: { targets: [{ url: refused }, { url: origin.url }], retries: { attempts: 1, on: ["connect"] }, circuitBreaker: { consecutiveFailures: 5, openSec: 30 } },
        retryOnly: { targets: [{ url: refused }, { url: origin.url }], retries: { attempts: 1, on: ["connect"], budgetPercent: 100 } },
        hanging: { targets: [{ url: hang.url }, { url: origin.url }], timeoutMs: HANG_TIMEOUT_MS, retries: { attempts: 1, on: ["timeout", "connect"] }, circuitBreaker: { consecutiveFailures: 3, openSec: 600 } },
        down: { url: refused },
      },
      routes: ["healthy", "single", "pair", "retryOnly", "hanging", "down"].map((name) => ({ id: name, path: `/${name}`, origin: name, auth: "none" })),
    };
    const gatewayModule = await buildGateway(routes, ctx.outDir);

    // The same table on the code before upstreams (bundled from the merge-base's src/).
    const ref = baselineRef();
    let baseline: WorkerService | undefined;
    if (ref !== undefined) {
      const tree = join(ctx.outDir, "baseline");
      checkout(ref, tree);
      const tableFile = join(ctx.outDir, "baseline-routes.json");
      // The same routes, every one to the plain origin (the code before upstreams knows no other kind).
      writeFileSync(tableFile, JSON.stringify({ origins: { healthy: routes.origins.healthy }, routes: routes.routes.map((r) => ({ ...r, origin: "healthy" })) }));
      const module = await bundleGatewayFrom(join(tree, "src/index.ts"), tableFile, join(ctx.outDir, "baseline-bundle"));
      const entry = readFileSync(join(tree, "src/index.ts"), "utf8");
      baseline = { ...gatewayService("baseline", module, ctx.compatibilityDate, { log: "off" }), durableObjects: GATEWAY_DURABLE_OBJECTS.filter((o) => entry.includes(o.className)) };
      ctx.log(`baseline: ${ref.slice(0, 10)} bundled`);
    }
    const workerd = await startWorkerd({
      services: [gatewayService("gateway", gatewayModule, ctx.compatibilityDate, { log: "off" }), ...(baseline ? [baseline] : [])],
      sockets: { gateway: "gateway", ...(baseline ? { baseline: "baseline" } : {}) },
    }, ctx.outDir);
    const url = (path: string) => workerd.urls.gateway + path;
    const cpuPid = workerd.child.process.pid;

    try {
      // One connect failure, as the gateway sees it: a request to a URL origin that refuses.
      const refusedRun = await sequential(url("/down"), 300);
      if (refusedRun.statuses.some((s) => s !== 502)) throw new Error("the refused origin did not answer 502");
      const connectFailure = p(refusedRun.ms, 0.5);
      ctx.log(`one connect failure: ${fmt(connectFailure, 3)} ms (p50 of 300 requests to a refused origin)`);

      // Failover: the three origins in one paced run, request by request in turn, so the machine's
      // drift (other tenants) hits them alike; the pair with a breaker starts cold, so the run
      // includes the refused tries that open its circuit.
      const mixSeconds = ctx.seconds * 2;
      ctx.log(`failover, paced ${RATE} req/s in all, the three origins in turn, ${mixSeconds} s`);
      const [healthy, pair, retryOnly] = await pacedMix([
        { label: "healthy target alone", url: url("/healthy") },
        { label: "two targets, one down (retries + breaker)", url: url("/pair") },
        { label: "two targets, one down (retries only)", url: url("/retryOnly") },
      ], { rate: RATE, seconds: mixSeconds, maxSockets: 64, cpuPid }) as [LoadResult, LoadResult, LoadResult];
      for (const r of [healthy, pair, retryOnly]) ctx.log(`  ${r.label}: p50 ${fmt(r.p50, 3)} ms, p99 ${fmt(r.p99, 3)} ms, ${r.non2xx + r.errors} failed of ${r.requests}`);

      // A target that hangs: three timeouts open its circuit; after that nothing waits for one.
      const opening = await sequential(url("/hanging"), 6);
      const afterOpen = await pacedLoad("hanging target, circuit open", url("/hanging"), { rate: RATE, seconds: ctx.seconds / 2, maxSockets: 64, cpuPid });
      const hangHitsDuring = hang.hits();
      ctx.log(`hanging target: opening requests ${opening.ms.map((m) => fmt(m, 0)).join(", ")} ms; then max ${fmt(afterOpen.max, 3)} ms over ${afterOpen.requests} requests`);

      // Single-target pass-through: today's plain url route vs the code before upstreams, and the single-target `targets` path.
      const costRun = Math.max(1, ctx.seconds / COST_ROUNDS);
      ctx.log(`single target, max throughput, ${ctx.connections} connections, ${COST_ROUNDS} interleaved rounds of ${costRun} s`);
      const singleTargets = [
        { label: "plain url origin (this code)", url: url("/healthy") },
        ...(baseline ? [{ label: "plain url origin (before upstreams)", url: workerd.urls.baseline + "/healthy" }] : []),
        { label: "one target via targets (this code)", url: url("/single") },
      ];
      for (const t of singleTargets) await maxThroughput("warm-up", t.url, { connections: ctx.connections, seconds: 1 });
      const max = await interleaved(singleTargets, COST_ROUNDS, async (t, label) => {
        const r = await maxThroughput(label, t.url, { connections: ctx.connections, seconds: costRun, cpuPid });
        ctx.log(`  ${label}: ${fmt(r.rps, 0)} req/s, ${fmt(r.cpuUsPerRequest, 1)} us CPU/req`);
        return r;
      });
      // Both at once, half the connections each: they share every moment (and workerd's thread),
      // so the split of throughput between them is the ratio of their costs.
      const shared: { now: LoadResult; before: LoadResult }[] = [];
      if (baseline) {
        ctx.log(`single target, both at once, ${Math.max(1, ctx.connections >> 1)} connections each, ${COST_ROUNDS} rounds of ${costRun} s`);
        for (let round = 0; round < COST_ROUNDS; round++) {
          const half = { connections: Math.max(1, ctx.connections >> 1), seconds: costRun };
          const [now, before] = await Promise.all([
            maxThroughput(`both at once: plain url (this code) #${round + 1}`, url("/healthy"), half),
            maxThroughput(`both at once: plain url (before upstreams) #${round + 1}`, workerd.urls.baseline + "/healthy", half),
          ]);
          shared.push({ now, before });
          ctx.log(`  round ${round + 1}: ${fmt(now.rps, 0)} vs ${fmt(before.rps, 0)} req/s (${fmt(now.rps / before.rps)}x)`);
        }
      }
      const sharedRatios = shared.map((r) => r.now.rps / r.before.rps).sort((a, b) => a - b);
      const sharedRatio = sharedRatios.length === 0 ? NaN : sharedRatios[sharedRatios.length >> 1]!;
      const plainNow = medianOf(max.get(singleTargets[0]!.label)!, "plain url, this code (median)");
      const plainBefore = baseline ? medianOf(max.get("plain url origin (before upstreams)")!, "plain url, before (median)") : undefined;
      const single = medianOf(max.get("one target via targets (this code)")!, "one target via targets (median)");

      const failures = (r: LoadResult) => r.non2xx + r.errors;
      const pairFailures = failures(pair);
      const pairRequests = pair.requests;
      const budget = healthy.p99 + connectFailure;
      const cpuRatio = plainBefore ? (plainNow.cpuUsPerRequest ?? NaN) / (plainBefore.cpuUsPerRequest ?? NaN) : NaN;
      const rpsRatio = plainBefore ? plainNow.rps / plainBefore.rps : NaN;
      const checks: Check[] = [
        { target: "one target of two down: success rate 100%", measured: `${pairRequests - pairFailures} / ${pairRequests} (${fmt((1 - pairFailures / pairRequests) * 100, 3)}%)`, pass: pairFailures === 0 },
        { target: "one target of two down: p99 <= healthy p99 + one connect failure", measured: `${fmt(pair.p99, 3)} ms vs ${fmt(healthy.p99, 3)} + ${fmt(connectFailure, 3)} = ${fmt(budget, 3)} ms (${pair.requests} and ${healthy.requests} requests, in turn in one run)`, pass: pair.p99 <= budget },
        { target: "breaker open: no request waits for a timeout", measured: `max ${fmt(afterOpen.max, 1)} ms over ${afterOpen.requests} requests (timeout ${HANG_TIMEOUT_MS} ms); hanging target reached ${hangHitsDuring} times in all`, pass: afterOpen.max < HANG_TIMEOUT_MS && failures(afterOpen) === 0 },
        plainBefore
          ? { target: "single-target pass-through costs no more than before (side by side: >= 0.95x the requests served)", measured: `${fmt(sharedRatio)}x req/s (rounds: ${sharedRatios.map((r) => fmt(r)).join(", ")}); in turn (noisier, not judged): ${fmt(rpsRatio)}x req/s, ${fmt(cpuRatio)}x CPU/request (${fmt(plainNow.cpuUsPerRequest, 1)} vs ${fmt(plainBefore.cpuUsPerRequest, 1)} us)`, pass: sharedRatio >= 0.95 }
          : { target: "single-target pass-through costs no more than before", measured: "no baseline (git merge-base with main failed)", pass: false },
      ];

      const markdown = [
        `Origin: the bench origin (Node, loopback). Down target: a closed loopback port (connection refused). Hanging target: a Node server that never answers; timeoutMs ${HANG_TIMEOUT_MS}. ` +
          `Failover: one run paced at ${RATE} req/s in all (open loop, latency from each request's scheduled send time) for ${ctx.seconds * 2} s, its requests going to the three origins in turn (bench/lib/load.ts pacedMix), ` +
          `so that the shared machine's drift hits them alike; the "retries + breaker" origin starts cold, so the run includes the refused tries that open its circuit. ` +
          `Single-target cost: autocannon, ${ctx.connections} connections, ${COST_ROUNDS} interleaved rounds of ${Math.max(1, ctx.seconds / COST_ROUNDS)} s, medians. ` +
          `Baseline: ${ref ? `\`${ref.slice(0, 10)}\` (git merge-base HEAD ${process.env.BENCH_BASELINE ?? "main"}), bundled from its own src/ and served by the same workerd` : "none"}.`,
        "",
        "### Summary",
        "",
        table(["what", "p50 ms", "p99 ms", "max ms", "failed"], [
          ["healthy target alone", fmt(healthy.p50, 3), fmt(healthy.p99, 3), fmt(healthy.max, 3), failures(healthy)],
          ["two targets, one down: retries + breaker", fmt(pair.p50, 3), fmt(pair.p99, 3), fmt(pair.max, 3), failures(pair)],
          ["two targets, one down: retries only (every other request retried)", fmt(retryOnly.p50, 3), fmt(retryOnly.p99, 3), fmt(retryOnly.max, 3), failures(retryOnly)],
          ["one connect failure (a refused URL origin, sequential)", fmt(connectFailure, 3), fmt(p(refusedRun.ms, 0.99), 3), fmt(Math.max(...refusedRun.ms), 3), "-"],
          [`hanging target + healthy, circuit open (${ctx.seconds / 2} s)`, fmt(afterOpen.p50, 3), fmt(afterOpen.p99, 3), fmt(afterOpen.max, 3), failures(afterOpen)],
        ]),
        "",
        `Opening the hanging target's circuit: 6 sequential requests took ${opening.ms.map((m) => fmt(m, 0)).join(", ")} ms (three of them waited for the ${HANG_TIMEOUT_MS} ms timeout, then were retried on the healthy target).`,
        "",
        table(["single target, max throughput", "req/s", "p50 ms", "p99 ms", "workerd CPU us/request", "vs before"], [
          ["plain url origin (this code)", fmt(plainNow.rps, 0), fmt(plainNow.p50), fmt(plainNow.p99), fmt(plainNow.cpuUsPerRequest, 1), plainBefore ? `${fmt(rpsRatio)}x req/s, ${fmt(cpuRatio)}x CPU` : "-"],
          ...(plainBefore ? [["plain url origin (before upstreams)", fmt(plainBefore.rps, 0), fmt(plainBefore.p50), fmt(plainBefore.p99), fmt(plainBefore.cpuUsPerRequest, 1), "1.00x"]] : []),
          ["one target via `targets` (this code)", fmt(single.rps, 0), fmt(single.p50), fmt(single.p99), fmt(single.cpuUsPerRequest, 1),
            plainBefore ? `${fmt(single.rps / plainBefore.rps)}x req/s, ${fmt((single.cpuUsPerRequest ?? NaN) / (plainBefore.cpuUsPerRequest ?? NaN))}x CPU` : "-"],
        ]),
        "",
        ...(shared.length > 0 ? [
          `Side by side (both services loaded at once, ${Math.max(1, ctx.connections >> 1)} connections each, ${COST_ROUNDS} rounds): this code served ${fmt(sharedRatio)}x the requests of the code before upstreams (median of rounds: ${sharedRatios.map((r) => fmt(r)).join(", ")}). ` +
            "Runs in turn differ by more than any such effect on this shared machine; the side-by-side split is the steadier figure (bench/FINDINGS.md, failover).",
          "",
        ] : []),
        "### Raw runs",
        "",
        table(HEAD, [healthy, pair, retryOnly, afterOpen, ...[...max.values()].flat(), ...shared.flatMap((r) => [r.now, r.before])].map(row)),
      ].join("\n");
      const summary = [
        `one down: ${pairRequests - pairFailures}/${pairRequests} ok, p99 ${fmt(pair.p99, 3)} ms vs healthy ${fmt(healthy.p99, 3)} ms + connect failure ${fmt(connectFailure, 3)} ms`,
        `hanging target, circuit open: max ${fmt(afterOpen.max, 1)} ms (timeout ${HANG_TIMEOUT_MS})`,
        plainBefore ? `plain url: ${fmt(plainNow.rps, 0)} req/s vs ${fmt(plainBefore.rps, 0)} before; CPU ${fmt(plainNow.cpuUsPerRequest, 1)} vs ${fmt(plainBefore.cpuUsPerRequest, 1)} us/request` : "no baseline",
      ];
      return { markdown, checks, summary };
    } finally {
      await workerd.stop();
      await origin.child.stop();
      hang.server.closeAllConnections();
      hang.server.close();
    }
  },
};
