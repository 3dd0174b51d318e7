/**
 * Plain `workerd serve` for benchmarks and end-to-end tests: generates a text capnp config from a small description
 * (services, their modules and bindings, Durable Object namespaces, sockets), starts workerd on
 * ephemeral ports and reads back the port of each socket from workerd's control fd.
 *
 * Every socket listens on 127.0.0.1:0; workerd reports `{"event":"listen","socket":NAME,"port":N}`
 * on the control fd once it accepts connections (the same mechanism miniflare uses).
 */
import { once } from "node:events";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Readable } from "node:stream";
import { startChild, whileAlive, type Child } from "./processes.ts";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const WORKERD_BIN = join(REPO_ROOT, "node_modules/.bin/workerd");

export interface DurableObjectClass {
  /** The binding name the worker reads (env.QUOTA). */
  binding: string;
  /** The exported class (QuotaCounter). */
  className: string;
  /** SQLite-backed (wrangler's `new_sqlite_classes`). */
  sql: boolean;
  /**
   * The service whose class this binding names (the namespace is declared there): several Worker
   * services, each its own isolate, then share one set of objects. Default: this service's own.
   */
  serviceName?: string;
}

export interface WorkerService {
  name: string;
  /** ES modules; the first is the entry point. `path` is absolute. */
  modules: { name: string; path: string }[];
  compatibilityDate: string;
  compatibilityFlags?: string[];
  /** Plain-text bindings: vars and secrets alike (a Worker secret is a text binding). */
  text?: Record<string, string>;
  /** JSON bindings (wrangler `vars` with object values). */
  json?: Record<string, unknown>;
  durableObjects?: DurableObjectClass[];
  /** Service bindings: binding name -> the name of another service in the same config. */
  services?: Record<string, string>;
  /** May fetch loopback origins (127.0.0.1). Default true. */
  loopbackOutbound?: boolean;
  /** The service that backs its Cache API (`caches.default`); without one every cache call throws. */
  cacheService?: string;
}

export interface WorkerdSpec {
  services: WorkerService[];
  /** socket name -> service name; each gets an ephemeral port on 127.0.0.1. */
  sockets: Record<string, string>;
  /** Open the V8 inspector on an ephemeral port (profiling; slows the isolates a little). */
  inspector?: boolean;
  /**
   * Allow experimental compatibility flags (`--experimental`), such as the
   * `service_binding_extra_handlers` a test Worker needs to run another's `scheduled` handler.
   */
  experimental?: boolean;
}

/** Where Durable Objects keep their SQLite files: `<outDir>/<config name>-do-storage`, emptied at every start. */
const storageDirOf = (outDir: string, name: string): string => join(outDir, `${name}-do-storage`);

const str = (s: string): string => JSON.stringify(s); // capnp text literals accept JSON escapes

/**
 * Renders the capnp text config. Module paths are embedded relative to `configDir`; Durable
 * Objects store their SQLite databases under `storageDir` (an absolute path).
 */
export function renderConfig(spec: WorkerdSpec, configDir: string, storageDir: string): string {
  const services: string[] = [];
  for (const service of spec.services) {
    const modules = service.modules.map((m) => `(name = ${str(m.name)}, esModule = embed ${str(relative(configDir, m.path))})`);
    const bindings: string[] = [];
    for (const [name, value] of Object.entries(service.text ?? {})) bindings.push(`(name = ${str(name)}, text = ${str(value)})`);
    for (const [name, value] of Object.entries(service.json ?? {})) bindings.push(`(name = ${str(name)}, json = ${str(JSON.stringify(value))})`);
    for (const o of service.durableObjects ?? []) {
      const target = o.serviceName === undefined ? "" : `, serviceName = ${str(o.serviceName)}`;
      bindings.push(`(name = ${str(o.binding)}, durableObjectNamespace = (className = ${str(o.className)}${target}))`);
    }
    const objects = ownObjects(service);
    for (const [name, target] of Object.entries(service.services ?? {})) bindings.push(`(name = ${str(name)}, service = ${str(target)})`);
    const fields = [
      `modules = [${modules.join(", ")}]`,
      `compatibilityDate = ${str(service.compatibilityDate)}`,
      `compatibilityFlags = [${(service.compatibilityFlags ?? []).map(str).join(", ")}]`,
      `bindings = [${bindings.join(", ")}]`,
    ];
    if (service.loopbackOutbound !== false) fields.push(`globalOutbound = "loopback"`);
    if (service.cacheService) fields.push(`cacheApiOutbound = ${str(service.cacheService)}`);
    if (objects.length > 0) {
      fields.push(`durableObjectNamespaces = [${objects.map((o) =>
        `(className = ${str(o.className)}, uniqueKey = ${str(`${service.name}-${o.className}`)}, enableSql = ${o.sql})`).join(", ")}]`);
      // On local disk: workerd's in-memory storage has no SQL API (ctx.storage.sql), which the
      // gateway's objects use. The directory is emptied at every start, so runs begin from empty objects.
      fields.push(`durableObjectStorage = (localDisk = "do-disk")`);
    }
    services.push(`(name = ${str(service.name)}, worker = (\n      ${fields.join(",\n      ")}\n    ))`);
  }
  // Workers reach origins on loopback only through this service: the default "internet" service
  // refuses private addresses ("private" is a superset of "local", i.e. 127.0.0.0/8).
  services.push(`(name = "loopback", network = (allow = ["public", "private"]))`);
  if (spec.services.some((s) => ownObjects(s).length > 0)) {
    services.push(`(name = "do-disk", disk = (path = ${str(storageDir)}, writable = true))`);
  }
  const sockets = Object.entries(spec.sockets).map(([name, service]) =>
    `(name = ${str(name)}, address = "127.0.0.1:0", http = (), service = ${str(service)})`);
  return [
    `using Workerd = import "/workerd/workerd.capnp";`,
    `const config :Workerd.Config = (`,
    `  services = [\n    ${services.join(",\n    ")}\n  ],`,
    `  sockets = [\n    ${sockets.join(",\n    ")}\n  ],`,
    `);`,
    ``,
  ].join("\n");
}

