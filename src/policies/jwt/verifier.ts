/**
 * One verifier per authorizer, built once at startup. A token passes, in order:
 * 1. at most 8 KiB, and the strict compact pattern `header.payload.signature` of canonical
 *    base64url (refuses JSON serialization, a JWE's five parts, whitespace, padding and
 *    non-canonical final characters before jose sees them: jose itself tolerates some of these);
 * 2. jose's `jwtVerify` with the configured algorithms (so `alg: none` and every algorithm not
 *    listed are refused), a key resolver of our own (header `jwk`, `jku`, `x5u`, `x5c` are never
 *    read, so never fetched), unknown `crit` headers refused;
 * 3. the claims: `exp` required, `nbf` checked, `iss` and `aud` must match, with the configured
 *    clock tolerance (default 30 s).
 * A token that passed is remembered for at most a minute (verified_tokens.ts), so its signature is
 * checked once per isolate rather than on every request.
 */
import { errors, jwtVerify, type JWTPayload, type JWSHeaderParameters } from "jose";
import { invalidToken, JwtRejection, unavailable } from "./errors.ts";
import { logEvent } from "../../errors.ts";
import { remoteJwks, type RemoteJwks, type WaitUntil } from "./remote_jwks.ts";
import type { JwtAlgorithm, JwtAuthorizerConfig } from "./schema.ts";
import { HmacSecret, InlineJwks, PemPublicKey } from "./static_keys.ts";
import { VerifiedTokens } from "./verified_tokens.ts";

export const MAX_TOKEN_LENGTH = 8 * 1024;
// The payload may be empty (it then fails as "not a claims set", after the signature check).
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+$/;

export type JwtClaims = JWTPayload;

/**
 * Canonical base64url: a final group of 2 or 3 characters must leave its unused low bits zero, and
 * a group of 1 character is impossible. Otherwise two spellings decode to the same bytes while
 * the signature covers only one of them (Wycheproof "ModifiedUnusedBitsInPayload").
 */
function canonicalBase64url(segment: string): boolean {
  switch (segment.length % 4) {
    case 1: return false;
    case 2: return /[AQgw]$/.test(segment);
    case 3: return /[AEIMQUYcgkosw048]$/.test(segment);
    default: return true;
  }
}

export interface VerifyOptions {
  /** Where Worker secrets are read from (c.env). */
  env: Record<string, unknown>;
  waitUntil?: WaitUntil;
}

export class JwtVerifier {
  readonly name: string;
  private readonly options: Parameters<typeof jwtVerify>[2];
  private readonly remote: RemoteJwks | undefined;
  private readonly inline: InlineJwks | undefined;
  private readonly pem: PemPublicKey | undefined;
  private readonly secret: HmacSecret | undefined;
  private readonly verified = new VerifiedTokens();
  private readonly toleranceSec: number;

  constructor(name: string, config: JwtAuthorizerConfig) {
    if (config.algorithms.length === 0) throw new TypeError(`authorizer "${name}": algorithms must not be empty`);
    this.name = name;
    this.toleranceSec = config.clockToleranceSec;
    this.options = {
      algorithms: [...config.algorithms],
      issuer: config.issuer,
      audience: config.audience,
      requiredClaims: ["exp"],
      clockTolerance: config.clockToleranceSec,
    };
    if (config.jwksUrl) this.remote = remoteJwks(config.jwksUrl);
    else if (config.jwks) this.inline = new InlineJwks(config.jwks.keys);
    else if (config.publicKey) this.pem = new PemPublicKey(config.publicKey, config.algorithms);
    else if (config.secret) this.secret = new HmacSecret(config.secret, config.secretEncoding);
    else throw new TypeError(`authorizer "${name}" has no key source`);
  }

  /** The remote key set behind this verifier, if any (fetch counts for tests and benchmarks). */
  get jwks(): RemoteJwks | undefined {
    return this.remote;
  }

