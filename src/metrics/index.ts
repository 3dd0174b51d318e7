/**
 * The metrics service: the per-isolate recorder the Worker entry hands to the core, the
 * MetricsShard Durable Objects that store minutes, hours and totals, the queries over them, the
 * Prometheus exposition and the Analytics Engine data point. The Worker entry and the admin API use
 * it through here.
 */
// The Durable Object class is exported by the Worker entry from ./durable_object.ts (see src/keys/index.ts).
export type { MetricsShard, PointView, RouteTotals, SeriesQuery, SeriesResult } from "./durable_object.ts";
export type { MetricsView, LatencyView } from "./aggregate.ts";
export { allTotals, querySeries, shardName, shardOf, SHARDS, type MetricsNamespace } from "./client.ts";
export { prometheusText, PROMETHEUS_CONTENT_TYPE, LE_MS } from "./prometheus.ts";
export { MetricsRecorder, FLUSH_MS, KEYS_PER_ROUTE, type MetricsRecorderOptions } from "./recorder.ts";
export { APPLIED_RETENTION_MS, HOUR_MS, HOURS_KEPT_MS, KEYS_KEPT, MINUTE_MS, MINUTES_KEPT_MS, OTHER_KEYS, PRUNE_EVERY_MS, UNROUTED } from "./schema.ts";
