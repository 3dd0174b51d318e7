/**
 * The JWT authorizer's refusals. Each carries a stable `code` for the JSON body and, for 401/403,
 * an RFC 6750 `WWW-Authenticate` challenge. `reason` is finer-grained and internal (tests, logs);
 * nothing here ever contains token content.
 */
import { defineErrors, GatewayError } from "../../errors.ts";

export type JwtErrorCode =
  | "token_missing" | "token_malformed" | "token_invalid" | "token_expired" | "token_not_yet_valid"
  | "insufficient_scope" | "claim_mismatch"
  | "jwks_unavailable" | "auth_secret_missing" | "auth_secret_invalid" | "auth_key_invalid" | "auth_unavailable";

/** Why a token was refused, one step finer than the code. */
export type JwtRejectReason =
  | "missing" | "duplicate" | "too_long" | "malformed" | "unsupported"
  | "alg_not_allowed" | "no_key" | "bad_signature"
  | "not_claims_set" | "missing_claim" | "bad_claim" | "issuer" | "audience" | "expired" | "not_yet_valid"
  | "scope" | "claim" | "unavailable" | "misconfigured";

/** Reasons that can only arise after the signature was verified (claims checks). */
export const AFTER_SIGNATURE: ReadonlySet<JwtRejectReason> = new Set(["not_claims_set", "missing_claim", "bad_claim", "issuer", "audience", "expired", "not_yet_valid", "scope", "claim"]);

// insufficient_scope is the core's (src/errors.ts), shared with the api-key policy; JwtRejection
// below throws it by code like the rest, with this policy's WWW-Authenticate challenge.
export const jwtErrors = defineErrors("jwt", {
  token_missing: { status: 401, meaning: "The route needs a bearer token and the request has none (RFC 6750: no error code in the challenge)." },
  token_malformed: { status: 401, meaning: "The token is not a well-formed compact JWS, is too long, or was sent twice." },
  token_invalid: { status: 401, meaning: "The token's signature, algorithm, key, issuer, audience or claims do not verify." },
  token_expired: { status: 401, meaning: "The token's `exp` has passed (beyond the clock tolerance)." },
  token_not_yet_valid: { status: 401, meaning: "The token's `nbf` is in the future (beyond the clock tolerance)." },
  claim_mismatch: { status: 403, meaning: "The token is valid but a claim the route requires has another value." },
  jwks_unavailable: { status: 503, meaning: "The authorizer's JWKS cannot be fetched and no cached key matches; `Retry-After` says when to retry." },
  auth_secret_missing: { status: 503, meaning: "The Worker secret holding the authorizer's HMAC key is not set." },
  auth_secret_invalid: { status: 503, meaning: "The Worker secret holding the authorizer's HMAC key cannot be decoded." },
  auth_key_invalid: { status: 503, meaning: "The authorizer's configured public key cannot be imported." },
  auth_unavailable: { status: 503, meaning: "Tokens cannot be verified right now for an unexpected reason; the operator's log says why." },
});

export class JwtRejection extends GatewayError {
  readonly reason: JwtRejectReason;
  constructor(code: JwtErrorCode, reason: JwtRejectReason, message: string, headers: Record<string, string> = {}) {
    super(code, message, headers);
    this.name = "JwtRejection";
    this.reason = reason;
  }
}

// Challenge parameters are quoted strings; our messages and realms are plain ASCII without quotes.
const quoted = (s: string) => `"${s.replace(/["\\\r\n]/g, "")}"`;

/** 401 without an error code: RFC 6750 3.1 says a request with no credentials gets none. */
export function tokenMissing(realm: string): JwtRejection {
  return new JwtRejection("token_missing", "missing", "A bearer token is required.", { "www-authenticate": `Bearer realm=${quoted(realm)}` });
}

export function invalidToken(realm: string, code: JwtErrorCode, reason: JwtRejectReason, message: string): JwtRejection {
  return new JwtRejection(code, reason, message, {
    "www-authenticate": `Bearer realm=${quoted(realm)}, error="invalid_token", error_description=${quoted(message)}`,
  });
}

export function insufficient(realm: string, code: "insufficient_scope" | "claim_mismatch", reason: "scope" | "claim", message: string, scopes: readonly string[]): JwtRejection {
  const scope = scopes.length > 0 ? `, scope=${quoted(scopes.join(" "))}` : "";
  return new JwtRejection(code, reason, message, {
    "www-authenticate": `Bearer realm=${quoted(realm)}, error="insufficient_scope", error_description=${quoted(message)}${scope}`,
  });
}

/** The gateway cannot verify tokens right now (keys unreachable, secret absent): fail closed. */
export function unavailable(code: JwtErrorCode, reason: "unavailable" | "misconfigured", message: string, retryAfterSec: number): JwtRejection {
  return new JwtRejection(code, reason, message, { "retry-after": String(Math.max(1, Math.ceil(retryAfterSec))) });
}
