/**
 * `npm run import -- FILE.(json|yaml) [--origin NAME=URL ...] > routes.json`: turns an OpenAPI 2.0,
 * 3.0 or 3.1 document (Amazon API Gateway exports included) into a route table
 * (src/openapi/import.ts). The table goes to stdout; every note (what has no equivalent, what to
 * fill in) goes to stderr, one line per item with its JSON path in the document. The table is
 * checked as `npm run check` does before it is printed: the importer never writes one that fails.
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { parseRouteTable } from "../src/config/index.ts";
import { ImportError, importOpenApi, type ImportResult } from "../src/openapi/import.ts";
import { POLICIES } from "../src/policies/index.ts";
import { parseCommandLine, runCommand, UsageError } from "../tools/cli.ts";

const USAGE = "usage: npm run import -- FILE.(json|yaml) [--origin NAME=URL ...] > routes.json";

/** Reads a JSON or YAML document (YAML 1.2 is a superset of JSON, but JSON.parse is exact and faster). */
export function readDocument(file: string): unknown {
  const text = readFileSync(file, "utf8");
  if (/\.json$/i.test(file)) return JSON.parse(text);
  return parseYaml(text, { maxAliasCount: 1000 });
}

export function importFile(file: string, origins: Record<string, string> = {}): ImportResult {
  return importOpenApi(readDocument(file), { origins, policies: POLICIES });
}

function main(argv: string[]): number {
  const { values, positionals: files } = parseCommandLine(USAGE, {
    args: argv,
    strict: true,
    allowPositionals: true,
    options: { origin: { type: "string", multiple: true } },
  });
  const origins: Record<string, string> = {};
  for (const pair of values.origin ?? []) {
    const m = /^([^=]+)=(.+)$/.exec(pair);
    if (!m) throw new UsageError(`--origin needs NAME=URL, not ${JSON.stringify(pair)}`, USAGE);
    origins[m[1]!] = m[2]!;
  }
  if (files.length !== 1) throw new UsageError(files.length === 0 ? "name the OpenAPI document to import" : `one document at a time, not ${files.length}`, USAGE);
  let result: ImportResult;
  try {
    result = importFile(files[0]!, origins);
  } catch (err) {
    if (err instanceof ImportError || err instanceof SyntaxError || (err as NodeJS.ErrnoException).code === "ENOENT" || (err as Error).name === "YAMLParseError") {
      console.error(`${files[0]}: ${(err as Error).message}`);
      return 1;
    }
    throw err;
  }
  if (result.unusedOrigins.length) {
    console.error(`--origin names no origin of the table: ${result.unusedOrigins.join(", ")} (origins: ${Object.keys(result.table.origins as object).join(", ")})`);
    return 2;
  }
  const checked = parseRouteTable(result.table);
  if (!checked.ok) {
    // A bug of the importer (or a bad --origin URL): say so rather than print a table that fails.
    console.error(`the imported table does not pass the check (${checked.problems.length} problems):`);
    for (const problem of checked.problems) console.error(`  ${problem}`);
    return 1;
  }
  for (const note of result.notes) console.error(`${note.path}: ${note.message}`);
  const routes = result.operations.filter((o) => o.route).length, skipped = result.operations.length - routes;
  console.error(`${result.operations.length} operations: ${routes} imported as ${(result.table.routes as unknown[]).length} routes, ${skipped} not imported; ${result.notes.length} notes.`);
  process.stdout.write(JSON.stringify({ $schema: "./routes.schema.json", ...result.table }, null, 2) + "\n");
  return 0;
}

if (import.meta.main) runCommand(main);
