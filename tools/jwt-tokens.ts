/**
 * Minting JWTs and key pairs, shared by the tests and the benchmarks. Runs in workerd and in Node
 * (only jose and WebCrypto). Test-only helpers (hand-made attacker tokens, the test JWKS server's
 * client) are in test/support/jwt-tokens.ts.
 */
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTHeaderParameters, type JWTPayload } from "jose";

export const ISSUER = "https://auth.test/";
export const AUDIENCE = "api";

export interface TestKeyPair {
  alg: string;
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** The public JWK with kid, alg and use, as an identity provider publishes it. */
  publicJwk: JWK;
}

export async function testKeyPair(alg: "RS256" | "ES256" | "PS256" | "EdDSA", kid: string): Promise<TestKeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
  return { alg, kid, privateKey: privateKey as CryptoKey, publicKey: publicKey as CryptoKey, publicJwk };
}

export interface MintOptions {
  /** Claims merged over the defaults (iss, aud, sub, iat, exp in 5 minutes). */
  claims?: JWTPayload;
  /** Default claims to leave out, e.g. ["exp"]. */
  omit?: string[];
  /** Protected header members merged over { alg, kid }. */
  header?: Partial<JWTHeaderParameters> & Record<string, unknown>;
  /** Seconds since the epoch to mint at (default: now). */
  now?: number;
}

export const epochNow = () => Math.floor(Date.now() / 1000);

export async function mint(key: CryptoKey | Uint8Array, alg: string, kid: string | undefined, options: MintOptions = {}): Promise<string> {
  const now = options.now ?? epochNow();
  const claims: JWTPayload = { iss: ISSUER, aud: AUDIENCE, sub: "user-1", iat: now, exp: now + 300, ...options.claims };
  for (const name of options.omit ?? []) delete claims[name];
  const header = { alg, ...(kid === undefined ? {} : { kid }), ...options.header } as JWTHeaderParameters;
  return new SignJWT(claims).setProtectedHeader(header).sign(key);
}

export const mintWith = (pair: TestKeyPair, options: MintOptions = {}) => mint(pair.privateKey, pair.alg, pair.kid, options);

export const utf8 = (s: string) => new TextEncoder().encode(s);

/**
 * What a throughput benchmark of JWT routes needs: authorizers, routes (HS256 with a Worker secret,
 * ES256 with a remote JWKS), long-lived tokens, and the JWKS document to serve at `jwksUrl`.
 * Bind `secret` as the Worker secret BENCH_JWT_SECRET. Compare against a route with auth "none"
 * on the same origin.
 */
export async function benchJwtFixture(options: { secret: string; jwksUrl: string; origin: string }) {
  const es = await testKeyPair("ES256", "bench-es256");
  const exp = epochNow() + 24 * 3600;
  return {
    authorizers: {
      "bench-hs256": { type: "jwt", issuer: ISSUER, audience: AUDIENCE, algorithms: ["HS256"], secret: { env: "BENCH_JWT_SECRET" } },
      "bench-es256": { type: "jwt", issuer: ISSUER, audience: AUDIENCE, algorithms: ["ES256"], jwksUrl: options.jwksUrl },
    },
    routes: [
      { id: "bench.hs256", path: "/bench/hs256/*", origin: options.origin, auth: { authorizer: "bench-hs256", scopes: ["bench"] }, identityHeaders: { "x-user-id": "sub" } },
      { id: "bench.es256", path: "/bench/es256/*", origin: options.origin, auth: { authorizer: "bench-es256", scopes: ["bench"] }, identityHeaders: { "x-user-id": "sub" } },
    ],
    tokens: {
      hs256: await mint(utf8(options.secret), "HS256", undefined, { claims: { exp, scope: "bench" } }),
      es256: await mintWith(es, { claims: { exp, scope: "bench" } }),
    },
    jwks: { keys: [es.publicJwk] },
    /** Mints further tokens for the fixture's authorizers (distinct tokens: no verified-token cache hits). */
    mintHs256: (claims: JWTPayload) => mint(utf8(options.secret), "HS256", undefined, { claims: { exp, scope: "bench", ...claims } }),
    mintEs256: (claims: JWTPayload) => mintWith(es, { claims: { exp, scope: "bench", ...claims } }),
  };
}
