/**
 * JWT authorizers: named in the table (`authorizers`), required by a route's
 * `auth: { "authorizer": NAME, "scopes": [...], "claims": {...} }`, with verified claims sent to the
 * origin as `identityHeaders`. The verifier and helpers are exported for capabilities that
 * authenticate outside a route's chain.
 */
import { z } from "zod";
import { headerName } from "../../config/common.ts";
import { NAMES_OF, ORIGIN_NAME } from "../../config/core.ts";
import { definePolicy } from "../../policy.ts";
import { jwtErrors } from "./errors.ts";
import { jwtAuthorizer } from "./policy.ts";
import { ClaimRequirement, JwtAuthorizerSchema, type TokenSource } from "./schema.ts";

export { jwtAuthorizer, verifyRequest, verifierFor, identityHeaderValue, type JwtRoute, type JwtTable } from "./policy.ts";
export { JwtVerifier, MAX_TOKEN_LENGTH, type JwtClaims, type VerifyOptions } from "./verifier.ts";
export { JwtRejection, jwtErrors, type JwtErrorCode, type JwtRejectReason } from "./errors.ts";
export { grantedScopes } from "./requirements.ts";
export { JwtAuthorizerSchema, TokenSource, ClaimRequirement, JWT_ALGORITHMS } from "./schema.ts";

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const names = (v: unknown): string[] => (isObject(v) ? Object.keys(v) : []);

export const jwtPolicy = definePolicy({
  name: "jwt",
  timing: "auth",
  summary: "Verifies a JWT with a named authorizer, checks scopes and claims, and sends verified claims to the origin as identity headers.",
  authFields: {
    authorizer: z.string().optional().describe("Name of a JWT authorizer in `authorizers`."),
    scopes: z.array(z.string().min(1)).optional().describe("Scopes the token must carry (`scope` string or `scp` array); all of them."),
    claims: z.record(z.string(), ClaimRequirement).optional().describe("Claim requirements, all of which must hold."),
    forwardAuthorization: z.boolean().optional().describe("Forward the client's Authorization header to the origin. Default false."),
  },
  routeFields: {
    identityHeaders: z.record(headerName, z.string().min(1)).optional()
      .describe("Request headers set from JWT claims (header -> claim). Gateway-owned on every route: a client's copy never reaches an origin."),
  },
  tableFields: {
    authorizers: z.record(z.string().regex(ORIGIN_NAME), JwtAuthorizerSchema).default({}).describe("Named JWT authorizers."),
  },
  authenticates: (auth) => auth.authorizer !== undefined,
  errors: jwtErrors,
  checkRoute({ table, route, issue }) {
    const auth = isObject(route.auth) ? route.auth : undefined;
    const authorizer = typeof auth?.authorizer === "string" ? auth.authorizer : undefined;
    if (authorizer !== undefined && !NAMES_OF(table.authorizers).has(authorizer)) issue(`unknown authorizer "${authorizer}"`, "auth", "authorizer");
    if (!authorizer && route.identityHeaders !== undefined) issue("identity headers need a JWT authorizer on the route", "identityHeaders");
    const requestSet = isObject(route.requestHeaders) && isObject(route.requestHeaders.set) ? route.requestHeaders.set : {};
    for (const name of names(route.identityHeaders)) {
      if (Object.keys(requestSet).some((set) => set.toLowerCase() === name.toLowerCase()))
        issue(`"${name}" is set from a verified claim; requestHeaders.set may not also set it`, "identityHeaders", name);
    }
    if (!authorizer && (auth?.scopes !== undefined || auth?.claims !== undefined)) issue("scopes and claims need an authorizer", "auth");
  },
  // Every identity header name of the table, so a public route cannot be used to pose as a user.
  originHeaders: (table) => table.routes.flatMap((route) => names(route.identityHeaders)),
  withheld(route, table) {
    if (route.auth === "none" || route.auth.authorizer === undefined) return {};
    const sources: readonly TokenSource[] = table.authorizers[route.auth.authorizer]?.tokenSources ?? [];
    return {
      headers: route.auth.forwardAuthorization ? [] : ["authorization"],
      query: sources.flatMap((source) => ("query" in source ? [source.query] : [])),
    };
  },
  create: (route, table) => jwtAuthorizer(route, table),
});
