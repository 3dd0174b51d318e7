/**
 * The isolate's key cache and its place in the change feed, as logic: the feed is a function here
 * that answers as the KeyStore would (the real store's feed is tested in test/worker/key-feed.test.ts).
 */
import { describe, expect, it } from "vitest";
import { FRESH_MS, KeyCache, RECORD_TTL_MS, type FeedPosition, type FeedUpdate, type KeyRecord } from "../../../src/keys/index.ts";

const EPOCH = "epoch-1";
const at = (seq: number, epoch = EPOCH): FeedPosition => ({ epoch, seq });
const record = (hash: string, status: KeyRecord["status"] = "active"): KeyRecord => ({
  id: `key_${hash.padEnd(20, "0")}`, hash, name: hash, owner: "o", plan: "p", scopes: [], status, createdAt: 0, updatedAt: 0, expiresAt: null,
});
/** A poll's answer: the feed at `seq`, each listed hash changed last at `seq`. */
const changes = (seq: number, ...hashes: string[]) => async (): Promise<FeedUpdate> => ({ at: at(seq), changes: hashes.map((hash) => ({ hash, seq })), reset: false });
const WORST = 4_100;

describe("the key cache", () => {
  it("uses a record it read for FRESH_MS, then asks for a poll of the feed before using it again", async () => {
    const cache = new KeyCache();
    cache.remember("a", { record: record("a"), at: at(5) }, 1_000);
    expect(cache.get("a", 1_000 + FRESH_MS - 1)).toMatchObject({ hash: "a" });
    expect(cache.get("a", 1_000 + FRESH_MS)).toBe("stale");
    await cache.poll(changes(5), 2_000, WORST);
    expect(cache.get("a", 2_000 + FRESH_MS - 1)).toMatchObject({ hash: "a" });
    expect(cache.get("a", 2_000 + FRESH_MS)).toBe("stale");
  });

  it("drops exactly the hashes a poll lists as changed", async () => {
    const cache = new KeyCache();
    cache.remember("a", { record: record("a"), at: at(5) }, 0);
    cache.remember("b", { record: record("b"), at: at(5) }, 0);
    await cache.poll(changes(7, "b"), 500, WORST);
    expect(cache.get("a", 600)).toMatchObject({ hash: "a" });
    expect(cache.get("b", 600)).toBeUndefined();
  });

  it("drops everything when the feed says reset", async () => {
    const cache = new KeyCache();
    cache.remember("a", { record: record("a"), at: at(5) }, 0);
    await cache.poll(async () => ({ at: at(90), reset: true }), 500, WORST);
    expect(cache.get("a", 600)).toBeUndefined();
  });

  it("never lets a record read before a change it has applied outlive its own read", async () => {
    const cache = new KeyCache();
    cache.remember("a", { record: record("a"), at: at(5) }, 0);
    await cache.poll(changes(8, "x"), 100, WORST);
    // Read at position 6, answered after the isolate moved to 8: the change at 7 or 8 may be this key's.
    cache.remember("late", { record: record("late"), at: at(6) }, 150);
    await cache.poll(changes(8), 900, WORST);
    expect(cache.get("late", 150 + FRESH_MS - 1)).toMatchObject({ hash: "late" });
    expect(cache.get("late", 150 + FRESH_MS)).toBeUndefined(); // read again, not trusted on the feed's word
    expect(cache.get("a", 150 + FRESH_MS)).toMatchObject({ hash: "a" });
  });

  it("keeps a record read while a poll was in flight, and drops it if that poll lists it", async () => {
    const cache = new KeyCache();
    cache.remember("a", { record: record("a"), at: at(5) }, 0);
    let answer!: (update: FeedUpdate) => void;
    const polled = cache.poll(() => new Promise<FeedUpdate>((resolve) => { answer = resolve; }), 1_000, WORST);
    cache.remember("b", { record: record("b"), at: at(6) }, 1_010); // read at 6, before the poll's answer
    answer({ at: at(7), changes: [{ hash: "b", seq: 7 }], reset: false }); // b changed at 7: after that read
    await polled;
    expect(cache.get("b", 1_020)).toBeUndefined();
    expect(cache.get("a", 1_020)).toMatchObject({ hash: "a" });
  });

  it("shares one poll between the requests that need it at the same time", async () => {
    const cache = new KeyCache();
    cache.remember("a", { record: record("a"), at: at(1) }, 0);
    let calls = 0;
    const slow = async (): Promise<FeedUpdate> => { calls++; await new Promise((r) => setTimeout(r, 20)); return { at: at(1), changes: [], reset: false }; };
    await Promise.all([cache.poll(slow, 1_000, WORST), cache.poll(slow, 1_001, WORST), cache.poll(slow, 1_002, WORST)]);
    expect(calls).toBe(1);
    expect(cache.get("a", 1_500)).toMatchObject({ hash: "a" });
  });

  it("stays stale when a poll fails, so the record must be read again", async () => {
    const cache = new KeyCache();
    cache.remember("a", { record: record("a"), at: at(1) }, 0);
    await cache.poll(async () => { throw new Error("Network connection lost."); }, 1_000, WORST);
    expect(cache.get("a", 1_000)).toBe("stale");
  });

  it("starts over when a read comes from a store made anew (another epoch)", async () => {
    const cache = new KeyCache();
    cache.remember("a", { record: record("a"), at: at(40) }, 0);
    cache.remember("b", { record: record("b"), at: at(1, "epoch-2") }, 100);
    expect(cache.get("a", 200)).toBeUndefined();
    expect(cache.get("b", 200)).toMatchObject({ hash: "b" });
  });

  it("reads a covered record again after RECORD_TTL_MS however fresh the feed", async () => {
    const cache = new KeyCache();
    cache.remember("a", { record: record("a"), at: at(1) }, 0);
    await cache.poll(changes(1), RECORD_TTL_MS - 100, WORST);
    expect(cache.get("a", RECORD_TTL_MS - 1)).toMatchObject({ hash: "a" });
    expect(cache.get("a", RECORD_TTL_MS)).toBeUndefined();
  });

  it("keeps a record read after the change the poll lists for it (a key read just after its creation)", async () => {
    const cache = new KeyCache();
    cache.remember("a", { record: record("a"), at: at(5) }, 0);
    cache.remember("new", { record: record("new"), at: at(6) }, 10); // created at 6, read at 6
    await cache.poll(async () => ({ at: at(6), changes: [{ hash: "new", seq: 6 }], reset: false }), 100, WORST);
    expect(cache.get("new", 100 + FRESH_MS - 1)).toMatchObject({ hash: "new" });
  });

  it("remembers an unknown key as unknown, and forgets that when the feed lists its hash", async () => {
    const cache = new KeyCache();
    cache.remember("a", { record: record("a"), at: at(1) }, 0);
    cache.remember("new", { record: null, at: at(1) }, 0);
    expect(cache.get("new", 10)).toBeNull();
    await cache.poll(changes(2, "new"), 100, WORST); // created since
    expect(cache.get("new", 110)).toBeUndefined();
  });
});
