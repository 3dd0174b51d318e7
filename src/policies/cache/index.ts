/**
 * Edge caching (`cache` on a route): GET and HEAD responses kept in the Workers Cache API, keyed
 * safely per caller, with Cache-Status and Age, stale-while-revalidate, and purges through the admin
 * API (src/cache/ keeps the purge generations).
 */
import { z } from "zod";
import { headerName as headerNameOf } from "../../config/common.ts";
import { GATEWAY_OWNED_REQUEST_HEADERS, isObject, str } from "../../config/core.ts";
import { definePolicy } from "../../policy.ts";
import { fingerprint } from "./key.ts";
import { edgeCache } from "./policy.ts";

export { edgeCache } from "./policy.ts";
export { CACHE_NAME, STORABLE_STATUSES } from "./entry.ts";

const YEAR = 31_536_000;
/** Default cap of one stored body. */
export const DEFAULT_CACHE_BODY_BYTES = 10 * 1_048_576;

export const CacheSchema = z.strictObject({
  ttlSec: z.number().int().min(1).max(YEAR).describe("Seconds a stored response is fresh, counted from when the gateway stored it."),
  staleWhileRevalidateSec: z.number().int().min(0).max(YEAR).default(0)
    .describe("Seconds after ttlSec during which the stale response is served (Cache-Status fwd=stale) while one background request refreshes it. Default 0."),
  keyQuery: z.array(z.string().min(1)).optional()
    .describe("Query parameters in the cache key, compared sorted by name; the others are dropped before the origin. Omitted: every parameter counts."),
  keyHeaders: z.array(headerNameOf).default([])
    .describe("Request headers in the cache key; on a cached GET they are the only client headers the origin receives. Default none."),
  shared: z.boolean().default(false)
    .describe("On an authenticated route, one entry for every caller (callers are still authenticated and counted). Default false: one entry per API key or JWT subject."),
  maxBodyBytes: z.number().int().min(1).max(512 * 1_048_576).default(DEFAULT_CACHE_BODY_BYTES)
    .describe("Largest body stored; larger responses are served, not stored. Default 10485760 (10 MiB)."),
}).describe("Cache GET/HEAD responses at the edge (Workers Cache API; custom domains only, not workers.dev).");

type RawAuth = Record<string, unknown> | undefined;
const authOf = (route: Record<string, unknown>): RawAuth => (isObject(route.auth) ? route.auth : undefined);

export const cachePolicy = definePolicy({
  name: "cache",
  summary: "Serves GET/HEAD responses from the Workers Cache API, keyed per caller, after auth and limits ran.",
  routeFields: { cache: CacheSchema.optional() },
  checkRoute({ route, issue }) {
    const cache = isObject(route.cache) ? route.cache : undefined;
    if (!cache) return;
    const methods = Array.isArray(route.methods) ? route.methods : undefined;
    if (methods !== undefined && !methods.includes("GET") && !methods.includes("HEAD")) issue("only GET and HEAD responses are cached; the route takes neither", "cache");
    if (route.room !== undefined) issue("a room is a WebSocket: nothing to cache", "cache");
    if (route.websocket === true) issue("a WebSocket route has nothing to cache", "cache");
    const auth = authOf(route);
    if (cache.shared === true && auth) {
      if (isObject(route.identityHeaders) && Object.keys(route.identityHeaders).length > 0)
        issue("a shared entry is served to every caller, so the origin may not learn who asked: remove identityHeaders or shared", "cache", "shared");
      if (auth.forwardAuthorization === true)
        issue("a shared entry is served to every caller, so the origin may not see the caller's token: remove auth.forwardAuthorization or shared", "cache", "shared");
    }
    if (Array.isArray(cache.keyHeaders)) cache.keyHeaders.forEach((name, i) => {
      const lower = str(name)?.toLowerCase();
      if (lower !== undefined && ((GATEWAY_OWNED_REQUEST_HEADERS as readonly string[]).includes(lower) || lower.startsWith("cf-") || lower.startsWith("x-gateway-")))
        issue(`"${lower}" is written by the gateway, never taken from the client: it cannot be a key header`, "cache", "keyHeaders", i);
      if (lower === "authorization" || lower === "cookie")
        issue(`"${lower}" carries credentials: on an authenticated route the caller is already in the key; key on a non-secret header instead`, "cache", "keyHeaders", i);
    });
  },
  create(route, table) {
    const cache = route.cache;
    if (!cache) return undefined;
    const origin = route.origin === undefined ? undefined : table.origins[route.origin];
    return edgeCache({
      routeId: route.id,
      ttlSec: cache.ttlSec,
      staleWhileRevalidateSec: cache.staleWhileRevalidateSec,
      keyQuery: cache.keyQuery,
      keyHeaders: cache.keyHeaders,
      shared: cache.shared,
      authenticated: route.auth !== "none",
      forwardsAuthorization: route.auth !== "none" && route.auth.forwardAuthorization === true,
      maxBodyBytes: cache.maxBodyBytes,
      config: fingerprint(JSON.stringify([route, origin ?? null])),
    });
  },
});
