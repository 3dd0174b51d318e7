// `node bench/lib/match-child.js gateway|hono N`: one route-matching measurement in a fresh Node
// process, so the table build is timed cold (no JIT warmth from another size), as in a new isolate.
// Prints the figures as one JSON line. Plain JS: it imports src/router/compile.ts, which
// tsconfig.node.json cannot type-check (see lib/match-bench.ts).
import { compileRouteTable } from "../../src/router/index.ts";
import { measureGateway, measureHono } from "./match-bench.ts";

const [router, size] = process.argv.slice(2);
const n = Number(size);
if ((router !== "gateway" && router !== "hono") || !Number.isInteger(n) || n <= 0) {
  console.error("usage: match-child.js gateway|hono N");
  process.exit(2);
}
const clock = { now: () => performance.now(), boundary: () => Promise.resolve() };
const figures = router === "gateway" ? await measureGateway(n, clock, compileRouteTable) : await measureHono(n, clock);
process.stdout.write(JSON.stringify(figures) + "\n");
