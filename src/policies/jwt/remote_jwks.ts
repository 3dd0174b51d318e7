/**
 * A remote JWKS, cached by the gateway itself rather than by jose's `createRemoteJWKSet`.
 *
 * Why our own: jose drops its shared in-flight fetch on Workers (a promise created by one request
 * and awaited by another can hang when the first request ends), so a burst of tokens with a new
 * `kid` would each fetch the JWKS. Here the state is plain data in module scope, per URL:
 *
 * - The parsed keys, each imported into a CryptoKey once per algorithm (kept across refreshes when
 *   the key material is unchanged), with the time they were fetched and how long they stay fresh:
 *   the response's Cache-Control max-age, clamped to [60 s, 24 h], default 10 minutes.
 * - An unknown `kid` refetches at most once per 30 s cooldown per isolate.
 * - One in-flight fetch is shared: later requests wait for it, but only for as long as the fetch
 *   itself may take (its 5 s timeout plus 1 s). If the request that started it ended and took the
 *   fetch with it, the waiters stop waiting and fetch themselves instead of hanging.
 * - Stale-while-error: when a refresh fails, the keys already held keep working; a stale set is
 *   refreshed in the background (the request goes on with the keys it has). With no keys at all and
 *   the endpoint failing, verification answers 503 `jwks_unavailable` with `Retry-After`, and the
 *   endpoint is not retried for 5 s (a cold isolate does not hammer a failing identity provider).
 * - The raw JWKS is shared across isolates through the Cache API (`caches.default`, under a
 *   synthetic key): a new isolate reads it from there before asking the identity provider. A refetch
 *   for an unknown `kid` always goes to the identity provider.
 */
import type { JwtAlgorithm } from "./schema.ts";
import { cryptoKeyFor, parseKeySet, selectKey, type KeyCandidate } from "./keys.ts";
import { invalidToken, unavailable } from "./errors.ts";

export const JWKS_FETCH_TIMEOUT_MS = 5_000;
export const JWKS_COOLDOWN_MS = 30_000;
export const JWKS_FAILURE_BACKOFF_MS = 5_000;
export const JWKS_DEFAULT_MAX_AGE_MS = 10 * 60_000;
export const JWKS_MIN_MAX_AGE_MS = 60_000;
export const JWKS_MAX_MAX_AGE_MS = 24 * 3_600_000;
const SHARED_WAIT_GRACE_MS = 1_000;
const MAX_JWKS_BYTES = 512 * 1024;
const CACHE_KEY_BASE = "https://jwks-cache.edge-gateway.invalid/";

interface KeySetState {
  keys: KeyCandidate[];
  fetchedAt: number;
  expiresAt: number;
}

interface InFlight {
  promise: Promise<void>;
  startedAt: number;
}

/** Lets background work outlive the response (ExecutionContext.waitUntil) where there is one. */
export type WaitUntil = (promise: Promise<unknown>) => void;

export class RemoteJwks {
  readonly url: string;
  /** Plain data shared by every request in this isolate. */
  private state: KeySetState | undefined;
  private lastAttemptAt = Number.NEGATIVE_INFINITY;
  private lastFailedAt = Number.NEGATIVE_INFINITY;
  private inFlight: InFlight | undefined;
  /** Counts fetches to the identity provider from this isolate (tests and benchmarks read it). */
  fetches = 0;

  constructor(url: string) {
    this.url = url;
  }

