/**
 * JWT authorizers: named in the table (`authorizers`), required by a route's
 * `auth: { "authorizer": NAME, "scopes": [...], "claims": {...} }`, with verified claims sent to the
 * origin as `identityHeaders`. The verifier and helpers are exported for capabilities that
 * authenticate outside a route's chain.
 */
import { z } from "zod";
import { headerName } from "../../config/common.ts";
import { isObject, NAMES_OF, ORIGIN_NAME } from "../../config/core.ts";
import { definePolicy } from "../../policy.ts";
import { jwtErrors } from "./errors.ts";
import { jwtAuthorizer, RESERVED_IDENTITY } from "./policy.ts";
import { SCOPE_TOKEN } from "./requirements.ts";
import { ClaimRequirement, JwtAuthorizerSchema, type TokenSource } from "./schema.ts";

export { jwtAuthorizer, verifyRequest, verifierFor, identityHeaderValue, type JwtRoute, type JwtTable } from "./policy.ts";
export { JwtVerifier, MAX_TOKEN_LENGTH, type JwtClaims, type VerifyOptions } from "./verifier.ts";
export { JwtRejection, jwtErrors, type JwtErrorCode, type JwtRejectReason } from "./errors.ts";
export { grantedScopes } from "./requirements.ts";
export { JwtAuthorizerSchema, TokenSource, ClaimRequirement, JWT_ALGORITHMS } from "./schema.ts";

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
    authorizers: z.record(z.string().regex(ORIGIN_NAME, "authorizer names are letters, digits, _ and - (up to 64)"), JwtAuthorizerSchema).default({}).describe("Named JWT authorizers."),
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
    // What the middleware factory would refuse at startup, said here with its JSON path instead.
    if (Array.isArray(auth?.scopes)) {
      auth.scopes.forEach((scope, i) => {
        if (typeof scope === "string" && scope !== "" && !SCOPE_TOKEN.test(scope))
          issue(`"${scope}" is not a scope token (printable ASCII without spaces, " or \\)`, "auth", "scopes", i);
      });
    }
    const config = authorizer !== undefined && isObject(table.authorizers) && Object.hasOwn(table.authorizers, authorizer) ? table.authorizers[authorizer] : undefined;
    const sources = isObject(config) && Array.isArray(config.tokenSources) ? config.tokenSources : [];
    const tokenHeaders = sources.flatMap((s) => (isObject(s) && typeof s.header === "string" ? [s.header.toLowerCase()] : []));
    for (const name of names(route.identityHeaders)) {
      const lower = name.toLowerCase();
      if (RESERVED_IDENTITY.has(lower)) issue(`"${name}" cannot be an identity header: the gateway owns it or it carries credentials`, "identityHeaders", name);
      else if (tokenHeaders.includes(lower)) issue(`"${name}" cannot be an identity header: the authorizer reads the token from it`, "identityHeaders", name);
    }
  },
  // An HMAC secret each authorizer's routes need; without it they answer 503 auth_secret_missing.
  secrets(table) {
    const routesBySecret = new Map<string, string[]>();
    for (const [name, authorizer] of Object.entries(table.authorizers)) {
      if (!authorizer.secret) continue;
      const routes = table.routes.filter((route) => route.auth !== "none" && route.auth.authorizer === name).map((route) => route.id);
      if (routes.length > 0) routesBySecret.set(authorizer.secret.env, [...(routesBySecret.get(authorizer.secret.env) ?? []), ...routes]);
    }
    return [...routesBySecret].map(([name, routes]) => ({
      name,
      kind: "JWT secret",
      consequence: `route${routes.length === 1 ? "" : "s"} ${routes.join(", ")} answer${routes.length === 1 ? "s" : ""} 503`,
    }));
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
