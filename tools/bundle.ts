/**
 * Worker bundles, built the way `wrangler deploy` builds them (`--dry-run --outdir`): what is
 * measured is the code that would be deployed.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { REPO_ROOT } from "./workerd.ts";
import { runCommand } from "./processes.ts";

const WRANGLER = join(REPO_ROOT, "node_modules/.bin/wrangler");
// wrangler needs Node >= 22: the one running the bench (the pinned devDependency) goes first on PATH.
const ENV = {
  ...process.env,
  PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ""}`,
  WRANGLER_SEND_METRICS: "false",
  CI: "true",
  NO_COLOR: "1",
};

/** The entry module wrangler wrote (named after the entry: index.js, route-match.js). */
function bundledModule(dir: string): string {
  const modules = readdirSync(dir).filter((f) => f.endsWith(".js"));
  if (modules.length !== 1) throw new Error(`expected one module in ${dir}, found: ${modules.join(", ") || "none"}`);
  return join(dir, modules[0]!);
}

/**
 * The gateway Worker with `routesFile` as its table. wrangler.toml's [build] step validates the
 * table and writes .gateway/routes.json (imported as @edge-gateway/routes); the file that was
 * there before is restored afterwards so the bench does not change what `npm start` serves.
 * Returns the path of the bundled entry module (index.js; Durable Object classes are exported).
 */
export async function bundleGateway(routesFile: string, outDir: string): Promise<string> {
  const generated = join(REPO_ROOT, ".gateway/routes.json");
  const previous = existsSync(generated) ? readFileSync(generated) : undefined;
  rmSync(outDir, { recursive: true, force: true });
  try {
    await runCommand(WRANGLER, ["deploy", "--dry-run", "--outdir", outDir], {
      cwd: REPO_ROOT,
      env: { ...ENV, GATEWAY_ROUTES: routesFile },
    });
  } finally {
    if (previous) writeFileSync(generated, previous);
    else rmSync(generated, { force: true });
  }
  return bundledModule(outDir);
}

/**
 * Any other Worker (a bench worker): bundled by wrangler with a generated config holding only
 * `main`, `name` and the compatibility date, so the project's build step and bindings stay out.
 */
export async function bundleWorker(entry: string, outDir: string, compatibilityDate: string): Promise<string> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const config = join(outDir, "wrangler.json");
  writeFileSync(config, JSON.stringify({ name: "bench-worker", main: entry, compatibility_date: compatibilityDate }));
  await runCommand(WRANGLER, ["deploy", "--dry-run", "--config", config, "--outdir", join(outDir, "dist")], { cwd: REPO_ROOT, env: ENV });
  return bundledModule(join(outDir, "dist"));
}
