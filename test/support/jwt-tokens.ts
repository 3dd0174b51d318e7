/**
 * Test-only JWT helpers: tokens an attacker would write by hand, and the client for the test JWKS
 * server. Minting and key pairs, which the benchmarks use too, are in tools/jwt-tokens.ts.
 */
import { base64url, exportSPKI, type JWK, type JWTPayload } from "jose";
import { utf8, type TestKeyPair } from "../../tools/jwt-tokens.ts";

declare module "vitest" {
  // Provided by test/support/jwt-jwks-server-setup.ts (globalSetup of the worker project).
  export interface ProvidedContext { jwksServerPort: number }
}

export const publicPem = (pair: TestKeyPair) => exportSPKI(pair.publicKey);

/** An unsigned token (`alg: none`), as an attacker would write it. */
export function unsecuredToken(claims: JWTPayload, signature = ""): string {
  return `${base64url.encode(JSON.stringify({ alg: "none", typ: "JWT" }))}.${base64url.encode(JSON.stringify(claims))}.${signature}`;
}

/**
 * Signs header and payload exactly as given, with WebCrypto (jose refuses to sign some headers an
 * attacker would send, such as an unknown `crit`). RS256 and ES256 pairs only.
 */
export async function signRaw(pair: TestKeyPair, header: Record<string, unknown>, payload: unknown): Promise<string> {
  const input = `${base64url.encode(JSON.stringify(header))}.${base64url.encode(JSON.stringify(payload))}`;
  const algorithm = pair.alg === "ES256" ? { name: "ECDSA", hash: "SHA-256" } : { name: "RSASSA-PKCS1-v1_5" };
  const signature = await crypto.subtle.sign(algorithm, pair.privateKey, utf8(input));
  return `${input}.${base64url.encode(new Uint8Array(signature))}`;
}

/** A client for the test JWKS server (test/support/jwt-jwks-server.ts). */
export function jwksServer(port: number) {
  const base = `http://127.0.0.1:${port}`;
  return {
    base,
    url: (set: string) => `${base}/sets/${set}/jwks.json`,
    async put(set: string, state: { keys?: JWK[]; down?: boolean; cacheControl?: string; delayMs?: number }): Promise<void> {
      const response = await fetch(`${base}/sets/${set}`, { method: "PUT", body: JSON.stringify(state) });
      await response.arrayBuffer();
    },
    async stats(set: string): Promise<{ fetches: number; requests: number }> {
      return (await fetch(`${base}/sets/${set}/stats`)).json();
    },
  };
}
