/**
 * The JWT authorizer policy for a route: find the token, verify it, check the route's scopes and
 * claims, put the claims on the context (`c.get("jwt")`, read by rate limits `jwt:<claim>` and
 * rooms), and shape what the origin sees:
 * - identity headers (`identityHeaders: { header: claim }`) are set from the verified claims; a
 *   client-sent header of any of those names is always removed, also when the claim is absent
 *   (the route compiler puts those names, and `authorization` unless the route forwards it, on the
 *   route's static remove list: src/router/compile.ts);
 * - the credential is stripped unless the route sets `auth.forwardAuthorization: true`: other
 *   header sources than Authorization, the token cookie, the token's Sec-WebSocket-Protocol entry.
 *   (A token in a query parameter is removed from the query string sent to the origin.)
 */
import type { JWTPayload } from "jose";
import { GATEWAY_OWNED_REQUEST_HEADERS } from "../../config/core.ts";
import { waitUntilOf, type GatewayContext, type GatewayMiddleware } from "../../context.ts";
import { setOriginHeader, withholdClientHeader } from "../../upstream/index.ts";
import { tokenMissing } from "./errors.ts";
import { checkRequirements, compileRequirements } from "./requirements.ts";
import type { ClaimRequirement, JwtAuthorizerConfig, TokenSource } from "./schema.ts";
import { cookieHeaderWithout, DEFAULT_TOKEN_SOURCES, findToken, protocolEntries } from "./token_source.ts";
import { JwtVerifier, type JwtClaims, type VerifyOptions } from "./verifier.ts";

declare module "hono" {
  interface ContextVariableMap {
    /** Claims of the verified JWT (set by the JWT authorizer; read by rate limits and rooms). */
    jwt: JWTPayload | undefined;
  }
}

/** What the authorizer reads of a route table: its named authorizers. */
export interface JwtTable { authorizers: Record<string, JwtAuthorizerConfig> }
/** What the authorizer reads of a route. */
export interface JwtRoute {
  id: string;
  auth: "none" | { authorizer?: string; scopes?: string[]; claims?: Record<string, ClaimRequirement>; forwardAuthorization?: boolean };
  identityHeaders?: Record<string, string>;
}

// Verifiers are built once per authorizer per route table (at startup), shared by its routes.
const verifiersByTable = new WeakMap<JwtTable, Map<string, JwtVerifier>>();

/** The verifier of a named authorizer of this table; throws TypeError for an unknown name. */
export function verifierFor(table: JwtTable, name: string): JwtVerifier {
  let verifiers = verifiersByTable.get(table);
  if (!verifiers) {
    verifiers = new Map();
    verifiersByTable.set(table, verifiers);
  }
  let verifier = verifiers.get(name);
  if (!verifier) {
    const config = Object.hasOwn(table.authorizers, name) ? table.authorizers[name] : undefined;
    if (!config) throw new TypeError(`unknown authorizer "${name}"`);
    verifier = new JwtVerifier(name, config);
    verifiers.set(name, verifier);
  }
  return verifier;
}

const MAX_IDENTITY_VALUE = 4096;
const VISIBLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * A claim as a header value: strings of visible ASCII as they are; numbers and booleans as text;
 * arrays and objects as JSON with non-ASCII escaped. A string with other characters (which a
 * header cannot carry unambiguously) or an over-long value is not sent: the header is absent.
 */
