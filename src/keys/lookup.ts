/**
 * How a request finds the record of a key it was shown: through the isolate cache (cache.ts), with
 * the KeyStore asked only for keys this isolate has not seen (or not for RECORD_TTL_MS), and the
 * change feed polled about twice a second in the background while keyed traffic flows.
 */
import { LOOKUP_TIMEOUT_MS, withKeyStore, type KeyStoreNamespace } from "./store.ts";
import { FEED_AHEAD_MS, keyCache } from "./cache.ts";
import type { FeedPosition } from "./durable_object.ts";
import type { KeyRecord } from "./records.ts";

/** A poll's worst case under the call rule: two attempts, each with its time limit. */
const POLL_WORST_CASE_MS = 2 * LOOKUP_TIMEOUT_MS + 100;

/**
 * The record for a key hash, or null when there is no such key. Throws when the KeyStore cannot
 * be reached (after one retry) and the isolate cannot vouch for the key without it: fail closed.
 * `waitUntil` keeps a background poll alive past the request (absent in some tests: then no poll
 * runs ahead, and requests poll when they must).
 */
export async function findKey(ns: KeyStoreNamespace, hash: string, waitUntil: ((promise: Promise<unknown>) => void) | undefined): Promise<KeyRecord | null> {
  let now = Date.now();
  let found = keyCache.get(hash, now);
  if (found === "stale") {
    // Held, but this isolate has not heard from the feed for FRESH_MS: one poll (shared) first.
    await keyCache.poll(pollWith(ns), now, POLL_WORST_CASE_MS);
    now = Date.now();
    found = keyCache.get(hash, now);
  }
  if (found === undefined || found === "stale") {
    const since = Date.now();
    const lookup = await withKeyStore(ns, (store) => store.lookup(hash));
    keyCache.remember(hash, lookup, since);
    found = lookup.record;
  }
  if (waitUntil && keyCache.feedAge(now) >= FEED_AHEAD_MS) waitUntil(keyCache.poll(pollWith(ns), now, POLL_WORST_CASE_MS));
  return found;
}

/** A feed poll through the calling request's binding (made only when a poll is due). */
function pollWith(ns: KeyStoreNamespace) {
  return (from: FeedPosition | null) => withKeyStore(ns, (store) => store.changesSince(from));
}
