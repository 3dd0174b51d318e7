/**
 * Worker bundles, built the way `wrangler deploy` builds them (`--dry-run --outdir`): what is
 * measured and tested is the code that would be deployed.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { buildConsole } from "./console.ts";
import { projectCompatibilityDate, REPO_ROOT } from "./workerd.ts";
import { runCommand } from "./processes.ts";

const WRANGLER = join(REPO_ROOT, "node_modules/.bin/wrangler");
// wrangler needs Node >= 22: the one running the bench or the tests (the pinned devDependency) goes first on PATH.
const ENV = {
  ...process.env,
  PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ""}`,
  WRANGLER_SEND_METRICS: "false",
  CI: "true",
  NO_COLOR: "1",
};

/** What a generated wrangler config holds: only what changes the bundle (bindings do not). */
interface BundleConfig {
  name: string;
  main: string;
  compatibility_date: string;
  alias?: Record<string, string>;
  minify?: boolean;
}

/** Empties `outDir`, bundles `config` with wrangler there and returns the entry module's path. */
async function wranglerBundle(outDir: string, config: BundleConfig): Promise<string> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const configFile = join(outDir, "wrangler.json");
  writeFileSync(configFile, JSON.stringify(config));
  const dist = join(outDir, "dist");
  await runCommand(WRANGLER, ["deploy", "--dry-run", "--config", configFile, "--outdir", dist], { cwd: REPO_ROOT, env: ENV });
  // The entry module wrangler wrote, named after the entry (index.js, route-match.js).
  const modules = readdirSync(dist).filter((f) => f.endsWith(".js"));
  if (modules.length !== 1) throw new Error(`expected one module in ${dist}, found: ${modules.join(", ") || "none"}`);
  return join(dist, modules[0]!);
}

/**
 * The gateway Worker with `routesFile` as its table. The table goes through what wrangler.toml's
 * [build] step runs (scripts/check.ts: validate, write the parsed table marked as validated; and
 * the console's module, tools/console.ts), but into `outDir/table/` rather than .gateway/, and
 * wrangler bundles src/index.ts with @edge-gateway/routes and @edge-gateway/console aliased there. The code is the same as `wrangler deploy`'s for
 * that table, and the project is left alone: gateways with different tables can be bundled at
 * once (tests run in parallel) and what `npm start` serves does not change. A table that fails
 * validation rejects with every problem listed. If wrangler.toml gains a setting that changes the
 * bundle (compatibility_flags, define, minify, rules), add it to the config here.
 * Returns the path of the bundled entry module (index.js; Durable Object classes are exported).
 */
export async function bundleGateway(routesFile: string, outDir: string): Promise<string> {
  const table = join(outDir, "table", "routes.json");
  const console = join(outDir, "table", "console.js");
  mkdirSync(dirname(table), { recursive: true });
  // The same two steps as wrangler.toml's [build]: the table, then the console's browser code.
  await Promise.all([
    runCommand(process.execPath, [join(REPO_ROOT, "scripts/check.ts"), routesFile, "--out", table], { cwd: REPO_ROOT, env: ENV }),
    buildConsole(console),
  ]);
  return wranglerBundle(join(outDir, "worker"), {
    name: "edge-gateway",
    main: join(REPO_ROOT, "src/index.ts"),
    compatibility_date: projectCompatibilityDate(),
    alias: { "@edge-gateway/routes": table, "@edge-gateway/console": console },
    minify: true, // as wrangler.toml
  });
}

/**
 * Any other Worker (a bench worker): bundled by wrangler with a generated config holding only
 * `main`, `name` and the compatibility date, so the project's build step and bindings stay out.
 */
export async function bundleWorker(entry: string, outDir: string, compatibilityDate: string): Promise<string> {
  return wranglerBundle(outDir, { name: "bench-worker", main: entry, compatibility_date: compatibilityDate });
}

/**
 * The gateway as another checkout's source tree bundles it (`entry`: that tree's src/index.ts),
 * with `tableFile` as its route table as it is (the entry validates a raw table at startup). For
 * benchmarks that compare today's code with an earlier commit's in the same run.
 */
export async function bundleGatewayFrom(entry: string, tableFile: string, outDir: string): Promise<string> {
  return wranglerBundle(outDir, {
    name: "edge-gateway",
    main: entry,
    compatibility_date: projectCompatibilityDate(),
    alias: { "@edge-gateway/routes": tableFile },
  });
}
