/**
 * KeyStore: API key records in SQLite, found by the SHA-256 hash of the key (never the key).
 *
 * Sharding: one object, named KEY_STORE_NAME. Every request's lookup is cached in its isolate (see
 * cache.ts), so the object sees at most one read per active key per isolate per 0.9 s plus unknown
 * keys; admin writes are rare. One object keeps list, pagination and the uniqueness of hashes and ids
 * simple and transactional. Past roughly 1,000 lookups/s (the per-object soft limit) the next step is
 * to shard by the hash's first hex digit and put the shard in the key id; nothing else changes.
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

export type StoreResult<T> = { ok: true; value: T } | { ok: false; error: "not_found" | "revoked" | "conflict" };

export interface KeyPage {
  keys: KeyRecord[];
  /** Opaque; pass back as `cursor` for the next page. Null on the last page. */
  nextCursor: string | null;
}

type Row = { seq: number; id: string; hash: string; name: string; owner: string; plan: string; scopes: string; status: string; created_at: number; updated_at: number; expires_at: number | null };

const COLUMNS = "seq, id, hash, name, owner, plan, scopes, status, created_at, updated_at, expires_at";

export class KeyStore extends DurableObject {
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
    return { ok: true, value: this.#byId(input.id)! };
  }

  /** The record for a key hash, or null. The hot path (through the isolate cache). */
  async lookup(hash: string): Promise<KeyRecord | null> {
    const row = this.ctx.storage.sql.exec<Row>(`SELECT ${COLUMNS} FROM api_keys WHERE hash = ?`, hash).toArray()[0];
    return row ? toRecord(row) : null;
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
    return { ok: true, value: { record: this.#byId(id)!, previousHash: before.hash } };
  }

  #update(id: string, write: (sql: SqlStorage, now: number) => void): StoreResult<KeyRecord> {
    const before = this.#byId(id);
    if (!before) return { ok: false, error: "not_found" };
    if (before.status === "revoked") return { ok: false, error: "revoked" };
    write(this.ctx.storage.sql, Date.now());
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
