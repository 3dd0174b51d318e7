/**
 * The gateway Worker as a workerd service: bundled from a route table file (bundle.ts) and
 * described with the bindings wrangler.toml declares (Durable Objects in SQLite on local disk, emptied per run) plus the text
 * bindings a scenario passes (LOG_REQUESTS, Worker secrets named in the table).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { bundleGateway } from "./bundle.ts";
import type { DurableObjectClass, WorkerService } from "./workerd.ts";

/** wrangler.toml's Durable Object bindings (all SQLite-backed, migrations v1 to v3). */
export const GATEWAY_DURABLE_OBJECTS: DurableObjectClass[] = [
  { binding: "QUOTA", className: "QuotaCounter", sql: true },
  { binding: "API_KEYS", className: "KeyStore", sql: true },
  { binding: "ROOMS", className: "RoomObject", sql: true },
  { binding: "CACHE_PURGES", className: "CachePurges", sql: true },
  { binding: "UPSTREAM_HEALTH", className: "TargetHealth", sql: true },
  { binding: "METRICS", className: "MetricsShard", sql: true },
  { binding: "ROOMS_INDEX", className: "RoomsIndex", sql: true },
];

/** Writes `table` to `outDir/routes.json` and bundles the gateway with it; returns the module path. */
export async function buildGateway(table: unknown, outDir: string): Promise<string> {
  const routesFile = join(outDir, "routes.json");
  writeFileSync(routesFile, JSON.stringify(table, null, 2));
  return bundleGateway(routesFile, join(outDir, "gateway"));
}

export interface GatewayServiceOptions {
  /** LOG_REQUESTS: "off" for throughput runs. */
  log: "on" | "off";
  /** Worker secrets and other vars, as text bindings ({ "env": "NAME" } in routes.json reads these). */
  secrets?: Record<string, string>;
  /** Service bindings (`service` origins): binding name -> another service of the same workerd config. */
  services?: Record<string, string>;
  /** The name of a cacheService() in the same workerd, backing `caches.default` (the edge cache). */
  cache?: string;
  /**
   * Bind the Durable Objects another gateway service of the same config declares, instead of
   * declaring them: several gateway isolates then share one set of counters, keys and rooms, as
   * isolates of one Worker do on Cloudflare.
   */
  objectsOf?: string;
}

/** A Cache API backend (tools/cache-service.js) as a workerd service, for a gateway's `cache` option. */
export function cacheService(name: string, compatibilityDate: string): WorkerService {
  return {
    name,
    modules: [{ name: "cache-service.js", path: fileURLToPath(new URL("./cache-service.js", import.meta.url)) }],
    compatibilityDate,
    loopbackOutbound: false,
  };
}

export function gatewayService(name: string, module: string, compatibilityDate: string, options: GatewayServiceOptions): WorkerService {
  const objectsOf = options.objectsOf;
  return {
    name,
    modules: [{ name: "index.js", path: module }],
    compatibilityDate,
    text: { ...options.secrets, LOG_REQUESTS: options.log },
    durableObjects: objectsOf === undefined ? GATEWAY_DURABLE_OBJECTS : GATEWAY_DURABLE_OBJECTS.map((o) => ({ ...o, serviceName: objectsOf })),
    ...(options.cache ? { cacheService: options.cache } : {}),
    ...(options.services ? { services: options.services } : {}),
  };
}

/**
 * `count` gateway services of one module (each its own isolate), named `<prefix>-0`, `<prefix>-1`,
 * ...: the first declares the Durable Objects, the others bind them.
 */
export function gatewayIsolates(prefix: string, count: number, module: string, compatibilityDate: string, options: Omit<GatewayServiceOptions, "objectsOf">): WorkerService[] {
  return Array.from({ length: count }, (_, i) => gatewayService(`${prefix}-${i}`, module, compatibilityDate, { ...options, ...(i > 0 ? { objectsOf: `${prefix}-0` } : {}) }));
}
