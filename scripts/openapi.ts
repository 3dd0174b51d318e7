/**
 * `npm run openapi -- [FILE] [--server URL] [--out PATH]`: prints the route table as an OpenAPI 3.1
 * document (src/openapi/export.ts, the same generator as `GET /_gateway/openapi.json`). The table is
 * validated first, as `npm run check` does; an invalid one lists its problems and exits 1. The file
 * defaults to $GATEWAY_ROUTES, then routes.json.
 */
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { exportOpenApi } from "../src/openapi/export.ts";
import { checkFile } from "./check.ts";

function main(argv: string[]): number {
  let out: string | undefined, serverUrl: string | undefined, title: string | undefined;
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--out") out = argv[++i];
    else if (arg === "--server") serverUrl = argv[++i];
    else if (arg === "--title") title = argv[++i];
    else if (arg.startsWith("--")) { console.error(`unknown option ${arg} (options: --server URL, --title TEXT, --out PATH)`); return 2; }
    else files.push(arg);
  }
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

if (import.meta.main) process.exitCode = main(process.argv.slice(2));
