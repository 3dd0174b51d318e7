/**
 * RoomsIndex: which rooms have connections, for the console and the admin API (`GET /rooms`).
 *
 * Rooms are Durable Objects named by the room, so nothing can list them. Each RoomObject reports
 * its connection count here when it changes, in `waitUntil` after it has answered (the connect's
 * 101 and every close are not held for it), with at most one report in flight per room: changes
 * that arrive meanwhile are sent as one report of the latest count (see RoomObject #reportCount).
 * So no request pays a round trip it did not pay before, and a burst of a thousand joins is a
 * handful of reports.
 *
 * The index is a hint, not the truth: a room whose object was reset (a code update drops its
 * sockets without close events) may be listed with connections it no longer has. The admin API
 * asks each listed room for its live count and corrects the index (src/admin/rooms.ts).
 *
 * One object (ROOMS_INDEX_NAME in index_client.ts): reports are one small upsert each, far below the per-object limit
 * at the rate connections change; past that, shard by the room name's hash and list every shard.
 */
import { DurableObject } from "cloudflare:workers";

/** Rooms that emptied are kept this long (so a late, older report cannot resurrect them), then pruned. */
const EMPTY_KEEP_MS = 3_600_000;

export interface IndexedRoom {
  room: string;
  connections: number;
  /** When the room last reported (ISO 8601). */
  updatedAt: string;
}

export interface RoomPage {
  rooms: IndexedRoom[];
  /** The last room name of this page; pass it back as `after` for the next. Null on the last page. */
  next: string | null;
}

export class RoomsIndex extends DurableObject {
  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS rooms (
        name TEXT PRIMARY KEY,
        connections INTEGER NOT NULL,
        updated_at INTEGER NOT NULL -- the room's own clock at the report; older reports are ignored
      );
      CREATE INDEX IF NOT EXISTS rooms_by_time ON rooms (updated_at);
    `);
  }

  /** The room's count as of `at` (its clock); an older report than the stored one changes nothing. */
  async report(room: string, connections: number, at: number): Promise<void> {
    if (typeof room !== "string" || room.length === 0 || room.length > 128) throw new TypeError("report: room must be a room name");
    if (!Number.isSafeInteger(connections) || connections < 0 || !Number.isSafeInteger(at)) throw new TypeError("report: connections and at must be integers");
    this.ctx.storage.sql.exec(
      "INSERT INTO rooms (name, connections, updated_at) VALUES (?, ?, ?) " +
      "ON CONFLICT (name) DO UPDATE SET connections = excluded.connections, updated_at = excluded.updated_at WHERE excluded.updated_at >= rooms.updated_at",
      room, connections, at,
    );
  }

  /** Rooms with connections, by name, `limit` per page after the name `after`. */
  async list(options: { limit: number; after?: string | null }): Promise<RoomPage> {
    const limit = Math.min(Math.max(1, Math.floor(options.limit)), 1000);
    const sql = this.ctx.storage.sql;
    sql.exec("DELETE FROM rooms WHERE connections = 0 AND updated_at < ?", Date.now() - EMPTY_KEEP_MS);
    const rows = sql.exec<{ name: string; connections: number; updated_at: number }>(
      "SELECT name, connections, updated_at FROM rooms WHERE connections > 0 AND name > ? ORDER BY name LIMIT ?",
      options.after ?? "", limit + 1,
    ).toArray();
    const page = rows.slice(0, limit);
    return {
      rooms: page.map((r) => ({ room: r.name, connections: r.connections, updatedAt: new Date(r.updated_at).toISOString() })),
      next: rows.length > limit ? page[page.length - 1]!.name : null,
    };
  }
}