  /** Verifies a compact JWT and returns its claims; throws a JwtRejection (401/503) otherwise. */
  async verify(token: string, options: VerifyOptions): Promise<JwtClaims> {
    const realm = this.name;
    if (token.length > MAX_TOKEN_LENGTH) throw invalidToken(realm, "token_malformed", "too_long", `The token is longer than ${MAX_TOKEN_LENGTH} bytes.`);
    if (!COMPACT_JWS.test(token) || !token.split(".").every(canonicalBase64url))
      throw invalidToken(realm, "token_malformed", "malformed", "The token is not a compact JWS (header.payload.signature in base64url).");
    const now = Date.now();
    const known = this.verified.get(token, now);
    if (known !== undefined) return known;
    const getKey = (header: JWSHeaderParameters) => this.keyFor(header, options);
    try {
      const { payload } = await jwtVerify(token, getKey, this.options);
      return this.verified.remember(token, payload, now, this.toleranceSec);
    } catch (error) {
      throw this.rejection(error);
    }
  }

  private keyFor(header: JWSHeaderParameters, options: VerifyOptions): Promise<CryptoKey> {
    // jose has already refused an algorithm outside `algorithms` before asking for a key.
    const alg = header.alg as JwtAlgorithm;
    if (this.secret) return this.secret.keyFor(alg, this.name, options.env);
    if (this.pem) return this.pem.keyFor(alg, this.name);
    if (this.inline) return this.inline.keyFor(alg, header.kid, this.name);
    return this.remote!.keyFor(alg, header.kid, this.name, options.waitUntil);
  }

  /** Maps jose's failures to our stable codes; messages name the check, never the token's content. */
  private rejection(error: unknown): JwtRejection {
    const realm = this.name;
    if (error instanceof JwtRejection) return error;
    if (error instanceof errors.JWTExpired) return invalidToken(realm, "token_expired", "expired", "The token has expired.");
    if (error instanceof errors.JWTClaimValidationFailed) {
      if (error.reason === "missing") return invalidToken(realm, "token_invalid", "missing_claim", `The token lacks the required "${error.claim}" claim.`);
      switch (error.claim) {
        case "nbf": return error.reason === "check_failed"
          ? invalidToken(realm, "token_not_yet_valid", "not_yet_valid", "The token is not valid yet.")
          : invalidToken(realm, "token_invalid", "bad_claim", `The token's "nbf" claim is not a number.`);
        case "iss": return invalidToken(realm, "token_invalid", "issuer", "The token's issuer is not accepted.");
        case "aud": return invalidToken(realm, "token_invalid", "audience", "The token's audience is not accepted.");
        default: return invalidToken(realm, "token_invalid", "bad_claim", `The token's "${error.claim}" claim is invalid.`);
      }
    }
    if (error instanceof errors.JOSEAlgNotAllowed) return invalidToken(realm, "token_invalid", "alg_not_allowed", "The token's algorithm is not accepted.");
    if (error instanceof errors.JWSSignatureVerificationFailed) return invalidToken(realm, "token_invalid", "bad_signature", "The token's signature is invalid.");
    if (error instanceof errors.JWTInvalid) return invalidToken(realm, "token_invalid", "not_claims_set", "The token's payload is not a valid JWT claims set.");
    if (error instanceof errors.JOSENotSupported) return invalidToken(realm, "token_invalid", "unsupported", "The token uses an unsupported feature.");
    if (error instanceof errors.JWSInvalid || error instanceof errors.JOSEError) return invalidToken(realm, "token_malformed", "malformed", "The token is malformed.");
    // A CryptoKey that jose refuses for the algorithm (TypeError) or a failing import: the key does
    // not fit this token. Never a 500, never the error text.
    if (error instanceof TypeError) return invalidToken(realm, "token_invalid", "no_key", "No known key can verify this token.");
    logEvent("error", "jwt_verify_failed", { authorizer: realm, error: error instanceof Error ? error.name : typeof error });
    return unavailable("auth_unavailable", "unavailable", "The token could not be verified right now.", 5);
  }
}
