/** API key records as the KeyStore keeps them, and what each status means for a request. */
import { GatewayError } from "../../errors.ts";

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

/**
 * Refuses a key that exists but may not be used. Disabled, expired and revoked are all 403: the key
 * was recognized and is not allowed (401 is kept for "no usable credential": missing or unknown).
 */
export function assertUsable(r: KeyRecord, now: number): void {
  if (r.status === "revoked") throw new GatewayError(403, "api_key_revoked", "This API key has been revoked.");
  if (r.status === "disabled") throw new GatewayError(403, "api_key_disabled", "This API key is disabled.");
  if (r.expiresAt !== null && now >= r.expiresAt) throw new GatewayError(403, "api_key_expired", "This API key has expired.");
}
