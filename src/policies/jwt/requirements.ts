/**
 * What a route asks of a verified token: scopes (all of them, from a space-separated `scope` claim
 * or an `scp` array or string) and claim requirements (equality, `contains`, `in`), combined with
 * AND. Claims are looked up by their exact top-level name (namespaced claims such as
 * `https://example.com/roles` are names, not paths).
 */
import { insufficient } from "./errors.ts";
import type { ClaimRequirement } from "./schema.ts";
import type { JwtClaims } from "./verifier.ts";

// RFC 6749 3.3 scope-token: printable ASCII except space, '"' and '\'.
export const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

export interface RouteRequirements {
  scopes: readonly string[];
  claims: readonly [string, ClaimRequirement][];
}

export function compileRequirements(routeId: string, scopes: readonly string[] = [], claims: Record<string, ClaimRequirement> = {}): RouteRequirements {
  for (const scope of scopes) {
    if (!SCOPE_TOKEN.test(scope)) throw new TypeError(`route "${routeId}": scope "${scope}" is not a valid scope token`);
  }
  return { scopes: [...new Set(scopes)], claims: Object.entries(claims) };
}

/** Throws a 403 JwtRejection when the claims do not meet the route's requirements. */
export function checkRequirements(claims: JwtClaims, requirements: RouteRequirements, realm: string): void {
  if (requirements.scopes.length > 0) {
    const granted = grantedScopes(claims);
    if (!requirements.scopes.every((s) => granted.has(s)))
      throw insufficient(realm, "insufficient_scope", "scope", "The token lacks a scope this route requires.", requirements.scopes);
  }
  for (const [name, requirement] of requirements.claims) {
    const value = Object.hasOwn(claims, name) ? claims[name] : undefined;
    if (!meets(value, requirement))
      throw insufficient(realm, "claim_mismatch", "claim", `The token's "${name}" claim does not meet this route's requirement.`, requirements.scopes);
  }
}

export function grantedScopes(claims: JwtClaims): Set<string> {
  const granted = new Set<string>();
  for (const value of [claims.scope, claims.scp]) {
    if (typeof value === "string") for (const s of value.split(" ")) { if (s) granted.add(s); }
    else if (Array.isArray(value)) for (const s of value) { if (typeof s === "string") granted.add(s); }
  }
  return granted;
}

type Scalar = string | number | boolean;

function meets(value: unknown, requirement: ClaimRequirement): boolean {
  if (typeof requirement !== "object") return value === requirement;
  if ("in" in requirement) return requirement.in.some((candidate: Scalar) => candidate === value);
  const wanted = requirement.contains;
  if (Array.isArray(value)) return value.some((member) => member === wanted);
  if (typeof value === "string" && typeof wanted === "string") return value.split(" ").includes(wanted);
  return false;
}
