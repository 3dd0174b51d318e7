/**
 * `npm start`                      the gateway with routes.json, in front of the bundled demo origins
 *                                  (started where routes.json's `users` and `orders` origins point)
 * `npm start -- --routes FILE --port N [wrangler dev flags...]`
 *                                  the gateway alone with another table (try a config before deploying)
 * `npm start -- --fresh`           the same, after deleting the local state (.wrangler/state: API keys,
 *                                  counters, rooms)
 * `npm start -- --env staging`     a stage of wrangler.toml (`[env.staging]`) with its table,
 *                                  routes.staging.json (scripts/check.ts routesFileFor)
 *
 * Runs `wrangler dev` (local mode; no Cloudflare account needed) on 127.0.0.1. The table is checked
 * first, and the gateway reloads when it changes (routes.json through wrangler.toml's watch_dir;
 * another FILE through a stamp file this script touches, see `watchRoutesFile`). Local secrets
 * come from `.dev.vars` (docs/local-development.md); with the demo table a missing `.dev.vars` is
 * created from `.dev.vars.example`.
 *
 * What it prints is the gateway's: one JSON line per request (wrangler's own request lines are
 * dropped), and, right after start and each reload, the secrets the table names that are not set
 * (the Worker reports them on an isolate's first request, so this script makes that request).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, rmSync, unwatchFile, watchFile, writeFileSync } from "node:fs";
import { relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { exitOnError, parseCommandLine, UsageError } from "../tools/cli.ts";
import { checkFile, KEEP_SERVED_TABLE, routesFileFor } from "./check.ts";
import { demoPorts, startDemoOrigins } from "./demo-origin.ts";

interface Args { routes: string | undefined; port: number; fresh: boolean; env: string | undefined; passThrough: string[] }

/** Where wrangler dev keeps local Durable Object storage (its default `--persist-to`). */
export const LOCAL_STATE = ".wrangler/state";
/** Touched when a --routes FILE changes; wrangler.toml's [build] watch_dir lists it. */
export const RELOAD_STAMP = ".gateway/routes-changed";
/** The request this script makes so the Worker runs its first-request checks at start. */
export const STARTUP_CHECK_ID = "edge-gateway-startup-check";

export const START_USAGE = `Usage: npm start [-- [--routes FILE] [--port N] [--fresh] [--env NAME] [wrangler dev flags...]]
  --routes FILE     serve this route table alone (no demo origins); reloads when FILE changes
  --port N          the port on 127.0.0.1 (default 8787)
  --fresh           delete the local state first (${LOCAL_STATE}: API keys, counters, rooms)
  --env NAME, -e    a stage of wrangler.toml ([env.NAME]), with routes.NAME.json when it exists
Any other flag goes to wrangler dev, which refuses the ones it does not know (docs/local-development.md).`;

const START_OPTIONS = {
  routes: { type: "string" },
  port: { type: "string", default: "8787" },
  fresh: { type: "boolean", default: false },
  env: { type: "string", short: "e" },
} as const;

/**
 * Ours are parsed strictly (a missing value, or a value given to --fresh, is refused naming the
 * option); every other flag is wrangler dev's, passed on in order, and wrangler's own strict parser
 * refuses an unknown one by name ("Unknown arguments: ..."). A lenient first pass of parseArgs only
 * sorts the two apart: it knows our options' arity, so `--port 9000` stays together.
 */
export function parseStartArgs(argv: string[]): Args {
  const ours: string[] = [];
  const passThrough: string[] = [];
  const { tokens } = parseArgs({ args: argv, options: START_OPTIONS, strict: false, allowPositionals: true, tokens: true });
  for (const token of tokens) {
    if (token.kind === "option" && Object.hasOwn(START_OPTIONS, token.name)) ours.push(...argv.slice(token.index, token.index + (token.inlineValue === false ? 2 : 1)));
    else passThrough.push(argv[token.index]!);
  }
  const { values } = parseCommandLine(START_USAGE, { args: ours, options: START_OPTIONS, strict: true });
  const port = Number(values.port);
  if (!/^\d+$/.test(values.port) || port < 1 || port > 65535) throw new UsageError(`--port must be a port number (1-65535), not ${JSON.stringify(values.port)}`, START_USAGE);
  return { routes: values.routes, port, fresh: values.fresh, env: values.env, passThrough };
}

// wrangler's own access line ("[wrangler:info] GET /x 200 OK (12ms)"): the gateway logs every
// request itself, with its route, request id and error code, so each request would show twice.
const WRANGLER_REQUEST_LINE = /^\[wrangler:info\] [A-Z]+ \S+ \d{3} .*\(\d+ms\)$/;
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

/** Lines of wrangler's output the person running the gateway should see. */
export function shownLine(line: string): boolean {
  const plain = line.replace(ANSI, "");
  return !WRANGLER_REQUEST_LINE.test(plain) && !plain.includes(`"requestId":"${STARTUP_CHECK_ID}"`);
}

/** Calls `onLine` for each complete line of `stream`'s output. */
function eachLine(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let pending = "";
  stream.on("data", (chunk: Buffer) => {
    pending += chunk.toString("utf8");
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const line of lines) onLine(line);
  });
  stream.on("end", () => { if (pending) onLine(pending); });
}

/**
 * wrangler dev watches the paths in wrangler.toml's [build] watch_dir and nothing else, and has no
 * flag to add one; a --routes FILE anywhere on disk is therefore watched here, and each change
 * touches the stamp file that watch_dir does list, so wrangler re-runs the build step (which
 * validates FILE, from GATEWAY_ROUTES) and reloads. Polling the file's stat also sees editors that
 * save by renaming a new file over the old one.
 */
