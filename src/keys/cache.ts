/**
 * The isolate's cache of key lookups, keyed by key hash, bounded in size (least recently used out).
 *
 * Positive entries (a record) live RECORD_TTL_MS = 900 ms, counted from before the lookup started:
 * a key disabled or revoked at time T is refused by every isolate from T + 0.9 s on (the issue asks
 * for 1 s; the margin covers the coarse clock of Workers, which advances only on I/O).
 * Negative entries (no such key) live UNKNOWN_TTL_MS = 10 s in a separate map, so a flood of random
 * keys cannot push real records out; a new key is never in it, being fresh random.
 * Admin operations in the same isolate drop the entry at once.
 */
import type { KeyRecord } from "./records.ts";

export const RECORD_TTL_MS = 900;
export const UNKNOWN_TTL_MS = 10_000;
const MAX_ENTRIES = 10_000;

export class TtlLru<V> {
  readonly #entries = new Map<string, { value: V; expires: number }>();
  readonly #max: number;
  constructor(maxEntries: number) { this.#max = maxEntries; }

  get(key: string, now: number): V | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    this.#entries.delete(key);
    if (now >= entry.expires) return undefined;
    this.#entries.set(key, entry); // most recently used last
    return entry.value;
  }

  set(key: string, value: V, expires: number): void {
    this.#entries.delete(key);
    this.#entries.set(key, { value, expires });
    while (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value!);
  }

  delete(key: string): void { this.#entries.delete(key); }
  clear(): void { this.#entries.clear(); }
  get size(): number { return this.#entries.size; }
}

class KeyCache {
  readonly records = new TtlLru<KeyRecord>(MAX_ENTRIES);
  readonly unknown = new TtlLru<true>(MAX_ENTRIES);

  /** A record, `null` for a known-unknown key, `undefined` when the store must be asked. */
  get(hash: string, now: number): KeyRecord | null | undefined {
    return this.records.get(hash, now) ?? (this.unknown.get(hash, now) ? null : undefined);
  }

  /** `since` is when the lookup started: the entry is as old as the read that filled it. */
  remember(hash: string, record: KeyRecord | null, since: number): void {
    if (record) { this.unknown.delete(hash); this.records.set(hash, record, since + RECORD_TTL_MS); }
    else this.unknown.set(hash, true, since + UNKNOWN_TTL_MS);
  }

  forget(hash: string): void { this.records.delete(hash); this.unknown.delete(hash); }
  clear(): void { this.records.clear(); this.unknown.clear(); }
}

/** One per isolate, shared by the api-key policy and the admin API (which invalidates it). */
export const keyCache = new KeyCache();
