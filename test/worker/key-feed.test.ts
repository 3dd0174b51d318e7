/**
 * The KeyStore's change feed, on the real Durable Object, and what it buys through the gateway: a
 * key changed behind this isolate's back (as another isolate's admin call would) is refused within
 * a second while traffic flows, and the store is asked once per key, not once per request.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { FEED_MAX_HASHES, FEED_RETENTION_MS } from "../../src/keys/durable_object.ts";
import { FEED_AHEAD_MS, FRESH_MS, generateApiKey, generateKeyId, hashApiKey, KEY_STORE_NAME, type KeyStore } from "../../src/keys/index.ts";
import { errorOf, gatewayFor, route } from "../support/worker-gateway.ts";

const store = () => env.API_KEYS.get(env.API_KEYS.idFromName(KEY_STORE_NAME));
const call = gatewayFor({
  plans: { basic: { quota: { limit: 1_000_000, per: "month" } } },
  admin: { token: { env: "ADMIN_TOKEN" } },
  routes: [route("keyed", "/keyed/*", { auth: { apiKey: true } })],
});
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A key written straight into the KeyStore, as another isolate's admin call would. */
async function storeKey() {
  const key = generateApiKey();
  const hash = await hashApiKey(key);
  const result = await store().create({ id: generateKeyId(), hash, name: "feed", owner: "key-feed-test", plan: "basic", expiresAt: null });
  if (!result.ok) throw new Error(result.error);
  return { key, hash, id: result.value.id };
}

const withKey = (key: string) => ({ headers: { "x-api-key": key } });

describe("the KeyStore's change feed", () => {
  it("lists, after a position, the hash of every key a write touched: status, plan and scopes, both sides of a rotation, each at its newest change", async () => {
    const a = await storeKey();
    const b = await storeKey();
    const { at } = await store().lookup(a.hash);
    expect(await store().changesSince(at)).toEqual({ at, changes: [], reset: false });
    await store().setStatus(a.id, "disabled");
    await store().change(b.id, { scopes: ["orders:read"] });
    const rotatedTo = await hashApiKey(generateApiKey());
    await store().rotate(a.id, rotatedTo);
    const update = await store().changesSince(at);
    expect(update.reset).toBe(false);
    if (update.reset) return;
    // Each hash once, at its newest change: a's status (+1) and rotation (+3), b's scopes (+2), the new hash (+3).
    expect(update.changes.sort((x, y) => x.seq - y.seq || x.hash.localeCompare(y.hash))).toEqual([
      { hash: b.hash, seq: at.seq + 2 },
      ...[{ hash: a.hash, seq: at.seq + 3 }, { hash: rotatedTo, seq: at.seq + 4 }],
    ]);
    expect(update.at).toEqual({ epoch: at.epoch, seq: at.seq + 4 });
    expect(await store().changesSince(update.at)).toEqual({ at: update.at, changes: [], reset: false });
  });

  it("tells an isolate to start over when its position is from another store, or ahead of this one", async () => {
    const { hash } = await storeKey();
    const { at } = await store().lookup(hash);
    expect(await store().changesSince({ epoch: "another-store", seq: at.seq })).toEqual({ at, reset: true });
    expect(await store().changesSince({ epoch: at.epoch, seq: at.seq + 1 })).toEqual({ at, reset: true });
    expect(await store().changesSince(null)).toEqual({ at, reset: true });
  });

  it("tells an isolate to start over when the changes after its position were pruned, or are too many to list", async () => {
    const { hash, id } = await storeKey();
    const before = (await store().lookup(hash)).at;
    await runInDurableObject(store(), (_: KeyStore, state) => {
      // FEED_MAX_HASHES + 1 changes, all past retention.
      for (let i = 0; i <= FEED_MAX_HASHES; i++) state.storage.sql.exec("INSERT INTO key_changes (hash, at) VALUES (?, ?)", `h${i}`, Date.now() - FEED_RETENTION_MS - 1);
    });
    expect((await store().changesSince(before)).reset).toBe(true); // too many
    await store().setStatus(id, "disabled"); // a write prunes what is past retention
    const after = await store().changesSince(before);
    expect(after.reset).toBe(true); // pruned past
    const kept = await runInDurableObject(store(), (_: KeyStore, state) => state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM key_changes").one().n);
    expect(kept).toBeLessThan(FEED_MAX_HASHES);
    expect((await store().changesSince(after.at))).toEqual({ at: after.at, changes: [], reset: false });
  });
});

describe("through the gateway", () => {
  it("refuses a key revoked behind this isolate's back within a second, while steady traffic keeps the cache warm", async () => {
    const revokedKey = await storeKey();
    const other = await storeKey();
    for (const k of [revokedKey, other]) expect((await call("/keyed/x", withKey(k.key))).status).toBe(200);
    await sleep(300);
    let revokedAt = 0;
    const seen: { t: number; status: number; code?: string }[] = [];
    const end = Date.now() + 2_500;
    while (Date.now() < end) {
      if (revokedAt === 0 && Date.now() > end - 2_000) {
        revokedAt = Date.now();
        expect((await store().setStatus(revokedKey.id, "revoked")).ok).toBe(true);
      }
      const response = await call("/keyed/x", withKey(revokedKey.key));
      seen.push({ t: Date.now(), status: response.status, ...(response.status === 200 ? {} : { code: (await errorOf(response)).code }) });
      expect((await call("/keyed/x", withKey(other.key))).status).toBe(200);
      await sleep(25);
    }
    const after = seen.filter((s) => s.t - revokedAt >= FRESH_MS);
    expect(after.length).toBeGreaterThan(10);
    expect(after.every((s) => s.status === 403 && s.code === "api_key_revoked")).toBe(true);
    // And the cache did carry the key between polls: some answers after the revocation were still the cached 200.
    expect(seen.some((s) => s.t > revokedAt && s.t - revokedAt < FRESH_MS / 2 && s.status === 200)).toBe(true);
  });

  it("asks the KeyStore once per key, not once per request: 100 keys, three rounds a second apart", async () => {
    const keys = await Promise.all(Array.from({ length: 100 }, () => storeKey()));
    const before = await store().stats();
    let busyMs = 0;
    for (let round = 0; round < 3; round++) {
      const started = Date.now();
      for (const { key } of keys) expect((await call("/keyed/x", withKey(key))).status).toBe(200);
      busyMs += Date.now() - started;
      await sleep(FRESH_MS + 100);
    }
    const after = await store().stats();
    expect(after.lookups - before.lookups).toBe(100);
    // Polls follow time, not requests: each round after an idle second starts with one shared poll,
    // and traffic adds about one per FEED_AHEAD_MS while it lasts (however slow the machine).
    const polls = after.feedPolls - before.feedPolls;
    expect(polls).toBeGreaterThanOrEqual(2);
    expect(polls).toBeLessThanOrEqual(3 + Math.ceil(busyMs / FEED_AHEAD_MS) + 1);
    expect(polls).toBeLessThan(300 / 10);
  }, 30_000);
});