function watchRoutesFile(file: string): () => void {
  watchFile(file, { interval: 250 }, (now, before) => {
    if (now.mtimeMs !== before.mtimeMs || now.size !== before.size) writeFileSync(RELOAD_STAMP, `${new Date().toISOString()}\n`);
  });
  return () => unwatchFile(file);
}

/** One request, so the Worker's first-request checks (missing secrets) print at start, not later. */
async function startupCheck(base: string): Promise<void> {
  // An encoded slash is refused (400 bad_path) before any route or origin is involved.
  await fetch(`${base}/%2F`, { headers: { "x-request-id": STARTUP_CHECK_ID } }).then((r) => r.body?.cancel(), () => {});
}

async function main(): Promise<void> {
  let args: Args;
  try {
    args = parseStartArgs(process.argv.slice(2));
  } catch (err) {
    exitOnError(err);
  }
  const demo = args.routes === undefined;
  const routesFile = args.routes !== undefined ? resolve(args.routes) : routesFileFor(args.env);
  const routesName = relative(process.cwd(), routesFile) || routesFile;
  if (!existsSync(routesFile)) {
    console.error(`No route table at ${routesFile}`);
    process.exit(1);
  }
  const checked = checkFile(routesFile);
  if (!checked.ok) {
    console.error(`${routesName} is invalid:`);
    for (const problem of checked.problems) console.error(`  ${problem}`);
    process.exit(1);
  }
  if (args.fresh) {
    rmSync(LOCAL_STATE, { recursive: true, force: true });
    console.log(`Removed the local state in ${LOCAL_STATE}: API keys, counters and rooms start empty.`);
  }
  if (demo && !existsSync(".dev.vars") && existsSync(".dev.vars.example")) {
    copyFileSync(".dev.vars.example", ".dev.vars");
    console.log("Created .dev.vars from .dev.vars.example: the demo's local secrets (never deployed).");
  }

  const children: ChildProcess[] = [];
  const ports = demo ? demoPorts(checked.table.origins) : {};
  const origins = await startDemoOrigins(ports).catch((err: NodeJS.ErrnoException) => {
    const where = Object.entries(ports).map(([name, port]) => `${name} ${port}`).join(", ");
    console.error(`Could not start the demo origins (${where}): ${err.code ?? err.message}. Is another npm start running? Their ports are the users and orders origins' in ${routesName}.`);
    process.exit(1);
  });
  mkdirSync(".gateway", { recursive: true });
  writeFileSync(RELOAD_STAMP, `${new Date().toISOString()}\n`);
  const unwatch = demo ? () => {} : watchRoutesFile(routesFile);

  const base = `http://127.0.0.1:${args.port}`;
  const wrangler = spawn("wrangler", ["dev", "--ip", "127.0.0.1", "--port", String(args.port), "--show-interactive-dev-session=false", ...(args.env === undefined ? [] : ["--env", args.env]), ...args.passThrough], {
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      GATEWAY_ROUTES: routesFile,
      [KEEP_SERVED_TABLE]: "1",
      WRANGLER_SEND_METRICS: "false",
      // Local runs need no real Request.cf (the gateway reads none); fetching it from
      // workers.cloudflare.com printed a getaddrinfo ENOTFOUND stack twice at every offline start.
      CLOUDFLARE_CF_FETCH_ENABLED: process.env.CLOUDFLARE_CF_FETCH_ENABLED ?? "false",
    },
  });
  children.push(wrangler);
  let announced = false;
  let rejected = false; // the last save of the table was invalid: wrangler reloads the same table
  const onLine = (write: (line: string) => void) => (line: string) => {
    if (shownLine(line)) write(line);
    const plain = line.replace(ANSI, "");
    if (!announced && /Ready on/.test(plain)) {
      announced = true;
      console.log(`\nEdge Gateway is running on ${base} with ${routesName}${args.env === undefined ? "" : ` (stage ${args.env})`}.`);
      if (demo) {
        console.log("Try:");
        console.log(`  curl -i ${base}/v1/users/42`);
        console.log(`  curl -i ${base}/health`);
        console.log(`  curl -i -H "Authorization: Bearer $(npm run --silent token -- --sub alice --scope users:read)" ${base}/v1/me`);
        console.log(`  curl -i -H 'Host: api.example.com' -X POST ${base}/v1/orders/7 -d '{"qty":1}'`);
      }
      console.log(`It reloads when ${routesName} changes. Stop with Ctrl-C.\n`);
      void startupCheck(base);
    } else if (/ is invalid \(\d+ problems?\):/.test(plain)) {
      rejected = true;
    } else if (/Local server updated and ready/.test(plain)) {
      console.log(rejected ? `Edge Gateway still serves the last valid ${routesName}.` : `Edge Gateway reloaded ${routesName}.`);
      rejected = false;
      void startupCheck(base);
    }
  };
  eachLine(wrangler.stdout!, onLine((line) => process.stdout.write(`${line}\n`)));
  eachLine(wrangler.stderr!, onLine((line) => process.stderr.write(`${line}\n`)));

  const stop = (code: number) => {
    unwatch();
    for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
    for (const server of origins) server.close();
    process.exitCode = code;
  };
  process.on("SIGINT", () => stop(0));
  process.on("SIGTERM", () => stop(0));
  wrangler.on("exit", (code) => stop(code ?? 0));
}

if (import.meta.main) await main();
