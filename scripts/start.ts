/**
 * `npm start`                      the gateway with routes.json, in front of the bundled demo origins
 * `npm start -- --routes FILE --port N [wrangler dev flags...]`
 *                                  the gateway alone with another table (try a config before deploying);
 *                                  e.g. `--var ADMIN_TOKEN:secret` for secrets in local runs.
 * `npm start -- --env staging`     a stage of wrangler.toml (`[env.staging]`) with its table,
 *                                  routes.staging.json (scripts/check.ts routesFileFor), before the demo origins.
 * Runs `wrangler dev` (local mode; no Cloudflare account needed) on 127.0.0.1.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { relative, resolve } from "node:path";
import { checkFile, routesFileFor } from "./check.ts";
import { startDemoOrigins } from "./demo-origin.ts";

interface Args { routes: string | undefined; port: number; env: string | undefined; passThrough: string[] }

export function parseArgs(argv: string[]): Args {
  const args: Args = { routes: undefined, port: 8787, env: undefined, passThrough: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === "--routes") args.routes = value();
    else if (arg.startsWith("--routes=")) args.routes = arg.slice(9);
    else if (arg === "--port") args.port = Number(value());
    else if (arg.startsWith("--port=")) args.port = Number(arg.slice(7));
    else if (arg === "--env" || arg === "-e") args.env = value();
    else if (arg.startsWith("--env=")) args.env = arg.slice(6);
    else args.passThrough.push(arg);
  }
  if (!Number.isInteger(args.port) || args.port < 1 || args.port > 65535) throw new Error("--port must be a port number");
  return args;
}

async function main(): Promise<void> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
  const routesFile = args.routes !== undefined ? resolve(args.routes) : routesFileFor(args.env);
  const tableName = args.routes ?? relative(process.cwd(), routesFile);
  if (!existsSync(routesFile)) {
    console.error(`No route table at ${routesFile}`);
    process.exit(1);
  }
  const checked = checkFile(routesFile);
  if (!checked.ok) {
    console.error(`${tableName} is invalid:`);
    for (const problem of checked.problems) console.error(`  ${problem}`);
    process.exit(1);
  }

  const children: ChildProcess[] = [];
  const demo = args.routes === undefined ? await startDemoOrigins().catch((err: NodeJS.ErrnoException) => {
    console.error(`Could not start the demo origins on ports 9001-9003 (${err.code ?? err.message}); is another npm start running?`);
    process.exit(1);
  }) : [];

  const base = `http://127.0.0.1:${args.port}`;
  const stage = args.env === undefined ? [] : ["--env", args.env];
  const wrangler = spawn("wrangler", ["dev", "--ip", "127.0.0.1", "--port", String(args.port), "--show-interactive-dev-session=false", ...stage, ...args.passThrough], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, GATEWAY_ROUTES: routesFile, WRANGLER_SEND_METRICS: "false" },
  });
  children.push(wrangler);
  let announced = false;
  wrangler.stdout!.on("data", (chunk: Buffer) => {
    process.stdout.write(chunk);
    if (!announced && /Ready on/.test(chunk.toString())) {
      announced = true;
      console.log(`\nEdge Gateway is running on ${base} with ${tableName}${args.env === undefined ? "" : ` (stage ${args.env})`}.`);
      if (args.routes === undefined) {
        console.log("Try:");
        console.log(`  curl -i ${base}/v1/users/42`);
        console.log(`  curl -i ${base}/health`);
        console.log(`  curl -i -H 'Host: api.example.com' -X POST ${base}/v1/orders/7 -d '{"qty":1}'`);
      }
      console.log("Stop with Ctrl-C.\n");
    }
  });

  const stop = (code: number) => {
    for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
    for (const server of demo) server.close();
    process.exitCode = code;
  };
  process.on("SIGINT", () => stop(0));
  process.on("SIGTERM", () => stop(0));
  wrangler.on("exit", (code) => stop(code ?? 0));
}

if (import.meta.main) await main();
