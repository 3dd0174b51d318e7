/**
 * `npm run openapi -- [FILE] [--server URL] [--title TEXT] [--out PATH]`: prints the route table as an OpenAPI 3.1
 * document (src/openapi/export.ts, the same generator as `GET /_gateway/openapi.json`). The table is
 * validated first, as `npm run check` does; an invalid one lists its problems and exits 1. The file
 * defaults to $GATEWAY_ROUTES, then routes.json.
 */
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { exportOpenApi } from "../src/openapi/export.ts";
import { parseCommandLine, runCommand, UsageError } from "../tools/cli.ts";
import { checkFile } from "./check.ts";

const USAGE = "usage: npm run openapi -- [FILE] [--server URL] [--title TEXT] [--out PATH]";

function main(argv: string[]): number {
  const { values, positionals: files } = parseCommandLine(USAGE, {
    args: argv,
    strict: true,
    allowPositionals: true,
    options: { out: { type: "string" }, server: { type: "string" }, title: { type: "string" } },
  });
  if (files.length > 1) throw new UsageError(`one route table at most, not ${files.length}`, USAGE);
  const { out, server: serverUrl, title } = values;
  const file = resolve(files[0] ?? process.env.GATEWAY_ROUTES ?? "routes.json");
  const result = checkFile(file);
  if (!result.ok) {
    console.error(`${file} is invalid (${result.problems.length} problem${result.problems.length === 1 ? "" : "s"}):`);
    for (const problem of result.problems) console.error(`  ${problem}`);
    return 1;
  }
  const text = JSON.stringify(exportOpenApi(result.table, { ...(serverUrl ? { serverUrl } : {}), ...(title ? { title } : {}) }), null, 2) + "\n";
  if (out) writeFileSync(resolve(out), text);
  else process.stdout.write(text);
  return 0;
}

if (import.meta.main) runCommand(main);
