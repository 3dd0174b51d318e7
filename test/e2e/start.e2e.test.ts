/**
 * The operator's commands, as they run them: `npm start -- --routes FILE --port N` serves another
 * table through wrangler dev, and refuses an invalid one before starting anything.
 */
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { promisify } from "node:util";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SourceMap } from "node:module";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { remapStack } from "../../scripts/stack.ts";
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

async function until(gateway: ReturnType<typeof start>, text: string, after = 0, ms = 45_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!gateway.output().slice(after).includes(text)) {
    if (Date.now() > deadline) throw new Error(`no "${text}" in the output:\n${gateway.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const count = (text: string, part: string) => text.split(part).length - 1;

describe("npm start -- --routes FILE --port N", () => {
  const routes = join(dir, "routes.json");
  const table = (path: string) => JSON.stringify({
    origins: { echo: { url: origin.url } },
    admin: { token: { env: "START_E2E_ADMIN_TOKEN" } },
    routes: [{ id: "try", path, origin: "echo", auth: "none", rewrite: "/tried/:thing" }],
  });
  let gateway: ReturnType<typeof start>;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    writeFileSync(routes, table("/try/:thing"));
    gateway = start(["--routes", routes, "--port", String(port)]);
    await until(gateway, "Edge Gateway is running");
  }, 60_000);
  afterAll(async () => { await gateway?.stop(); });

  it("serves the given table on the given port, alone", async () => {
    expect(gateway.output()).toContain(`running on http://127.0.0.1:${port}`);
    const response = await fetch(`http://127.0.0.1:${port}/try/it?x=1`);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { url: string }).url).toBe("/tried/it?x=1");
    expect((await fetch(`http://127.0.0.1:${port}/v1/users/1`)).status).toBe(404); // not the default table
  });

  it("reports at start, once, a secret the table names that is not set", async () => {
    const message = "START_E2E_ADMIN_TOKEN is not set: the admin API is off (its paths answer 404)";
    await until(gateway, message);
    await fetch(`http://127.0.0.1:${port}/try/again`);
    await until(gateway, `"path":"/try/again"`);
    expect(count(gateway.output(), message)).toBe(1);
    // The request that made the Worker check is not in the log.
    expect(gateway.output()).not.toContain("edge-gateway-startup-check");
  });

  it("logs each request once, the gateway's line only, and nothing about an unreachable network", async () => {
    await fetch(`http://127.0.0.1:${port}/try/once`);
    await until(gateway, `"path":"/try/once"`);
    await new Promise((r) => setTimeout(r, 300));
    const output = gateway.output();
    expect(count(output, "/try/once")).toBe(1);
    expect(output).not.toMatch(/\[wrangler:info\] GET/);
    expect(output).not.toMatch(/ENOTFOUND|Request\.cf/);
  });

  it("reloads when FILE changes, and keeps serving the last valid table when a save is invalid", async () => {
    let mark = gateway.output().length;
    writeFileSync(routes, table("/tried-again/:thing"));
    await until(gateway, "Edge Gateway reloaded", mark);
    expect((await fetch(`http://127.0.0.1:${port}/tried-again/x`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/try/x`)).status).toBe(404);

    mark = gateway.output().length;
    writeFileSync(routes, table("/v1/products/**"));
    await until(gateway, "Edge Gateway still serves the last valid", mark);
    expect(gateway.output().slice(mark)).toContain(`routes[0] ("try").path: "**" is not a pattern here`);
    expect((await fetch(`http://127.0.0.1:${port}/tried-again/x`)).status).toBe(200);
    expect(gateway.child.exitCode).toBeNull();
  });

  it("refuses an invalid table, listing every problem, and starts nothing", async () => {
    const routes = join(dir, "bad.json");
    writeFileSync(routes, JSON.stringify({ origins: {}, routes: [{ id: "x", path: "/x", origin: "nowhere" }] }));
    const gateway = start(["--routes", routes, "--port", String(await freePort())]);
    expect(await gateway.exited).toBe(1);
    expect(gateway.output()).toContain(`routes[0] ("x").auth: required: every route states its auth`);
    expect(gateway.output()).toContain(`routes[0] ("x").origin: unknown origin "nowhere"`);
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
    const code = readFileSync(join(outdir, bundle), "utf8");
    expect(code).toContain("edge-gateway/validated-route-table");
    // Minified (wrangler.toml), with function names kept and a source map that leads a logged
    // stack frame back to the source: what `npm run stack` does with an internal_error line.
    expect(code.split("\n").length).toBeLessThan(200);
    expect(code).toContain(`"requestContext")`); // wrangler's keep_names: stacks still name our functions
    // Inside the gateway handler of src/app.ts: `c.set("match", { canonicalPath: ... })`.
    const at = code.indexOf("{canonicalPath:");
    expect(at).toBeGreaterThan(0);
    const line = code.slice(0, at).split("\n").length;
    const column = at - code.lastIndexOf("\n", at - 1);
    const map = new SourceMap(JSON.parse(readFileSync(join(outdir, `${bundle}.map`), "utf8")));
    expect(remapStack(`    at gateway (${bundle}:${line}:${column})`, map, outdir)).toMatch(/^ {4}at gateway \(src\/app\.ts:\d+:\d+\)$/);
  });

  it("fails with every problem listed when the table is invalid", async () => {
    const routes = join(dir, "deploy-bad.json");
    writeFileSync(routes, JSON.stringify({ origins: { o: { url: "http://o" } }, routes: [{ id: "a", path: "/a", origin: "o" }, { id: "a", path: "/b", origin: "p", auth: "none" }] }));
    const result = await deploy(routes, mkdtempSync(join(tmpdir(), "gateway-deploy-")));
    expect(result.code).not.toBe(0);
    expect(result.output).toContain(`routes[0] ("a").auth: required: every route states its auth`);
    expect(result.output).toContain(`routes[1] ("a").origin: unknown origin "p"`);
    expect(result.output).toContain(`routes[1] ("a").id: duplicate route id "a" (also routes[0])`);
  });
});

/** The environment without GATEWAY_ROUTES, so each stage's build step picks its own table. */
const withoutRoutes = (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({ ...env, GATEWAY_ROUTES: undefined });

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
