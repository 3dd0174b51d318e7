/**
 * API key material. A key is `gw_` + base64url(32 random bytes) (256 bits): too much entropy to
 * guess, so a plain SHA-256 of it is a safe storage form (no salt or slow hash needed, unlike
 * passwords) and lookups stay one hash + one indexed read. The key itself exists only in the
 * create/rotate response; storage, caches and logs only ever see the hash.
 */

import { hex, sha256Hex } from "../hex.ts";

export const KEY_PREFIX = "gw_";
/** The exact shape of a key; anything else is refused before any lookup. */
export const KEY_PATTERN = /^gw_[A-Za-z0-9_-]{43}$/;

export function generateApiKey(): string {
  return KEY_PREFIX + base64url(crypto.getRandomValues(new Uint8Array(32)));
}

/** Public, non-secret id of a key record: `key_` + 20 hex characters. */
export function generateKeyId(): string {
  return "key_" + hex(crypto.getRandomValues(new Uint8Array(10)));
}

export const KEY_ID_PATTERN = /^key_[0-9a-f]{20}$/;

/** Lowercase hex SHA-256 of the key's exact bytes (no trimming, no case folding). Every keyed request runs it. */
export function hashApiKey(key: string): Promise<string> {
  return sha256Hex(key);
}

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
