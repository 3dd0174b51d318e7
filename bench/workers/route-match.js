// Bench Worker: the route-matching measurement (bench/lib/match-bench.ts) inside workerd.
// GET /measure?router=gateway|hono&n=N answers the figures as JSON. The harness runs one service
// (one isolate) per router and size, so each table build is timed in a fresh isolate.
// Plain JS for the reason given in lib/match-bench.ts; wrangler bundles it with the .ts it imports.
import { compileRouteTable } from "../../src/router/index.ts";
import { measureGateway, measureHono } from "../lib/match-bench.ts";

// Date.now() is brought up to date at I/O boundaries (and frozen between them in production).
const clock = { now: () => Date.now(), boundary: () => scheduler.wait(0) };

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname !== "/measure") return new Response("not found", { status: 404 });
    const router = url.searchParams.get("router");
    const n = Number(url.searchParams.get("n"));
    const minMs = Number(url.searchParams.get("minMs") ?? "300");
    try {
      const figures = router === "hono" ? await measureHono(n, clock, minMs) : await measureGateway(n, clock, compileRouteTable, minMs);
      return Response.json(figures);
    } catch (err) {
      return Response.json({ error: String(err instanceof Error ? err.stack : err) }, { status: 500 });
    }
  },
};
