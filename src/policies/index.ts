/**
 * The policies, in pipeline order: the only place that names them all. The route-table schema
 * (src/config/table.ts), routes.schema.json, docs/errors.md and each route's middleware chain
 * (built once per route at startup) all come from this list. Adding a policy is a new folder and
 * one line here (docs/adding-a-policy.md).
 */
import type { AnyPolicy } from "../policy.ts";
import { apiKeyPolicy } from "./api-key/index.ts";
import { bodyLimitPolicy } from "./body-limit/index.ts";
import { cachePolicy } from "./cache/index.ts";
import { corsPolicy } from "./cors/index.ts";
import { ipRestrictionPolicy } from "./ip-restriction/index.ts";
import { jwtPolicy } from "./jwt/index.ts";
import { mirrorPolicy } from "./mirror/index.ts";
import { rateLimitPolicy } from "./rate-limit/index.ts";
import { redirectPolicy } from "./redirect/index.ts";
import { respondPolicy } from "./respond/index.ts";
import { roomPolicy } from "./room/index.ts";
import { validatePolicy } from "./validate/index.ts";

export const POLICIES: readonly AnyPolicy[] = [
  corsPolicy, // table-wide, outermost: preflights before everything, CORS headers on every answer
  ipRestrictionPolicy, // first on a route: a refused address costs nothing else
  jwtPolicy, // authentication first: a JWT, then an API key
  apiKeyPolicy,
  bodyLimitPolicy, // a body too large is refused before it is counted (as Kong orders them)
  rateLimitPolicy, // limits count only authenticated callers
  validatePolicy, // refused requests were authenticated and counted; nothing invalid reaches a cache or origin
  cachePolicy, // a hit is authorized, counted and validated before it is served; answers without the origin
  mirrorPolicy, // copies only requests the route accepted and the cache did not answer
  roomPolicy, // the policies that answer the request themselves: last
  respondPolicy,
  redirectPolicy,
];
