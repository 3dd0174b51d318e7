/**
 * Calling the MetricsShard objects: which shard holds a route, and the one rule for each call.
 *
 * Routes are spread over SHARDS objects by a hash of the route id, so a flush from one isolate is
 * at most SHARDS calls however many routes it served, and a route's minutes, hours, keys and totals
 * live in one object (a query for one route is one call). SHARDS is fixed: changing it would move
 * routes away from their stored history.
 *
 * A call that fails or times out is retried once on a fresh stub (src/durable.ts), not when the
 * object says it is overloaded. A flush that still fails stays in the recorder's outbox; a read
 * that fails fails the whole answer (a partial Prometheus scrape would read as counter resets).
 */
import { callWithOneRetry } from "../durable.ts";
import type { MetricsShard, RouteTotals, SeriesQuery, SeriesResult } from "./durable_object.ts";
import type { MetricsBatch } from "./schema.ts";

export const SHARDS = 16;
const CALL_TIMEOUT_MS = 2_000;

export type MetricsNamespace = DurableObjectNamespace<MetricsShard>;

/** FNV-1a of the route id, modulo SHARDS. */
export function shardOf(route: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < route.length; i++) {
    hash ^= route.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % SHARDS;
}

export const shardName = (shard: number): string => `metrics-${shard}`;

const stub = (ns: MetricsNamespace, shard: number) => ns.get(ns.idFromName(shardName(shard)));

export async function ingest(ns: MetricsNamespace, shard: number, batch: MetricsBatch): Promise<void> {
  await callWithOneRetry(() => stub(ns, shard).ingest(batch) as Promise<{ applied: boolean }>, CALL_TIMEOUT_MS);
}

/** The series of one route (its shard only) or of every route (every shard), ordered by route. */
export async function querySeries(ns: MetricsNamespace, q: SeriesQuery): Promise<SeriesResult[]> {
  const shards = q.route !== undefined ? [shardOf(q.route)] : [...Array(SHARDS).keys()];
  const parts = await Promise.all(shards.map((shard) => callWithOneRetry(() => stub(ns, shard).query(q) as Promise<SeriesResult[]>, CALL_TIMEOUT_MS)));
  return parts.flat().sort((a, b) => a.route.localeCompare(b.route));
}

/** Every route's all-time sums, from every shard. */
export async function allTotals(ns: MetricsNamespace): Promise<RouteTotals[]> {
  const parts = await Promise.all([...Array(SHARDS).keys()].map((shard) => callWithOneRetry(() => stub(ns, shard).totals() as Promise<RouteTotals[]>, CALL_TIMEOUT_MS)));
  return parts.flat().sort((a, b) => a.route.localeCompare(b.route));
}