  /** The CryptoKey that may verify a token with this `alg` and `kid`, fetching keys as the rules allow. */
  async keyFor(alg: JwtAlgorithm, kid: unknown, realm: string, waitUntil?: WaitUntil): Promise<CryptoKey> {
    if (!this.state) await this.refresh("cold", waitUntil);
    const state = this.state;
    if (!state) throw this.unavailableError();

    const now = Date.now();
    if (now >= state.expiresAt && !this.inFlight && now - this.lastFailedAt >= JWKS_FAILURE_BACKOFF_MS) {
      // Stale: refresh in the background and verify with the keys we hold.
      const refresh = this.refresh("stale", waitUntil).catch(() => undefined);
      waitUntil?.(refresh);
    }

    let selection = selectKey(state.keys, alg, kid);
    if (!selection.key && selection.why === "no_match" && typeof kid === "string" && this.mayRefetchForUnknownKid(now)) {
      await this.refresh("unknown-kid", waitUntil);
      selection = selectKey(this.state?.keys ?? [], alg, kid);
    }
    if (!selection.key) {
      throw invalidToken(realm, "token_invalid", "no_key", selection.why === "ambiguous"
        ? "The token names no key id and several keys could verify it."
        : "No known key can verify this token.");
    }
    return cryptoKeyFor(selection.key, alg);
  }

  private mayRefetchForUnknownKid(now: number): boolean {
    return now - this.lastAttemptAt >= JWKS_COOLDOWN_MS || this.inFlight !== undefined;
  }

  private unavailableError() {
    const retryMs = Math.max(0, this.lastFailedAt + JWKS_FAILURE_BACKOFF_MS - Date.now());
    return unavailable("jwks_unavailable", "unavailable", "The signing keys for this token cannot be fetched right now.", retryMs / 1000);
  }

  /**
   * Brings in a newer key set, sharing a fetch already under way. Resolves when there is nothing
   * more to wait for (the set may be unchanged if the fetch failed); never rejects.
   */
  private async refresh(cause: "cold" | "stale" | "unknown-kid", waitUntil?: WaitUntil): Promise<void> {
    const shared = this.inFlight;
    if (shared) {
      const waitMs = shared.startedAt + JWKS_FETCH_TIMEOUT_MS + SHARED_WAIT_GRACE_MS - Date.now();
      if (waitMs > 0) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const settled = await Promise.race([
          shared.promise.then(() => true, () => true),
          new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), waitMs); }),
        ]);
        if (timer !== undefined) clearTimeout(timer);
        if (settled) return;
      }
      // The fetch we were waiting for never settled (its request is gone): do it ourselves.
      if (this.inFlight === shared) this.inFlight = undefined;
    }
    const now = Date.now();
    if (cause === "cold" && now - this.lastFailedAt < JWKS_FAILURE_BACKOFF_MS) return;
    this.lastAttemptAt = now;
    const promise = this.load(cause !== "unknown-kid", waitUntil);
    const mine: InFlight = { promise, startedAt: now };
    this.inFlight = mine;
    waitUntil?.(promise);
    try {
      await promise;
    } finally {
      if (this.inFlight === mine) this.inFlight = undefined;
    }
  }

  /** One load: the Cache API first when allowed, else the identity provider. Never rejects. */
  private async load(tryCacheApi: boolean, waitUntil?: WaitUntil): Promise<void> {
    if (tryCacheApi && (await this.loadFromCacheApi())) return;
    this.fetches++;
    let body: string;
    let maxAgeMs: number;
    try {
      ({ body, maxAgeMs } = await fetchJwks(this.url));
      const keys = parseJwksBody(body, this.state?.keys);
      const fetchedAt = Date.now();
      this.state = { keys, fetchedAt, expiresAt: fetchedAt + maxAgeMs };
    } catch {
      // Stale-while-error: whatever keys we hold stay in use.
      this.lastFailedAt = Date.now();
      return;
    }
    const put = this.storeInCacheApi(body, this.state.fetchedAt, maxAgeMs).catch(() => undefined);
    if (waitUntil) waitUntil(put); else await put;
  }

  private cacheKey(): Request {
    return new Request(CACHE_KEY_BASE + encodeURIComponent(this.url));
  }

  private async loadFromCacheApi(): Promise<boolean> {
    const cache = defaultCache();
    if (!cache) return false;
    try {
      const hit = await cache.match(this.cacheKey());
      if (!hit) return false;
      const fetchedAt = Number(hit.headers.get("x-jwks-fetched-at"));
      const expiresAt = Number(hit.headers.get("x-jwks-expires-at"));
      if (!Number.isFinite(fetchedAt) || !Number.isFinite(expiresAt) || Date.now() >= expiresAt) return false;
      if (this.state && this.state.fetchedAt >= fetchedAt) return false;
      this.state = { keys: parseJwksBody(await hit.text(), this.state?.keys), fetchedAt, expiresAt };
      return true;
    } catch {
      return false;
    }
  }

  private async storeInCacheApi(body: string, fetchedAt: number, maxAgeMs: number): Promise<void> {
    const cache = defaultCache();
    if (!cache) return;
    await cache.put(this.cacheKey(), new Response(body, {
      headers: {
        "content-type": "application/json",
        "cache-control": `max-age=${Math.floor(maxAgeMs / 1000)}`,
        "x-jwks-fetched-at": String(fetchedAt),
        "x-jwks-expires-at": String(fetchedAt + maxAgeMs),
      },
    }));
  }
}

