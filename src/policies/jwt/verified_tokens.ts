/**
 * Tokens this isolate has verified recently, by their exact compact string. A client sends the
 * same token on every request for its lifetime, so the signature check (jose plus an async
 * WebCrypto call: about 30-40 us of CPU per request on workerd for HS256, bench/FINDINGS.md) is
 * done once per isolate per token instead of once per request.
 *
 * Safe because the key is the whole token, signature included: only a byte-identical copy of a
 * token that passed every check can hit. An entry never outlives what the full check would accept
 * (`exp` plus the clock tolerance) nor `MAX_AGE_MS`, so a key removed from a JWKS (or a secret
 * rotated in place) stops being honoured within that bound. Route requirements (scopes, claims)
 * are not cached: they are checked on every request against the cached claims.
 */
import type { JWTPayload } from "jose";

export const MAX_AGE_MS = 60_000;
export const MAX_ENTRIES = 2_000;

interface Entry { claims: Readonly<JWTPayload>; until: number }

export class VerifiedTokens {
  readonly #entries = new Map<string, Entry>();
  readonly #maxEntries: number;
  readonly #maxAgeMs: number;

  constructor(maxEntries = MAX_ENTRIES, maxAgeMs = MAX_AGE_MS) {
    this.#maxEntries = maxEntries;
    this.#maxAgeMs = maxAgeMs;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The claims of a token verified before and still acceptable at `now`, else undefined. */
  get(token: string, now: number): Readonly<JWTPayload> | undefined {
    const entry = this.#entries.get(token);
    if (entry === undefined) return undefined;
    if (entry.until <= now) {
      this.#entries.delete(token);
      return undefined;
    }
    return entry.claims;
  }

  /** Remembers a token that just passed every check; `toleranceSec` is the authorizer's clock tolerance. */
  remember(token: string, claims: JWTPayload, now: number, toleranceSec: number): Readonly<JWTPayload> {
    const frozen = Object.freeze(claims);
    const expMs = typeof claims.exp === "number" ? (claims.exp + toleranceSec) * 1000 : now;
    const until = Math.min(expMs, now + this.#maxAgeMs);
    if (until <= now) return frozen;
    if (this.#entries.size >= this.#maxEntries) {
      // Oldest first: Map keeps insertion order.
      this.#entries.delete(this.#entries.keys().next().value!);
    }
    this.#entries.set(token, { claims: frozen, until });
    return frozen;
  }
}
