/**
 * Synthetic route tables for the matching benchmark, shared by Node and the bench Worker (no Node
 * imports here). Every route has its own first segment (`/svc<i>`, distinct prefixes) and one of
 * four shapes, so the tables mix static segments, params and trailing wildcards:
 *
 *   /svc<i>/items/:id   /svc<i>/items/:id/parts/:part   /svc<i>/static/health   /svc<i>/files/*
 *
 * The requests are drawn (seeded, reproducible) from all routes, so a lookup exercises the whole
 * table, not a hot corner of it.
 */
export interface BenchRequest { method: string; path: string }

const SHAPES = ["/items/:id", "/items/:id/parts/:part", "/static/health", "/files/*"] as const;
const METHODS = [["GET"], ["GET", "PUT"], ["GET"], ["GET", "POST"]] as const;

export function routePath(i: number): string {
  return `/svc${i}${SHAPES[i % SHAPES.length]}`;
}

/** A valid routes.json (input form) with `n` routes. */
export function benchRouteTable(n: number) {
  const routes = [];
  for (let i = 0; i < n; i++) {
    routes.push({ id: `r${i}`, methods: [...METHODS[i % METHODS.length]!], path: routePath(i), origin: "origin", auth: "none" as const });
  }
  return { origins: { origin: { url: "http://127.0.0.1:9" } }, routes };
}

/** The same routes as (method, path) pairs, for other routers (Hono uses the same `:p` and `*`). */
export function benchRouteSpecs(n: number): { methods: string[]; path: string }[] {
  return benchRouteTable(n).routes.map((r) => ({ methods: r.methods, path: r.path }));
}

/** `count` requests that each match one route of an `n`-route table, drawn with a fixed seed. */
export function benchRequests(n: number, count = 1024): BenchRequest[] {
  let seed = 0x2545f491;
  const next = () => {
    seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5;
    return (seed >>> 0) / 0x100000000;
  };
  const out: BenchRequest[] = [];
  for (let k = 0; k < count; k++) {
    const i = Math.floor(next() * n);
    const id = String(1000 + k);
    const shape = i % SHAPES.length;
    const path = shape === 0 ? `/svc${i}/items/${id}`
      : shape === 1 ? `/svc${i}/items/${id}/parts/p${k % 7}`
      : shape === 2 ? `/svc${i}/static/health`
      : `/svc${i}/files/a/b/${id}.txt`;
    out.push({ method: "GET", path });
  }
  return out;
}
