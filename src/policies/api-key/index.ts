export { apiKeyAuth, apiKeyPolicies } from "./policy.ts";
export { KeyStore, KEY_STORE_NAME } from "./durable_object.ts";
export { keyCache } from "./cache.ts";
export { generateApiKey, generateKeyId, hashApiKey, KEY_PATTERN } from "./keys.ts";
export type { ApiKeyIdentity, KeyRecord, KeyStatus } from "./records.ts";