/** The Durable Object classes a service declares itself (not those it binds in another service). */
const ownObjects = (service: WorkerService): DurableObjectClass[] => (service.durableObjects ?? []).filter((o) => o.serviceName === undefined);

export interface Workerd {
  /** socket name -> http://127.0.0.1:PORT */
  urls: Record<string, string>;
  /** ws://127.0.0.1:PORT when `inspector` was asked for; append "/<service name>". */
  inspectorUrl: string | undefined;
  child: Child;
  configPath: string;
  stop(): Promise<void>;
}

export interface StartOptions {
  /**
   * Keep the Durable Objects' storage of an earlier start of the same `outDir` and `name` (a
   * restart after a crash) instead of emptying it. Default false.
   */
  keepStorage?: boolean;
}

/** Writes the config to `outDir/<name>.capnp`, starts workerd, waits until every socket listens. */
export async function startWorkerd(spec: WorkerdSpec, outDir: string, name = "workerd", options: StartOptions = {}): Promise<Workerd> {
  mkdirSync(outDir, { recursive: true });
  const configPath = join(outDir, `${name}.capnp`);
  const storageDir = resolve(storageDirOf(outDir, name));
  if (!options.keepStorage) rmSync(storageDir, { recursive: true, force: true });
  mkdirSync(storageDir, { recursive: true });
  writeFileSync(configPath, renderConfig(spec, outDir, storageDir));
  const args = ["serve", configPath, "--control-fd=3", ...(spec.inspector ? ["--inspector-addr=127.0.0.1:0"] : []), ...(spec.experimental ? ["--experimental"] : [])];
  const child = startChild(WORKERD_BIN, args, {
    stdio: ["ignore", "pipe", "pipe", "pipe"],
  });
  const control = child.process.stdio[3] as Readable;
  const wanted = new Set(Object.keys(spec.sockets));
  const urls: Record<string, string> = {};
  let inspectorUrl: string | undefined;
  await whileAlive(child, `workerd (${configPath})`, (async () => {
    let buffered = "";
    while (Object.keys(urls).length < wanted.size || (spec.inspector && !inspectorUrl)) {
      const [chunk] = (await once(control, "data")) as [Buffer];
      buffered += chunk.toString("utf8");
      let newline: number;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        const event = JSON.parse(line) as { event: string; socket?: string; port?: number };
        if (event.event === "listen" && event.socket && wanted.has(event.socket)) urls[event.socket] = `http://127.0.0.1:${event.port}`;
        if (event.event === "listen-inspector") inspectorUrl = `ws://127.0.0.1:${event.port}`;
      }
    }
  })(), 30_000);
  control.resume();
  return { urls, inspectorUrl, child, configPath, stop: () => child.stop() };
}

/** `compatibility_date` from the project's wrangler.toml (the Worker is tested against it). */
export function projectCompatibilityDate(): string {
  const toml = readFileSync(join(REPO_ROOT, "wrangler.toml"), "utf8");
  const match = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml);
  if (!match) throw new Error("wrangler.toml has no compatibility_date");
  return match[1]!;
}

/** `workerd --version`, for the results header. */
export async function workerdVersion(): Promise<string> {
  const child = startChild(WORKERD_BIN, ["--version"], { keepStdout: false });
  await child.exited;
  return child.tail().trim();
}
