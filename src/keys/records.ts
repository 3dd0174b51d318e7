/** API key records as the KeyStore keeps them, and what each status means for a request. */

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
}

/** The admin API's view of a record: no hash, ISO timestamps. */
export function publicKeyView(r: KeyRecord) {
  return {
    id: r.id, name: r.name, owner: r.owner, plan: r.plan, status: r.status,
    createdAt: new Date(r.createdAt).toISOString(),
    updatedAt: new Date(r.updatedAt).toISOString(),
    expiresAt: r.expiresAt === null ? null : new Date(r.expiresAt).toISOString(),
  };
}
