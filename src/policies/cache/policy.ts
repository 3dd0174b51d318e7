/**
 * The edge cache of a route (`cache`), in the Workers Cache API (`caches.default`).
 *
 * It runs after authentication, rate limits and validation, so a hit is still authorized, counted and
 * checked; on a hit it answers without calling next (nothing further runs, the origin is not
 * contacted). Only GET and HEAD are cached; a HEAD is served from the GET entry and never stores.
 *
 * Safety rules, each closing a way one caller's response could reach another:
 * - The key (key.ts) holds the route, the route's definition, the host, the canonical path, the keyed
 *   query and headers, and, on an authenticated route, the caller (API key id, or JWT issuer and
 *   subject) unless the route says `shared`. An authenticated request without an identity is not
 *   cached at all.
 * - What reaches the origin on a cached route is what the key holds: client headers outside
 *   `keyHeaders` are withheld (the route's credential too, unless the route forwards it and is not
 *   shared) and query parameters outside `keyQuery` are dropped. A response is then a function of
 *   its key, and no unkeyed input (an `X-Forwarded-Host`, an `X-Original-URL`, a cookie, an extra
 *   parameter) can make the origin answer differently for an entry others will get. The gateway's
 *   own forwarding headers (client IP, request id, verified identity) still go.
 * - Not stored: a status outside 200, 203, 204, 301, 404, 410; `Set-Cookie`; `Cache-Control`
 *   `private`, `no-store` or `no-cache`; a `Vary` on a header not in the key; a body over
 *   `maxBodyBytes`; a response to a request with `Cache-Control: no-store`; a HEAD.
 *
 * Freshness is the route's: fresh for `ttlSec` from storage, then served stale for up to
 * `staleWhileRevalidateSec` while one background refresh per isolate runs (the route's plain
 * forwarding, in waitUntil: the policies after this one do not run for it). The origin's
 * max-age is not used. A client's `Cache-Control: no-cache` goes to the origin and stores the result.
 *
 * Why not hono/cache: it keys by URL only (plus `vary` headers), knows no caller identity, skips
 * every request with an Authorization header (so nothing authenticated could be cached), stores on
 * any Cache-Control the origin sends without this policy's status list or stale window, and sets
 * no Cache-Status or Age. Each of those is a rule above.
 */
import type { GatewayContext, GatewayMiddleware } from "../../context.ts";
import { replaceResponse, setResponseHeader, waitUntilOf } from "../../context.ts";
import { errorText, logEvent } from "../../errors.ts";
import { purgeView } from "../../cache/index.ts";
import { forwardToOrigin, withholdClientHeader } from "../../upstream/index.ts";
import { cacheStatus, entryToStore, notStorable, readEntry, requestDirectives, servedEntry } from "./entry.ts";
import { cacheKeyUrl, keyedQuery, varySegment } from "./key.ts";

export interface EdgeCacheOptions {
  routeId: string;
  ttlSec: number;
  staleWhileRevalidateSec: number;
  /** Query parameters in the key (and sent to the origin); undefined: all of them. */
  keyQuery?: readonly string[];
  /** Request headers in the key (and the only client headers sent to the origin). */
  keyHeaders: readonly string[];
  /** One entry for every caller of an authenticated route. */
  shared: boolean;
  /** The route authenticates its callers. */
  authenticated: boolean;
  /** The route forwards the client's Authorization header to the origin. */
  forwardsAuthorization: boolean;
  maxBodyBytes: number;
  /** Fingerprint of the route's definition (key.ts). */
  config: string;
}

/** Stale entries being refreshed in this isolate: key -> start (ms); one refresh per entry at a time. */
const refreshing = new Map<string, number>();
const REFRESH_LOCK_MS = 30_000;
let cacheFailureLogged = false;

