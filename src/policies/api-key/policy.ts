/**
 * The API-key middleware: reads the key from the configured header (exactly: no trimming, no case
 * folding beyond what HTTP itself does to field values), hashes it, finds its record through the
 * isolate cache or the KeyStore (src/keys/lookup.ts), and refuses a missing, unknown, disabled, expired or
 * revoked key. The caller's key (id, name, owner, plan; never the key or its hash) goes on the
 * context as `apiKey` for rate limits and handlers.
 *
 *   missing  401 api_key_missing     disabled 403 api_key_disabled
 *   unknown  401 api_key_invalid     expired  403 api_key_expired
 *                                    revoked  403 api_key_revoked
 *                                    without a scope the route requires  403 insufficient_scope
 * The KeyStore unreachable (after one retry) is 503 key_store_unavailable: fail closed.
 */
import { waitUntilOf, type GatewayMiddleware } from "../../context.ts";
import { coreErrors, defineErrors, errorText, logEvent } from "../../errors.ts";
import { findKey, hashApiKey, KEY_PATTERN, keyErrors, SCOPE_TOKEN, type ApiKeyIdentity, type KeyRecord } from "../../keys/index.ts";

declare module "hono" {
  interface ContextVariableMap {
    /** The caller's verified API key (id, name, owner, plan), set by the api-key policy. */
    apiKey: ApiKeyIdentity | undefined;
  }
}

/**
 * The refusals this policy throws: its own codes, plus the keys service's (api_key_missing,
 * key_store_unavailable) and the core's insufficient_scope, which are declared by their owners.
 */
export const apiKeyErrors = {
  ...defineErrors("api-key", {
    api_key_invalid: { status: 401, meaning: "The API key is malformed or unknown." },
    api_key_disabled: { status: 403, meaning: "The API key exists but is disabled (an operator can enable it again)." },
    api_key_expired: { status: 403, meaning: "The API key has passed its `expiresAt`." },
    api_key_revoked: { status: 403, meaning: "The API key was revoked, for good." },
  }),
  api_key_missing: keyErrors.api_key_missing,
  key_store_unavailable: keyErrors.key_store_unavailable,
  insufficient_scope: coreErrors.insufficient_scope,
};

/**
 * The scopes a route's `auth.apiKey` requires: `[]` for `true` (any valid key), the listed ones for
 * `{ scopes }`, null when the route takes no API key (absent or `false`). Reads raw config too.
 */
export function requiredKeyScopes(auth: Record<string, unknown>): readonly string[] | null {
  const apiKey = auth.apiKey;
  if (apiKey === true) return [];
  if (typeof apiKey === "object" && apiKey !== null && Array.isArray((apiKey as { scopes?: unknown }).scopes)) {
    return (apiKey as { scopes: unknown[] }).scopes.filter((s): s is string => typeof s === "string");
  }
  return null;
}

/**
 * Refuses a key that exists but may not be used. Disabled, expired and revoked are all 403: the key
 * was recognized and is not allowed (401 is kept for "no usable credential": missing or unknown).
 */
export function assertUsable(r: KeyRecord, now: number): void {
  if (r.status === "revoked") throw apiKeyErrors.api_key_revoked("This API key has been revoked.");
  if (r.status === "disabled") throw apiKeyErrors.api_key_disabled("This API key is disabled.");
  if (r.expiresAt !== null && now >= r.expiresAt) throw apiKeyErrors.api_key_expired("This API key has expired.");
}

export function apiKeyAuth(header: string, requiredScopes: readonly string[] = []): GatewayMiddleware {
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(header)) throw new TypeError(`apiKeys.header: not a header name: ${JSON.stringify(header)}`);
  for (const scope of requiredScopes) if (!SCOPE_TOKEN.test(scope)) throw new TypeError(`auth.apiKey.scopes: not a scope token: ${JSON.stringify(scope)}`);
  const name = header.toLowerCase();
  const required = [...new Set(requiredScopes)];
  // Built once: the refusal names what the route needs, as RFC 6750's scope attribute does for tokens.
  const lacking = `This API key lacks a scope this route requires (${required.join(" ")}).`;

  return async function apiKeyAuth(c, next) {
    const presented = c.req.raw.headers.get(name);
    if (presented === null || presented === "") throw apiKeyErrors.api_key_missing(`An API key is required in the ${name} header.`);
    // The shape check costs nothing and keeps junk (and most guessing) away from the KeyStore.
    if (!KEY_PATTERN.test(presented)) throw invalid();
    const hash = await hashApiKey(presented);
    let record: KeyRecord | null;
    try {
      record = await findKey(c.env.API_KEYS, hash, waitUntilOf(c));
    } catch (err) {
      logEvent("error", "key_store_unavailable", { requestId: c.get("requestId"), error: errorText(err) });
      throw apiKeyErrors.key_store_unavailable("API keys cannot be checked right now; try again shortly.", { "retry-after": "1" });
    }
    if (record === null) throw invalid();
    assertUsable(record, Date.now());
    if (required.length > 0 && !required.every((scope) => record.scopes.includes(scope))) throw apiKeyErrors.insufficient_scope(lacking);
    c.set("apiKey", { id: record.id, name: record.name, owner: record.owner, plan: record.plan, scopes: record.scopes });
    c.set("keyId", record.id); // for the access log and per-key metrics
    await next();
  };
}

const invalid = () => apiKeyErrors.api_key_invalid("The API key is not valid.");
