/**
 * Purging the edge cache (under the admin prefix, behind its token):
 *
 *   POST /cache/purge  { "route": ID }                  every entry of a cached route
 *   POST /cache/purge  { "route": ID, "path": "/p" }    the entries of one path of that route
 *   POST /cache/purge  { "path": "/p" }                 that path under every cached route matching it
 *
 * A path purge covers every host, caller, query and header variant of the path (they cannot be
 * listed: the Cache API deletes by exact key only, and only in one data center). Nothing is deleted:
 * the purge moves a generation in the key (src/cache/), so no isolate reads the old entries again
 * once its view is refreshed, within `effectiveWithinSeconds` everywhere. Answers the purged
 * generations.
 */
import { Hono } from "hono";
import { z } from "zod";
import { purgePath, purgeRoute, PURGE_CHECK_MS, type PurgeResult } from "../cache/index.ts";
import type { GatewayEnv } from "../context.ts";
import { coreErrors, defineErrors, errorText, logEvent } from "../errors.ts";
import { canonicalizePath } from "../router/index.ts";
import { jsonBody } from "./input.ts";

const cacheAdminErrors = defineErrors("admin", {
  cache_route_unknown: { status: 404, meaning: "A cache purge names a route that does not exist or has no `cache`, or a path no cached route matches." },
  cache_purges_unavailable: { status: 503, meaning: "The purge could not be recorded (the CachePurges object did not answer after one retry); `Retry-After` says when to retry." },
});

/** What the purge API reads of a route. */
export interface CachedRouteInfo {
  id: string;
  path: string;
  cache?: { ttlSec: number; staleWhileRevalidateSec: number } | undefined;
}

const Purge = z.strictObject({
  route: z.string().min(1).optional(),
  path: z.string().min(1).max(4096).startsWith("/", "must start with /").optional(),
}).refine((body) => body.route !== undefined || body.path !== undefined, `Give "route", "path", or both.`);

/** Whether `pattern` (`/a/:id/*`) matches the canonical `path`; a trailing slash is ignored, as in matching. */
export function patternMatches(pattern: string, path: string): boolean {
  const want = pattern === "/" ? [] : pattern.slice(1).split("/");
  const trimmed = path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
  const have = trimmed === "/" ? [] : trimmed.slice(1).split("/");
  for (let i = 0; i < want.length; i++) {
    const segment = want[i]!;
    if (segment === "*" && i === want.length - 1) return true;
    if (i >= have.length) return false;
    if (!segment.startsWith(":") && segment !== have[i]) return false;
  }
  return want.length === have.length;
}

export function createCacheApi(routes: readonly CachedRouteInfo[]) {
  const cached = routes.filter((r): r is CachedRouteInfo & { cache: NonNullable<CachedRouteInfo["cache"]> } => r.cache !== undefined);
  const api = new Hono<GatewayEnv>();

  api.post("/purge", jsonBody(Purge, { maxBytes: 8192 }), async (c) => {
    const body = c.req.valid("json");
    let path: string | undefined;
    if (body.path !== undefined) {
      const canonical = canonicalizePath(body.path);
      if (!canonical.ok) throw coreErrors.invalid_request(`path: ${canonical.reason}.`);
      path = canonical.path;
    }
    const targets = body.route !== undefined ? cached.filter((r) => r.id === body.route) : cached.filter((r) => patternMatches(r.path, path!));
    if (targets.length === 0) {
      throw cacheAdminErrors.cache_route_unknown(body.route !== undefined ? `No cached route "${body.route}".` : "No cached route matches this path.");
    }
    const purged: PurgeResult[] = [];
    try {
      for (const route of targets) {
        if (path === undefined) purged.push(await purgeRoute(c.env.CACHE_PURGES, route.id));
        else {
          // Old generations must outlive every entry stored under them (see src/cache/durable_object.ts).
          const keepUntil = Date.now() + (route.cache.ttlSec + route.cache.staleWhileRevalidateSec) * 1000 + PURGE_CHECK_MS + 60_000;
          purged.push(await purgePath(c.env.CACHE_PURGES, route.id, path, keepUntil));
        }
      }
    } catch (err) {
      logEvent("error", "cache_purges_unavailable", { requestId: c.get("requestId"), error: errorText(err) });
      throw cacheAdminErrors.cache_purges_unavailable("The purge could not be recorded; try again shortly.", { "retry-after": "1" });
    }
    return c.json({ purged, effectiveWithinSeconds: Math.ceil(PURGE_CHECK_MS / 1000) });
  });

  return api;
}
