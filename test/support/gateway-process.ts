/**
 * Runs the real gateway Worker as a server on a loopback port, for end-to-end tests: the entry
 * (src/index.ts) is bundled with esbuild as wrangler would (the route table aliased to a per-run
 * file, so gateways with different tables can run at once) and served by plain `workerd serve` with
 * the Durable Object namespaces of wrangler.toml (SQLite-backed, in memory).
 */
import { build } from "esbuild";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const WORKERD = join(ROOT, "node_modules/.bin/workerd");
const compatibilityDate = /compatibility_date\s*=\s*"([^"]+)"/.exec(readFileSync(join(ROOT, "wrangler.toml"), "utf8"))![1]!;
const DURABLE_OBJECTS = { QUOTA: "QuotaCounter", API_KEYS: "KeyStore", ROOMS: "RoomObject" };

export interface GatewayProcess {
  url: string;
  port: number;
  /** Resident memory of the workerd process serving the gateway, in bytes. */
  rss(): number;
  /** What workerd printed (the access log and errors). */
  output(): string;
  stop(): Promise<void>;
}

export interface GatewayOptions {
  routes: unknown;
  /** Text bindings: secrets and vars. */
  bindings?: Record<string, string>;
}

export async function bundleGateway(routesFile: string, outfile: string): Promise<void> {
  await build({
    entryPoints: [join(ROOT, "src/index.ts")],
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2023",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    external: ["cloudflare:*"],
    alias: { "@edge-gateway/routes": routesFile },
    outfile,
    logLevel: "silent",
  });
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const capnpString = (s: string) => JSON.stringify(s);

export async function startGateway(options: GatewayOptions): Promise<GatewayProcess> {
  const dir = mkdtempSync(join(tmpdir(), "gateway-e2e-"));
  const routesFile = join(dir, "routes.json");
  writeFileSync(routesFile, JSON.stringify(options.routes));
  mkdirSync(join(dir, "do"));
  await bundleGateway(routesFile, join(dir, "index.js"));
  const port = await freePort();
  const bindings = Object.entries({ LOG_REQUESTS: "on", ...options.bindings })
    .map(([name, value]) => `(name = ${capnpString(name)}, text = ${capnpString(value)})`)
    .concat(Object.entries(DURABLE_OBJECTS).map(([name, cls]) => `(name = "${name}", durableObjectNamespace = "${cls}")`));
  writeFileSync(join(dir, "config.capnp"), `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "gateway", worker = .gateway),
    (name = "internet", network = (allow = ["public", "private", "local"])),
    (name = "do-storage", disk = (path = ${capnpString(join(dir, "do"))}, writable = true)),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "gateway") ],
);
const gateway :Workerd.Worker = (
  modules = [ (name = "index.js", esModule = embed "index.js") ],
  compatibilityDate = "${compatibilityDate}",
  bindings = [ ${bindings.join(", ")} ],
  durableObjectNamespaces = [ ${Object.values(DURABLE_OBJECTS).map((cls) => `(className = "${cls}", uniqueKey = "e2e-${cls}", enableSql = true)`).join(", ")} ],
  durableObjectStorage = (localDisk = "do-storage"),
  globalOutbound = "internet",
);
`);
  const child: ChildProcess = spawn(WORKERD, ["serve", join(dir, "config.capnp"), "--verbose"], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (chunk) => { output += chunk; });
  child.stderr!.on("data", (chunk) => { output += chunk; });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`workerd exited: ${output}`);
    try {
      await fetch(`${url}/__gateway_e2e_ready`);
      break;
    } catch {
      if (Date.now() > deadline) { child.kill("SIGKILL"); throw new Error(`workerd did not start: ${output}`); }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return {
    url,
    port,
    rss: () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))![1]) * 1024,
    output: () => output,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 2000))]);
        if (child.exitCode === null) child.kill("SIGKILL");
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
