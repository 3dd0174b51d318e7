/**
 * The edge cache's purge service: the CachePurges Durable Object (purge generations), and the
 * per-isolate view of it the cache policy reads. The cache policy and the admin API use it through here.
 */
// The Durable Object class is exported by the Worker entry from ./durable_object.ts (see src/keys/index.ts).
export type { CachePurges, PurgeResult, PurgeSnapshot } from "./durable_object.ts";
export { MAX_PATHS, PURGE_CHECK_MS } from "./limits.ts";
export { forgetPurgeView, purgePath, purgeRoute, purgeView, type PurgeNamespace, type PurgeView } from "./client.ts";
