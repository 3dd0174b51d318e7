/**
 * Static routes (`respond: { status, headers, json | body }`): the gateway answers the route itself,
 * without an origin. The route's other policies (auth, limits, CORS) still run before it.
 */
import { FORWARDING_FIELDS } from "../../config/core.ts";
import { definePolicy } from "../../policy.ts";
import { staticResponse } from "./policy.ts";
import { RespondSchema } from "./schema.ts";

export { staticResponse } from "./policy.ts";
export { RespondSchema, type RespondConfig } from "./schema.ts";

export const respondPolicy = definePolicy({
  name: "respond",
  summary: "Answers the route with a fixed status, headers and body, without an origin (health checks, maintenance pages, stubs).",
  routeFields: {
    respond: RespondSchema.optional().describe("Answer with this fixed response instead of forwarding (no origin)."),
  },
  answers: (route) => route.respond !== undefined,
  checkRoute({ route, issue }) {
    if (route.respond === undefined) return;
    for (const field of FORWARDING_FIELDS) {
      if (route[field] !== undefined) issue(`a respond route has no origin: remove ${field}${field === "responseHeaders" ? " (use respond.headers)" : ""}`, field);
    }
    for (const other of ["room", "redirect"]) if (route[other] !== undefined) issue(`use respond or ${other}, not both`, other);
  },
  create: (route) => (route.respond ? staticResponse(route.respond) : undefined),
});
