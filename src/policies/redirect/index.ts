/**
 * Redirect routes (`redirect: { to, status }`): the gateway answers with 301, 302, 307 or 308 and a
 * Location built from `to`, with `:param` values from the path. No origin; the route's other
 * policies (auth, limits, CORS) still run before it.
 */
import { FORWARDING_FIELDS, isObject, str } from "../../config/core.ts";
import { definePolicy } from "../../policy.ts";
import { compileTarget, redirectTo } from "./policy.ts";
import { RedirectSchema } from "./schema.ts";

export { compileTarget, redirectTo } from "./policy.ts";
export { RedirectSchema, targetProblem, type RedirectConfig } from "./schema.ts";

const pathParams = (path: string | undefined): string[] =>
  (path ?? "").split("/").filter((s) => s.startsWith(":")).map((s) => s.slice(1));

export const redirectPolicy = definePolicy({
  name: "redirect",
  summary: "Answers the route with a redirect to a fixed URL or path, with path parameters substituted and percent-encoded.",
  routeFields: {
    redirect: RedirectSchema.optional().describe("Answer with a redirect instead of forwarding (no origin)."),
  },
  answers: (route) => route.redirect !== undefined,
  checkRoute({ route, issue }) {
    if (route.redirect === undefined) return;
    for (const field of FORWARDING_FIELDS) if (route[field] !== undefined) issue(`a redirect route has no origin: remove ${field}`, field);
    if (route.room !== undefined) issue("use redirect or room, not both", "room");
    const to = isObject(route.redirect) ? str(route.redirect.to) : undefined;
    if (to === undefined) return;
    const params = pathParams(str(route.path));
    for (const part of compileTarget(to)) {
      if (typeof part !== "string" && !params.includes(part.param)) issue(`parameter ":${part.param}" is not in the path`, "redirect", "to");
    }
  },
  create: (route) => (route.redirect ? redirectTo(route.redirect, pathParams(route.path)) : undefined),
});
