/**
 * Route-matching measurements on the gateway's own code (src/config + src/router) and on Hono's
 * default router (SmartRouter over RegExpRouter and TrieRouter, what `new Hono()` uses), for one
 * table size. Runs unchanged in Node and inside workerd (bench/workers/route-match.ts): no Node
 * imports; the caller passes the clock, an I/O boundary and `compileRouteTable` itself.
 *
 * Why the caller passes `compileRouteTable` (src/router/compile.ts): tsconfig.node.json type-checks
 * bench/ with Node's types, where compile.ts's import of src/types.ts (Durable Object binding
 * types) does not resolve. The callers that import it are small .js files (match-child.js,
 * workers/route-match.js), which Node and wrangler run as-is and tsc does not check.
 *
 * Workers may freeze the clock during synchronous execution (production does, as a Spectre
 * mitigation; workerd's own clock is coarse, 1 ms). So every timed section is long (a loop sized
 * to take ~`minMs`), starts and ends after an `await boundary()` (scheduler.wait(0) in a Worker,
 * where the clock is brought up to date), and is divided by its iteration count.
 */
import { loadRouteTable, type RouteTable } from "../../src/config/index.ts";
import { canonicalizePath } from "../../src/router/canonical.ts";
import type { MatchResult } from "../../src/router/matcher.ts";
import { SmartRouter } from "hono/router/smart-router";
import { RegExpRouter } from "hono/router/reg-exp-router";
import { TrieRouter } from "hono/router/trie-router";
import { benchRequests, benchRouteSpecs, benchRouteTable } from "./route-tables.ts";

export interface Clock {
  now(): number; // ms
  boundary(): Promise<void>;
}

/** The shape of src/router/compile.ts `compileRouteTable` that is measured. */
export type CompileRouteTable = (table: RouteTable) => { matcher: { match(host: string, method: string, path: string): MatchResult<unknown> } };

