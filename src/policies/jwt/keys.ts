/**
 * Public keys from a JWKS (inline or remote): which key may verify which token, and importing each
 * key once per algorithm. The rules follow jose's local key set, stated here because the gateway
 * owns the cache: the key type must fit the algorithm (an EC key's curve too), a `kid` in the token
 * must equal the key's, and a key's own `alg`, `use` and `key_ops` must allow verification with
 * that algorithm. Header members that carry keys (`jwk`, `jku`, `x5u`, `x5c`) are never read.
 */
import { importJWK, type JWK } from "jose";
import type { JwtAlgorithm } from "./schema.ts";

/** One usable public key of a set, with the CryptoKeys imported from it so far (one per alg). */
export interface KeyCandidate {
  kid: string | undefined;
  jwk: JWK;
  /** Stable identity of the key material: lets a refreshed set keep keys already imported. */
  fingerprint: string;
  imported: Map<string, CryptoKey>;
}

const PUBLIC_MEMBERS: Record<string, readonly string[]> = {
  RSA: ["kty", "n", "e"],
  EC: ["kty", "crv", "x", "y"],
  OKP: ["kty", "crv", "x"],
};
const MAX_KID_LENGTH = 1024;

/**
 * Turns a JWKS document's keys into candidates. Keys the gateway cannot use for signatures
 * (symmetric, encryption-only, unknown types) are dropped; private members are never kept.
 */
export function parseKeySet(keys: unknown[], previous: readonly KeyCandidate[] = []): KeyCandidate[] {
  const known = new Map(previous.map((k) => [k.fingerprint, k.imported]));
  const out: KeyCandidate[] = [];
  for (const key of keys) {
    if (typeof key !== "object" || key === null || Array.isArray(key)) continue;
    const raw = key as Record<string, unknown>;
    const kty = raw.kty;
    if (typeof kty !== "string" || !Object.hasOwn(PUBLIC_MEMBERS, kty)) continue;
    if (raw.use !== undefined && raw.use !== "sig") continue;
    if (raw.key_ops !== undefined && !(Array.isArray(raw.key_ops) && raw.key_ops.includes("verify"))) continue;
    if (raw.kid !== undefined && (typeof raw.kid !== "string" || raw.kid.length > MAX_KID_LENGTH)) continue;
    const jwk: Record<string, unknown> = {};
    let complete = true;
    for (const member of PUBLIC_MEMBERS[kty]!) {
      if (typeof raw[member] !== "string") complete = false;
      jwk[member] = raw[member];
    }
    if (!complete) continue;
    if (typeof raw.alg === "string") jwk.alg = raw.alg;
    const fingerprint = JSON.stringify([raw.kid ?? null, jwk]);
    out.push({ kid: raw.kid as string | undefined, jwk: jwk as JWK, fingerprint, imported: known.get(fingerprint) ?? new Map() });
  }
  return out;
}

function fits(jwk: JWK, alg: string): boolean {
  if (jwk.alg !== undefined && jwk.alg !== alg) return false;
  switch (alg) {
    case "RS256": case "RS384": case "RS512": case "PS256": case "PS384": case "PS512": return jwk.kty === "RSA";
    case "ES256": return jwk.kty === "EC" && jwk.crv === "P-256";
    case "ES384": return jwk.kty === "EC" && jwk.crv === "P-384";
    case "ES512": return jwk.kty === "EC" && jwk.crv === "P-521";
    case "EdDSA": case "Ed25519": return jwk.kty === "OKP" && jwk.crv === "Ed25519";
    default: return false;
  }
}

export type Selection = { key: KeyCandidate } | { key: undefined; why: "no_match" | "ambiguous" };

/** The one key that may verify a token with this header, if any. */
export function selectKey(candidates: readonly KeyCandidate[], alg: string, kid: unknown): Selection {
  if (kid !== undefined && (typeof kid !== "string" || kid.length > MAX_KID_LENGTH)) return { key: undefined, why: "no_match" };
  let found: KeyCandidate | undefined;
  for (const candidate of candidates) {
    if (kid !== undefined && candidate.kid !== kid) continue;
    if (!fits(candidate.jwk, alg)) continue;
    // A token without a kid is only acceptable when exactly one key could have signed it.
    if (found) return { key: undefined, why: "ambiguous" };
    found = candidate;
  }
  return found ? { key: found } : { key: undefined, why: "no_match" };
}

/** Imports (once) the CryptoKey for verifying `alg` with this candidate. */
export async function cryptoKeyFor(candidate: KeyCandidate, alg: JwtAlgorithm | string): Promise<CryptoKey> {
  const cached = candidate.imported.get(alg);
  if (cached) return cached;
  const key = (await importJWK({ ...candidate.jwk, alg }, alg, { extractable: false })) as CryptoKey;
  // Plain data in the isolate: concurrent first uses may both import; the last one wins, harmlessly.
  candidate.imported.set(alg, key);
  return key;
}
