/**
 * `node scripts/console.ts [--out FILE]`: builds the console's browser code into the module the
 * Worker serves it from (default .gateway/console.js). wrangler.toml's [build] step runs it.
 */
import { buildConsole, CONSOLE_MODULE } from "../tools/console.ts";

const at = process.argv.indexOf("--out");
const out = at >= 0 ? process.argv[at + 1] : CONSOLE_MODULE;
if (!out) {
  console.error("--out needs a file");
  process.exit(2);
}
try {
  await buildConsole(out);
  console.log(`console built: ${out}`);
} catch (err) {
  console.error(`console build failed: ${(err as Error).message}`);
  process.exit(1);
}
