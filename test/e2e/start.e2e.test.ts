/**
 * The operator's commands, as they run them: `npm start -- --routes FILE --port N` serves another
 * table through wrangler dev, and refuses an invalid one before starting anything.
 */
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { promisify } from "node:util";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEchoOrigin } from "../support/echo-origin.ts";
import { freePort } from "../support/gateway-process.ts";

const NODE = join(process.cwd(), "node_modules/.bin/node");
const dir = mkdtempSync(join(tmpdir(), "gateway-start-"));
let origin: Awaited<ReturnType<typeof startEchoOrigin>>;

beforeAll(async () => { origin = await startEchoOrigin(); });
afterAll(() => { origin.server.closeAllConnections(); origin.server.close(); });

function start(args: string[]) {
  const child = spawn(NODE, ["scripts/start.ts", ...args], {
    env: { ...process.env, PATH: `${join(process.cwd(), "node_modules/.bin")}:${process.env.PATH}` },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // its own process group, so stopping it stops wrangler and workerd too
  });
  let out = "";
  child.stdout.on("data", (c) => { out += c; });
  child.stderr.on("data", (c) => { out += c; });
  const exited = new Promise<number>((resolve) => child.on("exit", (code) => resolve(code ?? -1)));
  return { child, output: () => out, exited, stop: () => { try { process.kill(-child.pid!, "SIGTERM"); } catch { /* gone */ } return exited; } };
}

