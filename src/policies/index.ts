/**
 * The policies, in pipeline order: the only place that names them all. The route-table schema
 * (src/config/table.ts), routes.schema.json, docs/errors.md and each route's middleware chain
 * (built once per route at startup) all come from this list. Adding a policy is a new folder and
 * one line here (docs/adding-a-policy.md).
 */
import type { AnyPolicy } from "../policy.ts";
import { apiKeyPolicy } from "./api-key/index.ts";
import { ipRestrictionPolicy } from "./ip-restriction/index.ts";
import { jwtPolicy } from "./jwt/index.ts";
import { rateLimitPolicy } from "./rate-limit/index.ts";
import { roomPolicy } from "./room/index.ts";

export const POLICIES: readonly AnyPolicy[] = [
  ipRestrictionPolicy, // first: a refused address costs nothing else
  jwtPolicy, // authentication first: a JWT, then an API key
  apiKeyPolicy,
  rateLimitPolicy, // limits count only authenticated callers
  roomPolicy, // answers the request itself: last
];