export interface MatchFigures {
  router: "gateway" | "hono";
  routes: number;
  /** Gateway: zod validation of the table (loadRouteTable). Hono: -. ms */
  validateMs: number | null;
  /** Gateway: compileRouteTable (matcher + per-route builders). Hono: adding every route. ms */
  compileMs: number;
  /** The first match (Hono builds its RegExp on it). ms */
  firstMatchMs: number;
  /** validate + compile + first match: time until the table answers. ms */
  readyMs: number;
  /** The same, repeated in the same isolate (JIT-warm), median: validate, compile, ready. ms */
  warm: { validateMs: number | null; compileMs: number; readyMs: number } | null;
  /** Mean time per match over the request mix. us */
  matchUs: number;
  /** Gateway only: canonicalizePath + match, what the hot path does per request. us */
  canonicalMatchUs: number | null;
  matches: number;
  /** Which router answered (Hono's SmartRouter picks one at the first match). */
  detail: string;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

/**
 * Calibrates a batch to take about `minMs / 3`, then runs it three times and keeps the fastest:
 * on a shared machine interference only ever adds time, so the minimum is the steadiest figure.
 */
async function timeLoop(clock: Clock, minMs: number, body: (count: number) => number): Promise<{ perCallUs: number; calls: number }> {
  const batchMs = minMs / 3;
  let calls = 256;
  const timed = async () => {
    await clock.boundary();
    const start = clock.now();
    body(calls);
    await clock.boundary();
    return clock.now() - start;
  };
  for (;;) {
    const elapsed = await timed();
    if (elapsed >= batchMs) break;
    calls = elapsed < 2 ? calls * 16 : Math.ceil((calls * batchMs * 1.1) / elapsed);
  }
  let best = Infinity;
  for (let k = 0; k < 3; k++) best = Math.min(best, await timed());
  return { perCallUs: (best * 1000) / calls, calls: calls * 3 };
}

/** One timed call of `fn`, between two boundaries, less the cost of a boundary alone. */
async function timeOnce<T>(clock: Clock, fn: () => T): Promise<{ value: T; ms: number }> {
  await clock.boundary();
  const start = clock.now();
  const value = fn();
  await clock.boundary();
  return { value, ms: Math.max(0, clock.now() - start - (await boundaryCost(clock))) };
}

let boundaryMs: number | undefined;
/** The least time an empty timed section takes (the boundary itself), measured once. */
async function boundaryCost(clock: Clock): Promise<number> {
  if (boundaryMs !== undefined) return boundaryMs;
  let least = Infinity;
  for (let k = 0; k < 5; k++) {
    await clock.boundary();
    const start = clock.now();
    await clock.boundary();
    least = Math.min(least, clock.now() - start);
  }
  return (boundaryMs = least);
}

export async function measureGateway(n: number, clock: Clock, compileRouteTable: CompileRouteTable, minMs = 200): Promise<MatchFigures> {
  const raw = benchRouteTable(n);
  const requests = benchRequests(n);
  const validated = await timeOnce(clock, () => loadRouteTable(raw));
  const compiled = await timeOnce(clock, () => compileRouteTable(validated.value));
  const matcher = compiled.value.matcher;
  const first = await timeOnce(clock, () => matcher.match("bench.test", requests[0]!.method, requests[0]!.path));
  for (const r of requests) {
    const result = matcher.match("bench.test", r.method, r.path);
    if (result.kind !== "match") throw new Error(`gateway router: ${r.method} ${r.path} did not match (${result.kind})`);
  }
  const warmV: number[] = [], warmC: number[] = [], warmR: number[] = [];
  for (let k = 0; k < (n >= 10_000 ? 3 : 5); k++) {
    const v = await timeOnce(clock, () => loadRouteTable(raw));
    const c = await timeOnce(clock, () => compileRouteTable(v.value));
    const f = await timeOnce(clock, () => c.value.matcher.match("bench.test", "GET", requests[0]!.path));
    warmV.push(v.ms); warmC.push(c.ms); warmR.push(v.ms + c.ms + f.ms);
  }
  const len = requests.length;
  let sink = 0;
  const match = await timeLoop(clock, minMs, (count) => {
    for (let i = 0; i < count; i++) {
      const r = requests[i % len]!;
      if (matcher.match("bench.test", r.method, r.path).kind === "match") sink++;
    }
    return sink;
  });
  const canonicalMatch = await timeLoop(clock, minMs, (count) => {
    for (let i = 0; i < count; i++) {
      const r = requests[i % len]!;
      const canonical = canonicalizePath(r.path);
      if (canonical.ok && matcher.match("bench.test", r.method, canonical.path).kind === "match") sink++;
    }
    return sink;
  });
  return {
    router: "gateway", routes: n,
    validateMs: validated.ms, compileMs: compiled.ms, firstMatchMs: first.ms,
    readyMs: validated.ms + compiled.ms + first.ms,
    warm: { validateMs: median(warmV), compileMs: median(warmC), readyMs: median(warmR) },
    matchUs: match.perCallUs, canonicalMatchUs: canonicalMatch.perCallUs, matches: match.calls,
    detail: "RouteMatcher (src/router/matcher.ts)",
  };
}

export async function measureHono(n: number, clock: Clock, minMs = 200): Promise<MatchFigures> {
  const specs = benchRouteSpecs(n);
  const requests = benchRequests(n);
  const added = await timeOnce(clock, () => {
    const router = new SmartRouter<number>({ routers: [new RegExpRouter(), new TrieRouter()] });
    specs.forEach((spec, i) => {
      for (const method of spec.methods) router.add(method, spec.path, i);
    });
    return router;
  });
  const router = added.value;
  const first = await timeOnce(clock, () => router.match(requests[0]!.method, requests[0]!.path));
  const build = () => {
    const r = new SmartRouter<number>({ routers: [new RegExpRouter(), new TrieRouter()] });
    specs.forEach((spec, i) => {
      for (const method of spec.methods) r.add(method, spec.path, i);
    });
    r.match("GET", requests[0]!.path);
  };
  const warmR: number[] = [];
  // A 10,000-route RegExp takes about a second to build; its warm figure is not worth the wait.
  for (let k = 0; k < (n >= 10_000 ? 0 : 3); k++) warmR.push((await timeOnce(clock, build)).ms);
  for (const r of requests) {
    if (router.match(r.method, r.path)[0].length === 0) throw new Error(`hono router: ${r.method} ${r.path} did not match`);
  }
  const len = requests.length;
  let sink = 0;
  const match = await timeLoop(clock, minMs, (count) => {
    for (let i = 0; i < count; i++) {
      const r = requests[i % len]!;
      sink += router.match(r.method, r.path)[0].length;
    }
    return sink;
  });
  return {
    router: "hono", routes: n,
    validateMs: null, compileMs: added.ms, firstMatchMs: first.ms, readyMs: added.ms + first.ms,
    warm: warmR.length > 0 ? { validateMs: null, compileMs: NaN, readyMs: median(warmR) } : null,
    matchUs: match.perCallUs, canonicalMatchUs: null, matches: match.calls,
    detail: router.name,
  };
}
