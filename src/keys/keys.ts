/**
 * API key material. A key is `gw_` + base64url(32 random bytes) (256 bits): too much entropy to
 * guess, so a plain SHA-256 of it is a safe storage form (no salt or slow hash needed, unlike
 * passwords) and lookups stay one hash + one indexed read. The key itself exists only in the
 * create/rotate response; storage, caches and logs only ever see the hash.
 */

export const KEY_PREFIX = "gw_";
/** The exact shape of a key; anything else is refused before any lookup. */
export const KEY_PATTERN = /^gw_[A-Za-z0-9_-]{43}$/;

export function generateApiKey(): string {
  return KEY_PREFIX + base64url(crypto.getRandomValues(new Uint8Array(32)));
}

/** Public, non-secret id of a key record: `key_` + 20 hex characters. */
export function generateKeyId(): string {
  return "key_" + [...crypto.getRandomValues(new Uint8Array(10))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export const KEY_ID_PATTERN = /^key_[0-9a-f]{20}$/;

const UTF8 = new TextEncoder();
/** "00".."ff" by byte value. With the shared encoder, hashApiKey went from 3.0 to 2.3 us a call in workerd (test/worker/api-key-measure.test.ts). */
const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

/** Lowercase hex SHA-256 of the key's exact bytes (no trimming, no case folding). Every keyed request runs it. */
export async function hashApiKey(key: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", UTF8.encode(key)));
  let hex = "";
  for (let i = 0; i < digest.length; i++) hex += HEX[digest[i]!];
  return hex;
}

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
