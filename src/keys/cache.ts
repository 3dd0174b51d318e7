/**
 * The isolate's cache of key records, kept fresh by the KeyStore's change feed (durable_object.ts).
 *
 * The promise to operators: a key disabled, revoked, rotated away or moved to another plan at time
 * T is seen so by every isolate from T + FRESH_MS (0.9 s) on. The issue asks for 1 s; the margin
 * covers the coarse clock of Workers, which advances only on I/O. Every time below is taken BEFORE
 * the call it stands for was sent, so a call that takes long only makes the cache older, never
 * younger than it is.
 *
 * A cached record may be used at `now` when either
 * - its own read started less than FRESH_MS ago, or
 * - it is covered by the feed (read at or after the isolate's feed position, so no change the
 *   isolate has applied is missing from it) and the isolate's last feed poll started less than
 *   FRESH_MS ago. That poll listed every hash changed before it started, with the position of its
 *   newest change, and dropped the records read before that change.
 * So a busy isolate asks the store for each key once (and again after RECORD_TTL_MS), plus one feed
 * poll per FEED_AHEAD_MS or so, whatever the number of keys; a request waits for a poll only when
 * the isolate was idle for FRESH_MS (and then all requests in that moment share one poll).
 *
 * Negative entries (no such key) live UNKNOWN_TTL_MS = 10 s in a separate map, so a flood of random
 * keys cannot push real records out; a new key is never in it, being fresh random (and its
 * creation is in the feed too). Admin operations in the same isolate drop the entry at once.
 *
 * State is plain data in module scope. The poll in flight is shared by the requests that need it,
 * each waiting at most the call's worst case (a request's I/O cannot be awaited safely from another
 * request once the first ends: PLATFORM.md), and then asking the store for its key itself.
 */
import { settledWithin } from "../durable.ts";
import type { FeedPosition, FeedUpdate, KeyLookup } from "./durable_object.ts";
import type { KeyRecord } from "./records.ts";

export const FRESH_MS = 900;
/** A request that finds the last poll older than this starts the next one in the background. */
export const FEED_AHEAD_MS = 450;
/** A covered record is read again after this long anyway: cold keys leave, and nothing lives forever. */
export const RECORD_TTL_MS = 5 * 60_000;
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

  /** The value whatever its age, without touching its place in the LRU order. */
  peek(key: string): V | undefined { return this.#entries.get(key)?.value; }
  delete(key: string): void { this.#entries.delete(key); }
  clear(): void { this.#entries.clear(); }
  get size(): number { return this.#entries.size; }
}

interface Entry {
  record: KeyRecord;
  /** When the read that filled it started, and the feed position it read at. */
  readAt: number;
  readSeq: number;
  /** Read at or after the feed position the isolate held when it was stored (see the header). */
  covered: boolean;
}

/** A poll of the feed, made with the calling request's binding: resolves to the store's answer. */
export type FeedPoll = (from: FeedPosition | null) => Promise<FeedUpdate>;

export class KeyCache {
  readonly records = new TtlLru<Entry>(MAX_ENTRIES);
  readonly unknown = new TtlLru<true>(MAX_ENTRIES);
  /** This isolate's position in the feed: every change up to it is applied. Null until the first read. */
  #at: FeedPosition | null = null;
  /** When the read or poll that established `#at` started. */
  #freshSince = -Infinity;
  #polling: { promise: Promise<void>; startedAt: number } | undefined;

  /**
   * A record usable at `now`, null for a known-unknown key, undefined when the store must be asked,
   * `"stale"` when a record is held but the feed must be polled before it may be used.
   */
  get(hash: string, now: number): KeyRecord | null | undefined | "stale" {
    const entry = this.records.get(hash, now);
    if (entry) {
      if (now - entry.readAt < FRESH_MS || (entry.covered && now - this.#freshSince < FRESH_MS)) return entry.record;
      return entry.covered ? "stale" : undefined;
    }
    return this.unknown.get(hash, now) ? null : undefined;
  }

  /** Stores a lookup's answer; `since` is when the lookup started. */
  remember(hash: string, lookup: KeyLookup, since: number): void {
    const { record, at } = lookup;
    if (this.#at === null || at.epoch !== this.#at.epoch) {
      // The first read of this isolate, or the store was made anew: nothing cached can be trusted.
      this.clear();
      this.#at = at;
      this.#freshSince = since;
    }
    if (record) {
      this.unknown.delete(hash);
      const covered = at.seq >= this.#at.seq;
      this.records.set(hash, { record, readAt: since, readSeq: at.seq, covered }, since + (covered ? RECORD_TTL_MS : FRESH_MS));
    } else {
      this.records.delete(hash);
      this.unknown.set(hash, true, since + UNKNOWN_TTL_MS);
    }
  }

  /** Milliseconds since the feed was last known fresh; Infinity before the first read. */
  feedAge(now: number): number {
    return now - this.#freshSince;
  }

  /**
   * Polls the feed once (requests share the poll in flight) and applies what it lists. Resolves when
   * done, whether the poll succeeded or not: a failure leaves the cache as old as it was, so records
   * soon need a read of their own, which fails closed if the store is down.
   */
  async poll(call: FeedPoll, now: number, worstCaseMs: number): Promise<void> {
    if (this.#at === null) return; // nothing covered yet: there is nothing to keep fresh
    const shared = this.#polling;
    if (shared && now - shared.startedAt < worstCaseMs) return settledWithin(shared.promise, shared.startedAt + worstCaseMs - now);
    const from = this.#at;
    const entry = { startedAt: now, promise: Promise.resolve() };
    entry.promise = call(from).then((update) => this.#apply(from, update, now), () => {}).finally(() => {
      if (this.#polling === entry) this.#polling = undefined;
    });
    this.#polling = entry;
    return entry.promise;
  }

  #apply(from: FeedPosition, update: FeedUpdate, startedAt: number): void {
    // The position moved meanwhile (the store was made anew, seen by a read): this answer is for the old one.
    if (this.#at !== from) return;
    if (update.reset) this.clear();
    else {
      for (const { hash, seq } of update.changes) {
        this.unknown.delete(hash);
        const entry = this.records.peek(hash);
        // A record read at or after the change already shows it (a key read just after its creation).
        if (entry !== undefined && entry.readSeq < seq) this.records.delete(hash);
      }
    }
    this.#at = update.at;
    this.#freshSince = startedAt;
  }

  forget(hash: string): void { this.records.delete(hash); this.unknown.delete(hash); }

  clear(): void {
    this.records.clear();
    this.unknown.clear();
    this.#at = null;
    this.#freshSince = -Infinity;
  }
}

/** One per isolate, shared by the api-key policy and the admin API (which invalidates it). */
export const keyCache = new KeyCache();