export function edgeCache(options: EdgeCacheOptions): GatewayMiddleware {
  const { routeId, ttlSec, staleWhileRevalidateSec, maxBodyBytes, config } = options;
  if (!(ttlSec >= 1)) throw new TypeError(`route "${routeId}": cache.ttlSec must be at least 1`);
  const lifetimeSec = ttlSec + staleWhileRevalidateSec;
  const keyQuery = options.keyQuery === undefined ? undefined : new Set(options.keyQuery);
  const keyHeaders = new Set(options.keyHeaders.map((h) => h.toLowerCase()));
  const keyHeaderList = [...keyHeaders].sort();
  const perCaller = options.authenticated && !options.shared;
  // Client headers that may reach the origin on a cacheable request.
  const passed = new Set(keyHeaders);
  if (perCaller && options.forwardsAuthorization) passed.add("authorization");

  return async function edgeCache(c, next) {
    const method = c.req.method;
    if (method !== "GET" && method !== "HEAD") {
      await next();
      setResponseHeader(c, "cache-status", cacheStatus({ fwd: "method" }), true);
      return;
    }
    const bypass = async (detail: string) => {
      await next();
      setResponseHeader(c, "cache-status", cacheStatus({ fwd: "bypass", detail }), true);
    };
    const request = c.req.raw;
    const url = new URL(request.url);
    // On workers.dev the Cache API accepts puts and drops them: say so rather than claim "stored".
    if (url.hostname.endsWith(".workers.dev")) return bypass("workers-dev");
    const vary: string[] = [];
    if (perCaller) {
      const identity = callerIdentity(c);
      if (identity.length === 0) return bypass("no-identity");
      vary.push(...identity);
    }
    const purges = await purgeView(c.env.CACHE_PURGES);
    if (!purges) return bypass("purges-unknown");

    for (const name of keyHeaderList) vary.push(`${name}:${request.headers.get(name) ?? ""}`);
    const canonicalPath = c.get("match").canonicalPath;
    const key = new Request(cacheKeyUrl({
      host: url.host,
      routeId,
      config,
      routeGeneration: purges.route(routeId),
      pathGeneration: purges.path(routeId, canonicalPath),
      vary: await varySegment(vary),
      canonicalPath,
      query: keyedQuery(url.searchParams, keyQuery),
    }));
    narrowToKey(c, url, keyQuery, passed);

    const directives = requestDirectives(request.headers);
    const head = method === "HEAD";
    if (!directives.revalidate) {
      let cached: Response | undefined;
      try {
        cached = await caches.default.match(key);
      } catch (err) {
        // No Cache API here (plain workerd without a cache service): the route works uncached.
        if (!cacheFailureLogged) logEvent("warn", "cache_unavailable", { routeId, error: errorText(err) });
        cacheFailureLogged = true;
        return bypass("no-cache-api");
      }
      const entry = cached && readEntry(cached, Date.now());
      if (entry) {
        const age = entry.storedAgeSec;
        if (age < ttlSec) return servedEntry(entry, head, cacheStatus({ hit: true, ttl: ttlSec - age }));
        if (age < lifetimeSec) {
          if (!head) refreshInBackground(c, key, options, keyHeaders);
          return servedEntry(entry, head, cacheStatus({ fwd: "stale", ttl: ttlSec - age }));
        }
      }
      if (cached && !entry) void cached.body?.cancel().catch(() => {});
    }

    await next();
    const response = c.res;
    const reason = head ? "head" : directives.noStore ? "request-no-store" : notStorable(response, keyHeaders, maxBodyBytes);
    if (reason === undefined) {
      // The client streams one branch while the cache reads the other.
      const [forClient, forCache] = response.body ? response.body.tee() : [null, null];
      replaceResponse(c, new Response(forClient, response));
      const stored = Date.now();
      const put = entryToStore(response, forCache, lifetimeSec, maxBodyBytes, stored)
        .then((entry) => (entry ? caches.default.put(key, entry) : undefined))
        .catch((err: unknown) => logEvent("warn", "cache_store_failed", { requestId: c.get("requestId"), routeId, error: errorText(err) }));
      waitUntilOf(c)?.(put);
    }
    setResponseHeader(c, "cache-status", cacheStatus({
      fwd: directives.revalidate ? "request" : "miss",
      fwdStatus: response.status,
      stored: reason === undefined,
      detail: reason,
    }), true);
  };
}

/** The caller as the key holds it: the API key id and the JWT's issuer and subject, as present. */
function callerIdentity(c: GatewayContext): string[] {
  const parts: string[] = [];
  const key = c.get("apiKey");
  if (key) parts.push(`key:${key.id}`);
  const claims = c.get("jwt");
  if (claims && typeof claims.sub === "string" && claims.sub !== "") parts.push(`jwt:${typeof claims.iss === "string" ? claims.iss : ""}:${claims.sub}`);
  return parts;
}

/**
 * Makes the origin request hold only what the key holds: client headers outside `passed` are
 * withheld (src/upstream/headers.ts applies that when forwarding), and unkeyed query parameters
 * are dropped from the request URL.
 */
function narrowToKey(c: GatewayContext, url: URL, keyQuery: ReadonlySet<string> | undefined, passed: ReadonlySet<string>): void {
  for (const name of c.req.raw.headers.keys()) if (!passed.has(name)) withholdClientHeader(c, name);
  if (keyQuery === undefined || url.search === "") return;
  let unkeyed = false;
  for (const name of url.searchParams.keys()) if (!keyQuery.has(name)) { unkeyed = true; break; }
  if (!unkeyed) return;
  const narrowed = new URL(url);
  narrowed.search = keyedQuery(url.searchParams, keyQuery);
  c.req.raw = new Request(narrowed, c.req.raw);
}

/** Refreshes a stale entry after the response: the route's forwarding, once per entry per isolate. */
function refreshInBackground(c: GatewayContext, key: Request, options: EdgeCacheOptions, keyHeaders: ReadonlySet<string>): void {
  const waitUntil = waitUntilOf(c);
  const plan = c.get("route")?.plan;
  if (!waitUntil || !plan) return;
  const now = Date.now();
  const started = refreshing.get(key.url);
  if (started !== undefined && now - started < REFRESH_LOCK_MS) return;
  if (refreshing.size > 10_000) refreshing.clear();
  refreshing.set(key.url, now);
  const match = c.get("match");
  waitUntil((async () => {
    try {
      const response = await forwardToOrigin(c, plan, match);
      if (notStorable(response, keyHeaders, options.maxBodyBytes) !== undefined) {
        await response.body?.cancel();
        return;
      }
      const entry = await entryToStore(response, response.body, options.ttlSec + options.staleWhileRevalidateSec, options.maxBodyBytes, Date.now());
      if (entry) await caches.default.put(key, entry);
    } catch (err) {
      logEvent("warn", "cache_refresh_failed", { requestId: c.get("requestId"), routeId: options.routeId, error: errorText(err) });
    } finally {
      refreshing.delete(key.url);
    }
  })());
}
