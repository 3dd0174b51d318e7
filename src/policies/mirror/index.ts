/**
 * Request mirroring (`mirror` on a route): a share of the route's requests is copied to a second
 * origin in `waitUntil`, to try a new backend with real traffic. The copy's answer is ignored and
 * its failure never reaches the client. Runs after authentication and limits, so only requests the
 * route accepts are copied.
 */
import { z } from "zod";
import { isObject, NAMES_OF, notPlainUrlOrigin, str } from "../../config/core.ts";
import { definePolicy } from "../../policy.ts";
import { mirrorRequests, MIRROR_HEADER } from "./policy.ts";

export { mirrorRequests, MIRROR_HEADER } from "./policy.ts";

export const MirrorSchema = z.strictObject({
  origin: z.string().describe("Name of the origin (a plain url origin) that gets the copies."),
  percent: z.number().min(0).max(100).describe("Share of the route's requests copied, 0-100 (decimals allowed)."),
  body: z.boolean().default(false)
    .describe("Copy requests that have a body (teed, only with a Content-Length up to maxBodyBytes). Default false: only requests without a body are copied."),
  maxBodyBytes: z.number().int().min(1).max(10 * 1024 * 1024).default(1024 * 1024)
    .describe("Largest body copied (it is held in memory while the slower of the two reads it). Default 1048576."),
});


export const mirrorPolicy = definePolicy({
  name: "mirror",
  summary: "Copies a share of a route's requests to a second origin in the background, ignoring its answers.",
  routeFields: { mirror: MirrorSchema.optional().describe("Copy a share of requests to another origin (docs/upstreams.md).") },
  checkRoute({ table, route, issue }) {
    const mirror = isObject(route.mirror) ? route.mirror : undefined;
    if (!mirror) return;
    const origin = str(mirror.origin);
    if (origin !== undefined && !NAMES_OF(table.origins).has(origin)) issue(`unknown origin "${origin}"`, "mirror", "origin");
    const notPlain = origin === undefined ? undefined : notPlainUrlOrigin(isObject(table.origins) ? table.origins[origin] : undefined);
    if (notPlain !== undefined) issue(notPlain, "mirror", "origin");
    if (route.origin === undefined) issue("only a route that forwards to an origin can be mirrored", "mirror");
    if (route.websocket === true) issue("a WebSocket route cannot be mirrored", "mirror");
  },
  // Never from a client: the mirror origin tells copies from real traffic by it.
  originHeaders: (table) => (table.routes.some((route) => route.mirror !== undefined) ? [MIRROR_HEADER] : []),
  create: (route, table) => (route.mirror ? mirrorRequests(route, table.origins) : undefined),
});
