/**
 * KeyStore: API key records in SQLite, found by the SHA-256 hash of the key (never the key).
 *
 * Sharding: one object, named KEY_STORE_NAME. Isolates cache the records they read (see cache.ts)
 * and stay fresh by asking this object, about twice a second while they serve keyed traffic, which
 * hashes changed since they last asked (the change feed below). So the object sees one read per key
 * an isolate meets for the first time, plus unknown keys, plus about two feed polls per busy
 * isolate per second: not one read per request, however many keys are in use. One object keeps list,
 * pagination and the uniqueness of hashes and ids simple and transactional. Past roughly 1,000
 * calls/s (the per-object soft limit) the next step is to shard by the hash's first hex digit and put
 * the shard in the key id; nothing else changes.
 *
 * The change feed: every write appends the hashes it affects (create, plan or scope change, status
 * change, and both hashes of a rotation) to `key_changes`, numbered by `seq`. `changesSince` answers
 * an isolate's position with the hashes changed after it. Rows older than FEED_RETENTION_MS are
 * pruned (the newest is always kept, so the numbering never restarts); an isolate whose position is
 * older than what is kept, or behind by more than FEED_MAX_HASHES, or from another store (the
 * `epoch`, a random id made when the store was created: a wiped store starts again) is told to
 * reset, i.e. to drop every cached record. Each `lookup` says at which position it read, and each
 * listed change its position, so the isolate drops exactly the records read before a change, and
 * never keeps one read before a change it has already applied (cache.ts).
 *
 * Schema changes happen in the constructor, before any call is served, and only ever add: the
 * `scopes` column (issue 14) is added to a table created without it, with a default that reads as
 * "no scopes", so every existing key keeps working exactly as before.
 *
 * Status changes: active <-> disabled; revoked is final (enable, disable, rotate, change plan on a
 * revoked key are refused with `revoked`). Rotate replaces the hash in place: the old key stops
 * working at once here, and within the cache bound everywhere else.
 */
import { DurableObject } from "cloudflare:workers";
import { decodeCursor, encodeCursor } from "./cursor.ts";
import { KEY_STATUSES, MAX_KEY_SCOPES, normalizeScopes, SCOPE_TOKEN, type KeyRecord, type KeyStatus } from "./records.ts";

export interface NewKey {
  id: string;
  hash: string;
  name: string;
  owner: string;
  plan: string;
  scopes?: readonly string[];
  expiresAt: number | null;
}

/** What PATCH may change; absent members stay as they are. */
export interface KeyChanges {
  plan?: string;
  scopes?: readonly string[];
}

/** A position in the change feed: the store it belongs to, and the last change seen. */
export interface FeedPosition {
  epoch: string;
  seq: number;
}

/** A lookup's answer: the record (or null: no such key) and the feed position it was read at. */
export interface KeyLookup {
  record: KeyRecord | null;
  at: FeedPosition;
}

/** A hash changed in the feed, at the newest of its changes after the position asked about. */
export interface FeedChange {
  hash: string;
  seq: number;
}

/** The changes after a position (a record read at or after a change's `seq` already shows it), or `reset`. */
export type FeedUpdate = { at: FeedPosition; changes: FeedChange[]; reset: false } | { at: FeedPosition; reset: true };

/** How long changes stay listed; an isolate that has not asked for this long drops its cache. */
export const FEED_RETENTION_MS = 10 * 60_000;
/** More changes than this since an isolate's position: it resets rather than read a long list. */
export const FEED_MAX_HASHES = 1_000;

/** Calls this object served since it started (in memory: the benchmark's count of store traffic). */
export interface KeyStoreStats {
  lookups: number;
  feedPolls: number;
}

export type StoreResult<T> = { ok: true; value: T } | { ok: false; error: "not_found" | "revoked" | "conflict" };

export interface KeyPage {
  keys: KeyRecord[];
  /** Opaque; pass back as `cursor` for the next page. Null on the last page. */
  nextCursor: string | null;
}

type Row = { seq: number; id: string; hash: string; name: string; owner: string; plan: string; scopes: string; status: string; created_at: number; updated_at: number; expires_at: number | null };

const COLUMNS = "seq, id, hash, name, owner, plan, scopes, status, created_at, updated_at, expires_at";

