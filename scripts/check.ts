/**
 * `npm run check -- [FILE] [--env STAGE]`: validates a route table and lists every problem by JSON
 * path. With `--out PATH` (wrangler's build step) it also writes the validated, parsed table where
 * the Worker bundle imports it from. The file is FILE, else $GATEWAY_ROUTES, else the stage's table
 * (`routesFileFor`: routes.STAGE.json when it exists), else routes.json.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { parseRouteTable, validatedTableFile, type RouteTable } from "../src/config/index.ts";

/** Set by `npm start` for its wrangler dev: an invalid table on reload keeps the one served. */
export const KEEP_SERVED_TABLE = "GATEWAY_KEEP_SERVED_TABLE";

/**
 * A stage's route table (wrangler.toml's `[env.STAGE]` build step passes `--env STAGE`):
 * routes.STAGE.json when there is one, otherwise routes.json. No stage: routes.json.
 */
export function routesFileFor(stage: string | undefined, dir = process.cwd()): string {
  if (stage !== undefined && !/^[a-z0-9][a-z0-9_-]*$/i.test(stage)) throw new Error(`--env: "${stage}" is not a stage name`);
  const staged = stage === undefined ? undefined : resolve(dir, `routes.${stage}.json`);
  return staged !== undefined && existsSync(staged) ? staged : resolve(dir, "routes.json");
}

export function checkFile(file: string): { ok: true; table: RouteTable } | { ok: false; problems: string[] } {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    return { ok: false, problems: [`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`] };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { ok: false, problems: [`not valid JSON: ${(err as Error).message}`] };
  }
  const result = parseRouteTable(json);
  return result;
}

function main(argv: string[]): number {
  let out: string | undefined, stage: string | undefined;
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--out") out = argv[++i];
    else if (argv[i] === "--env") stage = argv[++i];
    else files.push(argv[i]!);
  }
  let file: string;
  try {
    file = resolve(files[0] ?? (process.env.GATEWAY_ROUTES || routesFileFor(stage)));
  } catch (err) {
    console.error((err as Error).message);
    return 2;
  }
  const name = relative(process.cwd(), file) || file;
  const result = checkFile(file);
  if (!result.ok) {
    console.error(`${name} is invalid (${result.problems.length} problem${result.problems.length === 1 ? "" : "s"}):`);
    for (const problem of result.problems) console.error(`  ${problem}`);
    // Under `npm start` a failed build step would make wrangler dev exit, so a typo saved while the
    // gateway runs would stop it: there, the table already served stays, and the next save is
    // checked again. npm start checks the table itself before starting, so what is served was
    // valid. `wrangler deploy` and everything else still fail.
    if (out && process.env[KEEP_SERVED_TABLE] === "1" && existsSync(resolve(out))) {
      console.error(`The gateway keeps serving the table it had; fix ${name} and save it again.`);
      return 0;
    }
    return 1;
  }
  if (out) {
    mkdirSync(dirname(resolve(out)), { recursive: true });
    // The parsed table, defaults applied, marked so the Worker need not validate it again.
    writeFileSync(resolve(out), JSON.stringify(validatedTableFile(result.table)));
  }
  console.log(`${name} is valid.`);
  return 0;
}

if (import.meta.main) process.exitCode = main(process.argv.slice(2));