describe("npm start -- --routes FILE --port N", () => {
  it("serves the given table on the given port, alone", async () => {
    const port = await freePort();
    const routes = join(dir, "routes.json");
    writeFileSync(routes, JSON.stringify({
      origins: { echo: { url: origin.url } },
      routes: [{ id: "try", path: "/try/:thing", origin: "echo", auth: "none", rewrite: "/tried/:thing" }],
    }));
    const gateway = start(["--routes", routes, "--port", String(port)]);
    try {
      const deadline = Date.now() + 45_000;
      while (!gateway.output().includes("Edge Gateway is running")) {
        if (Date.now() > deadline) throw new Error(`gateway did not start:\n${gateway.output()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(gateway.output()).toContain(`running on http://127.0.0.1:${port}`);
      const response = await fetch(`http://127.0.0.1:${port}/try/it?x=1`);
      expect(response.status).toBe(200);
      expect(((await response.json()) as { url: string }).url).toBe("/tried/it?x=1");
      expect((await fetch(`http://127.0.0.1:${port}/v1/users/1`)).status).toBe(404); // not the default table
    } finally {
      await gateway.stop();
    }
  });

  it("refuses an invalid table, listing every problem, and starts nothing", async () => {
    const routes = join(dir, "bad.json");
    writeFileSync(routes, JSON.stringify({ origins: {}, routes: [{ id: "x", path: "/x", origin: "nowhere" }] }));
    const gateway = start(["--routes", routes, "--port", String(await freePort())]);
    expect(await gateway.exited).toBe(1);
    expect(gateway.output()).toContain(`routes[0].auth: required: every route states its auth`);
    expect(gateway.output()).toContain(`routes[0].origin: unknown origin "nowhere"`);
    expect(gateway.output()).not.toContain("wrangler");
  });
});

describe("wrangler deploy --dry-run (what wrangler deploy builds, without uploading)", () => {
  const deploy = (routesFile: string, outdir: string) => promisify(execFile)(join(process.cwd(), "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "--outdir", outdir], {
    env: { ...process.env, PATH: `${join(process.cwd(), "node_modules/.bin")}:${process.env.PATH}`, GATEWAY_ROUTES: routesFile, WRANGLER_SEND_METRICS: "false" },
  }).then(({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }), (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, output: err.stdout + err.stderr }));

  it("bundles the Worker with the validated table and its Durable Objects", async () => {
    const outdir = mkdtempSync(join(tmpdir(), "gateway-deploy-"));
    const result = await deploy(join(process.cwd(), "routes.json"), outdir);
    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain("env.QUOTA (QuotaCounter)");
    const bundle = readdirSync(outdir).find((f) => f.endsWith(".js"))!;
    expect(readFileSync(join(outdir, bundle), "utf8")).toContain("edge-gateway/validated-route-table");
  });

  it("fails with every problem listed when the table is invalid", async () => {
    const routes = join(dir, "deploy-bad.json");
    writeFileSync(routes, JSON.stringify({ origins: { o: { url: "http://o" } }, routes: [{ id: "a", path: "/a", origin: "o" }, { id: "a", path: "/b", origin: "p", auth: "none" }] }));
    const result = await deploy(routes, mkdtempSync(join(tmpdir(), "gateway-deploy-")));
    expect(result.code).not.toBe(0);
    expect(result.output).toContain(`routes[0].auth: required: every route states its auth`);
    expect(result.output).toContain(`routes[1].origin: unknown origin "p"`);
    expect(result.output).toContain(`routes[1].id: duplicate route id "a" (also routes[0])`);
  });
});

/** The environment without GATEWAY_ROUTES, so each stage's build step picks its own table. */
const withoutRoutes = (env: NodeJS.ProcessEnv) => Object.fromEntries(Object.entries(env).filter(([name]) => name !== "GATEWAY_ROUTES"));

describe("stages: wrangler.toml [env.staging] and [env.production]", () => {
  const wrangler = (args: string[]) => promisify(execFile)(join(process.cwd(), "node_modules/.bin/wrangler"), args, {
    env: { ...withoutRoutes(process.env), PATH: `${join(process.cwd(), "node_modules/.bin")}:${process.env.PATH}`, WRANGLER_SEND_METRICS: "false" },
  }).then(({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }), (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, output: err.stdout + err.stderr }));
  const bundleOf = (outdir: string) => readFileSync(join(outdir, readdirSync(outdir).find((f) => f.endsWith(".js"))!), "utf8");

  it("wrangler deploy --dry-run --env staging validates and bundles routes.staging.json, with the stage's bindings", async () => {
    const outdir = mkdtempSync(join(tmpdir(), "gateway-staging-"));
    const result = await wrangler(["deploy", "--dry-run", "--env", "staging", "--outdir", outdir]);
    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain("routes.staging.json is valid.");
    expect(result.output).toContain("env.UPSTREAM_HEALTH (TargetHealth)");
    const bundle = bundleOf(outdir);
    expect(bundle).toContain("http://127.0.0.1:9003"); // the staging table's canary target
  });

  it("wrangler deploy --dry-run --env production bundles routes.json", async () => {
    const outdir = mkdtempSync(join(tmpdir(), "gateway-production-"));
    const result = await wrangler(["deploy", "--dry-run", "--env", "production", "--outdir", outdir]);
    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain("routes.json is valid.");
    expect(bundleOf(outdir)).not.toContain("http://127.0.0.1:9003");
  });

  it("npm start -- --env staging runs wrangler dev on the stage (its build step, its bindings) with the table given", async () => {
    // Without --routes the stage's own table is served (routesFileFor, tested in test/node); its demo
    // origins listen on fixed ports, which this shared machine cannot promise, so the table here is
    // a copy of routes.staging.json pointed at a test origin.
    const port = await freePort();
    const staging = JSON.parse(readFileSync("routes.staging.json", "utf8")) as { origins: Record<string, unknown> };
    staging.origins.users = { targets: [{ url: origin.url, weight: 9 }, { url: `${origin.url}/canary`, weight: 1 }] };
    const routes = join(dir, "staging.json");
    writeFileSync(routes, JSON.stringify(staging));
    const gateway = start(["--env", "staging", "--routes", routes, "--port", String(port)]);
    try {
      const deadline = Date.now() + 45_000;
      while (!gateway.output().includes("Edge Gateway is running")) {
        if (Date.now() > deadline || gateway.child.exitCode !== null) throw new Error(`gateway did not start:\n${gateway.output()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(gateway.output()).toContain("node scripts/check.ts --env staging --out .gateway/routes.json"); // [env.staging.build]
      expect(gateway.output()).toContain("(stage staging)");
      const health = await fetch(`http://127.0.0.1:${port}/health`);
      expect(health.status).toBe(200);
      expect(health.headers.get("x-gateway-stage")).toBe("staging");
      const paths: string[] = [];
      for (let i = 0; i < 10; i++) paths.push(((await (await fetch(`http://127.0.0.1:${port}/v1/users/${i}`)).json()) as { url: string }).url);
      expect(paths.filter((p) => p.startsWith("/canary/")).length).toBe(1); // weights 9:1
    } finally {
      await gateway.stop();
    }
  });
});
