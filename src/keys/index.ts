/**
 * The API key service: the KeyStore Durable Object (records by key hash), its client, the isolate
 * cache of lookups, and key material. The api-key policy and the admin API use it through here.
 */
// The Durable Object class is exported by the Worker entry from ./durable_object.ts; only its type
// here, so config tooling in Node (which imports the policies) never loads cloudflare:workers.
export type { FeedPosition, FeedUpdate, KeyLookup, KeyStore, KeyStoreStats, KeyChanges, KeyPage, NewKey, StoreResult } from "./durable_object.ts";
export { decodeCursor } from "./cursor.ts";
export { keyErrors } from "./errors.ts";
export { FEED_AHEAD_MS, FRESH_MS, KeyCache, keyCache, RECORD_TTL_MS, UNKNOWN_TTL_MS, TtlLru } from "./cache.ts";
export { findKey } from "./lookup.ts";
export { generateApiKey, generateKeyId, hashApiKey, KEY_PATTERN, KEY_ID_PATTERN } from "./keys.ts";
export { KEY_STATUSES, MAX_KEY_SCOPES, normalizeScopes, publicKeyView, SCOPE_TOKEN, type ApiKeyIdentity, type KeyRecord, type KeyStatus } from "./records.ts";
export { KEY_STORE_NAME, keyStore, withKeyStore, type KeyStoreNamespace } from "./store.ts";
