/**
 * The API-key policy: reads the key from the configured header (exactly: no trimming, no case
 * folding beyond what HTTP itself does to field values), hashes it, finds its record through the
 * isolate cache (cache.ts) or the KeyStore, and refuses a missing, unknown, disabled, expired or
 * revoked key. The caller's key (id, name, owner, plan; never the key or its hash) goes on the
 * context as `apiKey` for the rate-limit policies and handlers.
 *
 *   missing  401 api_key_missing     disabled 403 api_key_disabled
 *   unknown  401 api_key_invalid     expired  403 api_key_expired
 *                                    revoked  403 api_key_revoked
 * The KeyStore unreachable (after one retry) is 503 key_store_unavailable: fail closed.
 */
import type { Route, RouteTable } from "../../config/index.ts";
import { GatewayError } from "../../errors.ts";
import type { Policy } from "../../types.ts";
import { keyCache } from "./cache.ts";
import { KEY_PATTERN, hashApiKey } from "./keys.ts";
import { assertUsable, type KeyRecord } from "./records.ts";
import { logFailure, withKeyStore } from "./store.ts";

export function apiKeyPolicies(route: Route, table: RouteTable): Policy[] {
  return typeof route.auth === "object" && route.auth.apiKey === true ? [apiKeyAuth(table.apiKeys.header)] : [];
}

export function apiKeyAuth(header: string): Policy {
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(header)) throw new TypeError(`apiKeys.header: not a header name: ${JSON.stringify(header)}`);
  const name = header.toLowerCase();

  return async function apiKeyAuth(c) {
    const presented = c.req.raw.headers.get(name);
    if (presented === null || presented === "") throw new GatewayError(401, "api_key_missing", `An API key is required in the ${name} header.`);
    // The shape check costs nothing and keeps junk (and most guessing) away from the KeyStore.
    if (!KEY_PATTERN.test(presented)) throw invalid();
    const hash = await hashApiKey(presented);
    const now = Date.now();
    let record = keyCache.get(hash, now);
    if (record === undefined) {
      try {
        record = await withKeyStore(c.env.API_KEYS, (store) => store.lookup(hash) as Promise<KeyRecord | null>);
      } catch (err) {
        logFailure(c.get("requestId"), "key_store_unavailable", err);
        throw new GatewayError(503, "key_store_unavailable", "API keys cannot be checked right now; try again shortly.", { "retry-after": "1" });
      }
      keyCache.remember(hash, record, now);
    }
    if (record === null) throw invalid();
    assertUsable(record, Date.now());
    c.set("apiKey", { id: record.id, name: record.name, owner: record.owner, plan: record.plan });
  };
}

const invalid = () => new GatewayError(401, "api_key_invalid", "The API key is not valid.");
