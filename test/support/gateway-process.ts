/**
 * Runs the real gateway Worker as a server on a loopback port, for end-to-end tests: bundled by
 * wrangler from a per-run route table, as `wrangler deploy` would bundle it (tools/bundle.ts; no
 * shared .gateway/ file, so gateways with different tables can run at once), and served by plain
 * `workerd serve` through the launcher the benchmarks use too (tools/workerd.ts): the Durable
 * Objects of wrangler.toml in SQLite on a temporary disk, and ports assigned by workerd itself.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildGateway, cacheService, gatewayIsolates, gatewayService } from "../../tools/gateway.ts";
import { projectCompatibilityDate, startWorkerd, type WorkerService } from "../../tools/workerd.ts";

export interface GatewayProcess {
  url: string;
  /** Every socket's URL: `http` (the gateway) and the extra sockets asked for. */
  urls: Record<string, string>;
  port: number;
  /** Resident memory of the workerd process serving the gateway, in bytes. */
  rss(): number;
  /** Everything workerd printed since it started listening (the access log and errors). */
  output(): string;
  stop(): Promise<void>;
}

export interface GatewayOptions {
  routes: unknown;
  /** Text bindings: Worker secrets and vars. */
  bindings?: Record<string, string>;
  /** Back `caches.default` with tools/cache-service.js (plain workerd has no Cache API otherwise). */
  cache?: boolean;
  /** Other Workers in the same workerd config (a service-binding origin, a cron trigger). */
  services?: WorkerService[];
  /** The gateway's service bindings: binding name -> one of `services`. */
  serviceBindings?: Record<string, string>;
  /** Extra sockets: socket name -> one of `services`. */
  sockets?: Record<string, string>;
  /** Allow experimental compatibility flags in `services` (workerd --experimental). */
  experimental?: boolean;
}

/** A port free at the time of asking (for tools, like wrangler dev, that take a port number). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function startGateway(options: GatewayOptions): Promise<GatewayProcess> {
  const dir = mkdtempSync(join(tmpdir(), "gateway-e2e-"));
  const module = await buildGateway(options.routes, dir);
  const date = projectCompatibilityDate();
  const workerd = await startWorkerd({
    services: [
      gatewayService("gateway", module, date, {
        log: "on", secrets: options.bindings ?? {},
        ...(options.cache ? { cache: "cache" } : {}),
        ...(options.serviceBindings ? { services: options.serviceBindings } : {}),
      }),
      ...(options.cache ? [cacheService("cache", date)] : []),
      ...(options.services ?? []),
    ],
    sockets: { http: "gateway", ...options.sockets },
    experimental: options.experimental === true,
  }, dir);
  // The launcher keeps only a tail; security tests read all of it ("no token in the logs").
  let output = "";
  const keep = (chunk: Buffer) => { output += chunk.toString("utf8"); };
  workerd.child.process.stdout?.on("data", keep);
  workerd.child.process.stderr?.on("data", keep);
  const url = workerd.urls.http!;
  const pid = workerd.child.process.pid!;
  return {
    url,
    urls: workerd.urls,
    port: Number(new URL(url).port),
    rss: () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) * 1024,
    output: () => output,
    async stop() {
      await workerd.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface GatewayIsolates {
  /** One URL per gateway isolate (workerd service), all sharing one set of Durable Objects. */
  urls: string[];
  /** Everything workerd printed since it (last) started. */
  output(): string;
  /** SIGKILL: every isolate and Durable Object dies at once, nothing is flushed or released. */
  kill(): Promise<void>;
  /** Starts workerd again on the same Durable Object storage (new ports: read `urls` again). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Several isolates of the real gateway in one `workerd serve`: `isolates` services of the same
 * bundle, the first declaring the Durable Objects and the others binding them (tools/gateway.ts
 * `gatewayIsolates`), each on its own socket. For tests of what isolates share: the counters.
 */
export async function startGatewayIsolates(options: GatewayOptions & { isolates: number }): Promise<GatewayIsolates> {
  const dir = mkdtempSync(join(tmpdir(), "gateway-e2e-"));
  const module = await buildGateway(options.routes, dir);
  const services = gatewayIsolates("gateway", options.isolates, module, projectCompatibilityDate(), { log: "off", secrets: options.bindings ?? {} });
  const sockets = Object.fromEntries(services.map((s) => [s.name, s.name]));
  let output = "";
  let workerd: Awaited<ReturnType<typeof startWorkerd>>;
  const handle: GatewayIsolates = {
    urls: [],
    output: () => output,
    async kill() {
      workerd.child.process.kill("SIGKILL");
      await workerd.child.exited;
    },
    async restart() {
      await start(true);
    },
    async stop() {
      await workerd.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const start = async (keepStorage: boolean) => {
    workerd = await startWorkerd({ services, sockets }, dir, "isolates", { keepStorage });
    output = "";
    const keep = (chunk: Buffer) => { output += chunk.toString("utf8"); };
    workerd.child.process.stdout?.on("data", keep);
    workerd.child.process.stderr?.on("data", keep);
    handle.urls = services.map((s) => workerd.urls[s.name]!);
  };
  await start(false);
  return handle;
}
