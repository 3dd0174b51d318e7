/** API key records as the KeyStore keeps them, and what each status means for a request. */

/**
 * A scope a key may carry and a route may require: RFC 6749 3.3 scope-token (printable ASCII except
 * space, '"' and '\\'), the same alphabet JWT scopes use, at most 128 characters.
 */
export const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/;
/** A key carries at most this many scopes (they are cached per isolate with the record). */
export const MAX_KEY_SCOPES = 64;

/** Scopes as stored: unique and sorted, so two equal sets always read the same. */
export function normalizeScopes(scopes: readonly string[]): string[] {
  return [...new Set(scopes)].sort();
}

export const KEY_STATUSES = ["active", "disabled", "revoked"] as const;
export type KeyStatus = (typeof KEY_STATUSES)[number];

export interface KeyRecord {
  /** Public id (`key_...`): safe in URLs, logs and responses. */
  id: string;
  /** SHA-256 (hex) of the key. Internal: never returned by the admin API. */
  hash: string;
  name: string;
  owner: string;
  plan: string;
  /** Scopes granted to the key (routes may require some: `auth.apiKey.scopes`). Sorted, no duplicates. */
  scopes: string[];
  status: KeyStatus;
  /** Milliseconds since epoch. */
  createdAt: number;
  updatedAt: number;
  expiresAt: number | null;
}

/** What a request handler may know about the caller's key (context variable `apiKey`). */
export interface ApiKeyIdentity {
  id: string;
  name: string;
  owner: string;
  plan: string;
  scopes: readonly string[];
}

/** The admin API's view of a record: no hash, ISO timestamps. */
export function publicKeyView(r: KeyRecord) {
  return {
    id: r.id, name: r.name, owner: r.owner, plan: r.plan, scopes: r.scopes, status: r.status,
    createdAt: new Date(r.createdAt).toISOString(),
    updatedAt: new Date(r.updatedAt).toISOString(),
    expiresAt: r.expiresAt === null ? null : new Date(r.expiresAt).toISOString(),
  };
}
