/**
 * The metrics service's shared vocabulary: periods, retention, reserved names, and the batch an
 * isolate sends to a MetricsShard.
 */
import type { Aggregate } from "./aggregate.ts";

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
/** Minutes are kept 7 days, hours 90 days (docs/metrics.md). */
export const MINUTES_KEPT_MS = 7 * 24 * HOUR_MS;
export const HOURS_KEPT_MS = 90 * 24 * HOUR_MS;

/** Batch ids are remembered well past the recorder's retry window (RETRY_FOR_MS, 10 minutes). */
export const APPLIED_RETENTION_MS = 30 * MINUTE_MS;
/** How often a shard prunes what is past its retention. */
export const PRUNE_EVERY_MS = 10 * MINUTE_MS;
/** Keys kept one by one per route per minute and per hour in a shard; the rest sum into OTHER_KEYS. */
export const KEYS_KEPT = 25;

/** The route name of requests answered before or without a route (bad path, 404, 405, a preflight). */
export const UNROUTED = "(none)";
/** The key name that sums the keys beyond the ones kept one by one. */
export const OTHER_KEYS = "(other)";

/** One route's (key = "") or one key's (key = its id) sums over one minute starting at `at`. */
export interface MetricsEntry {
  at: number;
  route: string;
  key: string;
  a: Aggregate;
}

/** What one isolate sends one shard at one flush; `id` makes a resend count once. */
export interface MetricsBatch {
  id: string;
  entries: MetricsEntry[];
}
