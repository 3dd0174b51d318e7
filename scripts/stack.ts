/**
 * `npm run --silent stack -- dist/index.js.map < log.txt`
 *
 * Rewrites the positions in a logged stack (`at gateway (index.js:62:112465)`) to source positions
 * (`at gateway (src/app.ts:70:18)`) with the bundle's source map. The Worker is minified
 * (wrangler.toml), so the `internal_error` lines the gateway logs carry function names (kept by
 * wrangler) but positions in the minified file; Cloudflare applies the uploaded map to uncaught
 * exceptions, not to a stack the Worker logs as text. The map must come from the same commit:
 * `npx wrangler deploy --dry-run --outdir dist` writes it (docs/operations.md).
 *
 * Input: any text; JSON log lines are unpacked so their "error" stack is rewritten too.
 */
import { readFileSync } from "node:fs";
import { SourceMap } from "node:module";
import { relative, resolve } from "node:path";

const FRAME = /\(?([\w./-]+\.js):(\d+):(\d+)\)?/g;

export function remapStack(text: string, map: SourceMap, mapDir = process.cwd()): string {
  return text.replace(FRAME, (whole, _file: string, line: string, column: string) => {
    // SourceMap.findEntry takes 0-based line and column; stacks print 1-based ones.
    const entry = map.findEntry(Number(line) - 1, Number(column) - 1);
    if (!entry || !("originalSource" in entry) || !entry.originalSource) return whole;
    const source = entry.originalSource.startsWith("file://") ? new URL(entry.originalSource).pathname : resolve(mapDir, entry.originalSource);
    const shown = `${relative(process.cwd(), source)}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
    return whole.startsWith("(") ? `(${shown})` : shown;
  });
}

/** A log line's stack, unpacked from its JSON when it is one (`requestId` first, to find the request). */
function readable(line: string): string {
  try {
    const parsed = JSON.parse(line) as { error?: unknown; requestId?: unknown };
    if (typeof parsed.error === "string") return `requestId ${String(parsed.requestId)}: ${parsed.error}`;
  } catch { /* plain text */ }
  return line;
}

if (import.meta.main) {
  const mapFile = process.argv[2];
  if (!mapFile) {
    console.error("usage: npm run --silent stack -- PATH/index.js.map < log.txt");
    process.exit(2);
  }
  const map = new SourceMap(JSON.parse(readFileSync(mapFile, "utf8")));
  const input = readFileSync(0, "utf8");
  const mapDir = resolve(mapFile, "..");
  console.log(input.split("\n").map((line) => remapStack(readable(line), map, mapDir)).join("\n"));
}
