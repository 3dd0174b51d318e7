/**
 * Key sources that need no fetching: an inline JWKS, a PEM public key, or an HMAC secret read from
 * a Worker secret. Every CryptoKey is imported on first use and kept for the life of the isolate.
 */
import { importSPKI } from "jose";
import type { SecretRef } from "../../config/common.ts";
import { cryptoKeyFor, parseKeySet, selectKey, type KeyCandidate } from "./keys.ts";
import { invalidToken, unavailable } from "./errors.ts";
import { logEvent } from "../../errors.ts";
import type { JwtAlgorithm } from "./schema.ts";

export class InlineJwks {
  private readonly keys: KeyCandidate[];
  constructor(keys: unknown[]) {
    this.keys = parseKeySet(keys);
    if (this.keys.length === 0) throw new TypeError("the inline JWKS has no usable public signing key");
  }

  async keyFor(alg: JwtAlgorithm, kid: unknown, realm: string): Promise<CryptoKey> {
    const selection = selectKey(this.keys, alg, kid);
    if (!selection.key) {
      throw invalidToken(realm, "token_invalid", "no_key", selection.why === "ambiguous"
        ? "The token names no key id and several keys could verify it."
        : "No known key can verify this token.");
    }
    return cryptoKeyFor(selection.key, alg);
  }
}

export class PemPublicKey {
  private readonly pem: string;
  private readonly algorithms: readonly JwtAlgorithm[];
  /** Per algorithm: the key, or null when this PEM cannot serve that algorithm. */
  private imported: Map<string, CryptoKey | null> | undefined;

  constructor(pem: string, algorithms: readonly JwtAlgorithm[]) {
    this.pem = pem;
    this.algorithms = algorithms;
  }

  async keyFor(alg: JwtAlgorithm, realm: string): Promise<CryptoKey> {
    if (!this.imported) {
      // Import for every configured algorithm once: a PEM that fits none is a configuration error
      // (503), a token whose algorithm the key does not fit is the token's problem (401).
      const imported = new Map<string, CryptoKey | null>();
      await Promise.all(this.algorithms.map(async (a) => {
        imported.set(a, await importSPKI(this.pem, a, { extractable: false }).then((k) => k as CryptoKey, () => null));
      }));
      this.imported = imported;
    }
    const usable = [...this.imported.values()].some((k) => k !== null);
    if (!usable) {
      logEvent("error", "jwt_public_key_invalid", { authorizer: realm });
      throw unavailable("auth_key_invalid", "misconfigured", "The gateway's public key for this authorizer is not usable.", 60);
    }
    const key = this.imported.get(alg);
    if (!key) throw invalidToken(realm, "token_invalid", "no_key", "No known key can verify this token.");
    return key;
  }
}

const HMAC_HASH: Record<string, { hash: string; minBytes: number }> = {
  HS256: { hash: "SHA-256", minBytes: 32 },
  HS384: { hash: "SHA-384", minBytes: 48 },
  HS512: { hash: "SHA-512", minBytes: 64 },
};

export class HmacSecret {
  private readonly ref: SecretRef;
  private readonly encoding: "utf8" | "base64" | "base64url";
  /** The secret text these keys came from: a changed secret is imported again. */
  private cached: { text: string; bytes: Uint8Array | null; keys: Map<string, CryptoKey> } | undefined;
  private reported = false;

  constructor(ref: SecretRef, encoding: "utf8" | "base64" | "base64url" = "utf8") {
    this.ref = ref;
    this.encoding = encoding;
  }

  async keyFor(alg: JwtAlgorithm, realm: string, env: Record<string, unknown>): Promise<CryptoKey> {
    const text = env[this.ref.env];
    if (typeof text !== "string" || text === "") {
      this.report(realm, "jwt_secret_missing");
      throw unavailable("auth_secret_missing", "misconfigured", "The gateway's secret for this authorizer is not configured.", 60);
    }
    if (this.cached?.text !== text) this.cached = { text, bytes: decodeSecret(text, this.encoding), keys: new Map() };
    const { bytes, keys } = this.cached;
    const params = HMAC_HASH[alg];
    // RFC 7518 3.2: the key must be at least as long as the hash output.
    if (!params || !bytes || bytes.length < params.minBytes) {
      this.report(realm, "jwt_secret_invalid");
      throw unavailable("auth_secret_invalid", "misconfigured", "The gateway's secret for this authorizer is not usable.", 60);
    }
    let key = keys.get(alg);
    if (!key) {
      key = await crypto.subtle.importKey("raw", bytes, { name: "HMAC", hash: params.hash }, false, ["verify"]);
      keys.set(alg, key);
    }
    return key;
  }

  /** Tells the operator once per isolate, naming the secret (never its value). */
  private report(realm: string, event: string) {
    if (this.reported) return;
    this.reported = true;
    logEvent("error", event, { authorizer: realm, secret: this.ref.env });
  }
}

function decodeSecret(text: string, encoding: "utf8" | "base64" | "base64url"): Uint8Array | null {
  if (encoding === "utf8") return new TextEncoder().encode(text);
  const normalized = encoding === "base64url" ? text.replace(/-/g, "+").replace(/_/g, "/") : text;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(normalized.trim())) return null;
  try {
    const binary = atob(normalized.trim());
    return Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
  } catch {
    return null;
  }
}