export class KeyStore extends DurableObject {
  readonly #epoch: string;
  readonly #stats: KeyStoreStats = { lookups: 0, feedPolls: 0 };

  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS api_keys (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, -- creation order, for listing
        id TEXT NOT NULL UNIQUE,
        hash TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        owner TEXT NOT NULL,
        plan TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('active', 'disabled', 'revoked')),
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        expires_at INTEGER,
        scopes TEXT NOT NULL DEFAULT '[]' -- JSON array of scope tokens, sorted
      );
      CREATE INDEX IF NOT EXISTS api_keys_by_owner ON api_keys (owner, seq);
    `);
    // Tables created before scopes existed: add the column (existing rows read as no scopes).
    const columns = ctx.storage.sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('api_keys')").toArray();
    if (!columns.some((c) => c.name === "scopes")) ctx.storage.sql.exec("ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT '[]'");
    // The change feed (added after the first release: created here for stores made before it).
    ctx.storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS key_changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        hash TEXT NOT NULL,
        at INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS key_store_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
    `);
    ctx.storage.sql.exec("INSERT OR IGNORE INTO key_store_meta (name, value) VALUES ('epoch', ?)", crypto.randomUUID());
    this.#epoch = ctx.storage.sql.exec<{ value: string }>("SELECT value FROM key_store_meta WHERE name = 'epoch'").one().value;
  }

  /** The newest feed position: what a read made now reflects. */
  #position(): FeedPosition {
    const row = this.ctx.storage.sql.exec<{ seq: number | null }>("SELECT max(seq) AS seq FROM key_changes").one();
    return { epoch: this.#epoch, seq: row.seq ?? 0 };
  }

  /** Appends the hashes a write affected to the feed, and prunes what is past retention. */
  #changed(...hashes: string[]): void {
    const sql = this.ctx.storage.sql;
    const now = Date.now();
    for (const hash of hashes) sql.exec("INSERT INTO key_changes (hash, at) VALUES (?, ?)", hash, now);
    sql.exec("DELETE FROM key_changes WHERE at < ? AND seq < (SELECT max(seq) FROM key_changes)", now - FEED_RETENTION_MS);
  }

  async create(input: NewKey): Promise<StoreResult<KeyRecord>> {
    if (!/^[0-9a-f]{64}$/.test(input.hash)) throw new TypeError("create: hash must be a hex SHA-256");
    const scopes = checkScopes(input.scopes ?? []);
    const now = Date.now();
    const sql = this.ctx.storage.sql;
    const taken = sql.exec("SELECT 1 FROM api_keys WHERE id = ? OR hash = ?", input.id, input.hash).toArray().length > 0;
    if (taken) return { ok: false, error: "conflict" };
    sql.exec(
      "INSERT INTO api_keys (id, hash, name, owner, plan, scopes, status, created_at, updated_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, 'active', ?, ?, ?)",
      input.id, input.hash, input.name, input.owner, input.plan, JSON.stringify(scopes), now, now, input.expiresAt,
    );
    // A new hash was "unknown" until now: an isolate may remember that (cache.ts), so it is a change.
    this.#changed(input.hash);
    return { ok: true, value: this.#byId(input.id)! };
  }

  /** The record for a key hash (or null) and the feed position it was read at. The hot path's miss. */
  async lookup(hash: string): Promise<KeyLookup> {
    this.#stats.lookups++;
    const row = this.ctx.storage.sql.exec<Row>(`SELECT ${COLUMNS} FROM api_keys WHERE hash = ?`, hash).toArray()[0];
    return { record: row ? toRecord(row) : null, at: this.#position() };
  }

  /** The hashes changed after `from` (null: the isolate has no position yet, so it resets). */
  async changesSince(from: FeedPosition | null): Promise<FeedUpdate> {
    this.#stats.feedPolls++;
    const at = this.#position();
    if (from === null || from.epoch !== this.#epoch || from.seq > at.seq) return { at, reset: true };
    if (from.seq === at.seq) return { at, changes: [], reset: false };
    const sql = this.ctx.storage.sql;
    const oldest = sql.exec<{ seq: number }>("SELECT min(seq) AS seq FROM key_changes").one().seq;
    // Changes after from.seq were pruned (from.seq + 1 is no longer listed), or there are too many.
    if (from.seq + 1 < oldest || at.seq - from.seq > FEED_MAX_HASHES) return { at, reset: true };
    const changes = sql.exec<{ hash: string; seq: number }>("SELECT hash, max(seq) AS seq FROM key_changes WHERE seq > ? GROUP BY hash", from.seq).toArray();
    return { at, changes, reset: false };
  }

  /** Calls served since this object started (the benchmark reads it before and after a run). */
  async stats(): Promise<KeyStoreStats> {
    return { ...this.#stats };
  }

  async get(id: string): Promise<KeyRecord | null> {
    return this.#byId(id);
  }

  /**
   * Keys in creation order, `limit` per page, optionally one owner's, optionally those whose name or
   * owner contains `search` (case-insensitive for ASCII letters; a scan, which suits an admin list).
   */
  async list(options: { limit: number; cursor?: string | null; owner?: string | null; search?: string | null }): Promise<KeyPage> {
    const limit = Math.min(Math.max(1, Math.floor(options.limit)), 1000);
    const after = decodeCursor(options.cursor ?? null);
    const where: string[] = [], args: (string | number)[] = [];
    if (options.owner) { where.push("owner = ?"); args.push(options.owner); }
    if (options.search) {
      const pattern = `%${options.search.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
      where.push("(name LIKE ? ESCAPE '\\' OR owner LIKE ? ESCAPE '\\')");
      args.push(pattern, pattern);
    }
    if (after !== null) { where.push("seq > ?"); args.push(after); }
    const rows = this.ctx.storage.sql.exec<Row>(
      `SELECT ${COLUMNS} FROM api_keys ${where.length ? "WHERE " + where.join(" AND ") : ""} ORDER BY seq LIMIT ?`,
      ...args, limit + 1,
    ).toArray();
    const last = rows[limit - 1];
    return { keys: rows.slice(0, limit).map(toRecord), nextCursor: rows.length > limit && last ? encodeCursor(last.seq) : null };
  }

  /** Changes the plan, the scopes or both, in one write. */
  async change(id: string, changes: KeyChanges): Promise<StoreResult<KeyRecord>> {
    const scopes = changes.scopes === undefined ? null : JSON.stringify(checkScopes(changes.scopes));
    if (changes.plan !== undefined && (typeof changes.plan !== "string" || changes.plan.length === 0)) throw new TypeError("change: plan must be a non-empty string");
    return this.#update(id, (sql, now) => sql.exec(
      "UPDATE api_keys SET plan = coalesce(?, plan), scopes = coalesce(?, scopes), updated_at = ? WHERE id = ?",
      changes.plan ?? null, scopes, now, id,
    ));
  }

  async setStatus(id: string, status: KeyStatus): Promise<StoreResult<KeyRecord>> {
    if (!KEY_STATUSES.includes(status)) throw new TypeError(`setStatus: unknown status ${String(status)}`);
    return this.#update(id, (sql, now) => sql.exec("UPDATE api_keys SET status = ?, updated_at = ? WHERE id = ?", status, now, id));
  }

  /** Replaces the key's hash; returns the record and the previous hash (to drop from caches). */
  async rotate(id: string, newHash: string): Promise<StoreResult<{ record: KeyRecord; previousHash: string }>> {
    if (!/^[0-9a-f]{64}$/.test(newHash)) throw new TypeError("rotate: hash must be a hex SHA-256");
    const before = this.#byId(id);
    if (!before) return { ok: false, error: "not_found" };
    if (before.status === "revoked") return { ok: false, error: "revoked" };
    if (this.ctx.storage.sql.exec("SELECT 1 FROM api_keys WHERE hash = ?", newHash).toArray().length > 0) return { ok: false, error: "conflict" };
    this.ctx.storage.sql.exec("UPDATE api_keys SET hash = ?, updated_at = ? WHERE id = ?", newHash, Date.now(), id);
    this.#changed(before.hash, newHash);
    return { ok: true, value: { record: this.#byId(id)!, previousHash: before.hash } };
  }

  #update(id: string, write: (sql: SqlStorage, now: number) => void): StoreResult<KeyRecord> {
    const before = this.#byId(id);
    if (!before) return { ok: false, error: "not_found" };
    if (before.status === "revoked") return { ok: false, error: "revoked" };
    write(this.ctx.storage.sql, Date.now());
    this.#changed(before.hash);
    return { ok: true, value: this.#byId(id)! };
  }

  #byId(id: string): KeyRecord | null {
    const row = this.ctx.storage.sql.exec<Row>(`SELECT ${COLUMNS} FROM api_keys WHERE id = ?`, id).toArray()[0];
    return row ? toRecord(row) : null;
  }
}

// The Worker is the only caller, but a malformed call must fail loudly rather than store junk.
function checkScopes(scopes: readonly string[]): string[] {
  if (!Array.isArray(scopes) || scopes.length > MAX_KEY_SCOPES || !scopes.every((s) => typeof s === "string" && SCOPE_TOKEN.test(s)))
    throw new TypeError(`scopes must be at most ${MAX_KEY_SCOPES} scope tokens`);
  return normalizeScopes(scopes);
}

/** The stored JSON array; anything unreadable reads as no scopes (fail closed: a scoped route refuses). */
function scopesOf(text: string): string[] {
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? value.filter((s): s is string => typeof s === "string") : [];
  } catch {
    return [];
  }
}

function toRecord(row: Row): KeyRecord {
  return {
    id: row.id, hash: row.hash, name: row.name, owner: row.owner, plan: row.plan, scopes: scopesOf(row.scopes), status: row.status as KeyStatus,
    createdAt: row.created_at, updatedAt: row.updated_at, expiresAt: row.expires_at,
  };
}