export function identityHeaderValue(value: unknown): string | undefined {
  let text: string | undefined;
  if (typeof value === "string") text = VISIBLE_ASCII.test(value) ? value : undefined;
  else if (typeof value === "number" || typeof value === "boolean") text = String(value);
  else if (typeof value === "object" && value !== null)
    text = JSON.stringify(value).replace(/[\u007f-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`);
  return text !== undefined && text.length <= MAX_IDENTITY_VALUE ? text : undefined;
}

/**
 * Verifies the request's token with a named authorizer (its token sources, keys and claim checks)
 * and returns the claims. For capabilities that authenticate outside a route's policy chain, such
 * as WebSocket rooms. Throws the same 401/503 GatewayErrors the policy does.
 */
export async function verifyRequest(c: GatewayContext, table: JwtTable, authorizer: string): Promise<JwtClaims> {
  const verifier = verifierFor(table, authorizer);
  const sources = table.authorizers[authorizer]!.tokenSources ?? DEFAULT_TOKEN_SOURCES;
  const found = findToken(c.req.raw, sources, authorizer);
  if (!found) throw tokenMissing(authorizer);
  return verifier.verify(found.token, { env: c.env, waitUntil: waitUntilOf(c) });
}

/** Headers an identity header may not be: gateway-owned ones and the credentials themselves. */
export const RESERVED_IDENTITY = new Set<string>([...GATEWAY_OWNED_REQUEST_HEADERS, "authorization", "cookie", "sec-websocket-protocol"]);

/** The policy for a route with `auth.authorizer`, or undefined when the route has none. */
export function jwtAuthorizer(route: JwtRoute, table: JwtTable): GatewayMiddleware | undefined {
  const auth = route.auth;
  if (auth === "none" || auth.authorizer === undefined) return undefined;
  const realm = auth.authorizer;
  const verifier = verifierFor(table, realm);
  const sources: readonly TokenSource[] = table.authorizers[realm]!.tokenSources ?? DEFAULT_TOKEN_SOURCES;
  const requirements = compileRequirements(route.id, auth.scopes, auth.claims);
  const identity = Object.entries(route.identityHeaders ?? {}).map(([header, claim]) => [header.toLowerCase(), claim] as const);
  for (const [header] of identity) {
    if (RESERVED_IDENTITY.has(header) || sources.some((s) => "header" in s && s.header === header))
      throw new TypeError(`route "${route.id}": "${header}" cannot be an identity header`);
  }
  const forwardCredential = auth.forwardAuthorization === true;
  // Token headers the route compiler does not already remove (it knows `authorization` only).
  const extraTokenHeaders = forwardCredential ? [] : sources.flatMap((s) => ("header" in s && s.header !== "authorization" ? [s.header] : []));
  const cookieSource = sources.find((s): s is { cookie: string } => "cookie" in s);
  const protocolSource = sources.find((s): s is { webSocketProtocol: string } => "webSocketProtocol" in s);

  return async function jwtAuthorize(c, next) {
    const found = findToken(c.req.raw, sources, realm);
    if (!found) throw tokenMissing(realm);
    const claims = await verifier.verify(found.token, { env: c.env, waitUntil: waitUntilOf(c) });
    checkRequirements(claims, requirements, realm);
    c.set("jwt", claims);
    if (typeof claims.sub === "string") c.set("subject", claims.sub); // for the access log (core logging.sub)

    for (const header of extraTokenHeaders) withholdClientHeader(c, header);
    for (const [header, claim] of identity) {
      const value = identityHeaderValue(Object.hasOwn(claims, claim) ? claims[claim] : undefined);
      if (value !== undefined) setOriginHeader(c, header, value);
    }
    if (!forwardCredential) withholdTokenCarriers(c);
    await next();
  };

  /** The token travels in a shared header: forward the rest of it, without the token. */
  function withholdTokenCarriers(c: GatewayContext): void {
    if (cookieSource) {
      const cookie = c.req.raw.headers.get("cookie");
      const rest = cookie === null ? null : cookieHeaderWithout(cookie, cookieSource.cookie);
      if (rest === undefined) withholdClientHeader(c, "cookie");
      else if (rest !== null) setOriginHeader(c, "cookie", rest);
    }
    if (protocolSource) {
      const protocols = c.req.raw.headers.get("sec-websocket-protocol");
      const rest = protocolEntries(protocols).filter((p) => !p.startsWith(protocolSource.webSocketProtocol));
      if (protocols !== null && rest.length === 0) withholdClientHeader(c, "sec-websocket-protocol");
      else if (protocols !== null) setOriginHeader(c, "sec-websocket-protocol", rest.join(", "));
    }
  }
}
