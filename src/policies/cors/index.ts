/**
 * CORS (`cors` on a route, `defaults.cors` table-wide): the gateway answers browsers' preflights
 * before auth, limits and the origin, and puts CORS headers on every response of the route, its
 * own errors included, so browser code can read an error's body. Works table-wide around routing
 * (`wrap`), so it has no per-route middleware.
 */
import { z } from "zod";
import { isObject } from "../../config/core.ts";
import { definePolicy } from "../../policy.ts";
import { corsMiddleware } from "./policy.ts";
import { CorsSchema } from "./schema.ts";

export { compileCorsRule, corsMiddleware, type CorsRule } from "./policy.ts";
export { CorsSchema, readOrigin, type CorsConfig } from "./schema.ts";

export const corsPolicy = definePolicy({
  name: "cors",
  summary: "Answers CORS preflights before auth and routing, and puts CORS headers on every response of the route, gateway errors included.",
  routeFields: {
    cors: z.union([CorsSchema, z.literal(false)]).optional()
      .describe("CORS for browsers on this route (replaces defaults.cors); false turns the default off."),
  },
  defaultsFields: {
    cors: CorsSchema.optional().describe("CORS for every route without its own `cors`, and for requests no route matches (404)."),
  },
  checkRoute({ table, route, issue }) {
    const own = isObject(route.cors) ? route.cors : undefined;
    const effective = route.cors === false ? undefined : own ?? (isObject(table.defaults) && isObject(table.defaults.cors) ? table.defaults.cors : undefined);
    if (own && (route.websocket === true || route.room !== undefined))
      issue("a WebSocket route is not subject to CORS (browsers send Origin on the upgrade: check it with room.allowedOrigins)", "cors");
    const set = isObject(route.responseHeaders) && isObject(route.responseHeaders.set) ? Object.keys(route.responseHeaders.set) : [];
    for (const name of set) {
      if (effective && name.toLowerCase().startsWith("access-control-"))
        issue(`"${name}" is written by the route's cors settings`, "responseHeaders", "set", name);
    }
  },
  create: () => undefined,
  wrap: (table, routes) => corsMiddleware(table, routes),
});