function defaultCache(): Cache | undefined {
  return typeof caches === "undefined" ? undefined : caches.default;
}

async function fetchJwks(url: string): Promise<{ body: string; maxAgeMs: number }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), JWKS_FETCH_TIMEOUT_MS);
  try {
    const response = await fetch(url, { headers: { accept: "application/jwk-set+json, application/json" }, redirect: "manual", signal: controller.signal });
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new Error(`JWKS answered ${response.status}`);
    }
    const declared = Number(response.headers.get("content-length") ?? 0);
    if (declared > MAX_JWKS_BYTES) {
      await response.body?.cancel();
      throw new Error("JWKS too large");
    }
    const body = await response.text();
    if (body.length > MAX_JWKS_BYTES) throw new Error("JWKS too large");
    return { body, maxAgeMs: maxAgeFrom(response.headers.get("cache-control")) };
  } finally {
    clearTimeout(timer);
  }
}

function parseJwksBody(body: string, previous: readonly KeyCandidate[] | undefined): KeyCandidate[] {
  const doc = JSON.parse(body) as unknown;
  const keys = typeof doc === "object" && doc !== null ? (doc as { keys?: unknown }).keys : undefined;
  if (!Array.isArray(keys)) throw new Error("not a JWKS");
  const parsed = parseKeySet(keys, previous);
  // An empty set is treated as a failed fetch: an identity provider never signs with no keys.
  if (parsed.length === 0) throw new Error("JWKS has no usable signing keys");
  return parsed;
}

/** Freshness from Cache-Control, clamped to [60 s, 24 h]; default 10 minutes. */
export function maxAgeFrom(cacheControl: string | null): number {
  if (!cacheControl) return JWKS_DEFAULT_MAX_AGE_MS;
  if (/(?:^|,)\s*(?:no-store|no-cache)\s*(?:,|$)/i.test(cacheControl)) return JWKS_MIN_MAX_AGE_MS;
  const match = /(?:^|,)\s*max-age\s*=\s*"?(\d+)"?\s*(?:,|$)/i.exec(cacheControl);
  if (!match) return JWKS_DEFAULT_MAX_AGE_MS;
  const ms = Number(match[1]) * 1000;
  return Math.min(JWKS_MAX_MAX_AGE_MS, Math.max(JWKS_MIN_MAX_AGE_MS, ms));
}

// One cache per JWKS URL per isolate, shared by every authorizer that names it.
const sets = new Map<string, RemoteJwks>();

export function remoteJwks(url: string): RemoteJwks {
  let set = sets.get(url);
  if (!set) {
    set = new RemoteJwks(url);
    sets.set(url, set);
  }
  return set;
}

/** Forgets every key set in this isolate, as a fresh isolate would start (tests of the Cache API path). */
export function forgetRemoteJwksInIsolate(): void {
  sets.clear();
}
