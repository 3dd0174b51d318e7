/**
 * CachePurges: the purge generations of the edge cache, in SQLite, in one object.
 *
 * The Cache API deletes by exact key and only in the data center that runs the delete, so a purge
 * cannot delete entries: it makes them unreachable. Every cache key carries the route's generation
 * and the path's generation; a purge increments one, and from then on no isolate computes the old
 * key again. Isolates read the whole state (a snapshot, sent only when its version changed) at
 * most once per PURGE_CHECK_MS (client.ts), never per request.
 *
 * Path generations are kept only while an entry stored under the old generation could still be
 * served: `keepUntil` is set by the caller (the route's ttl + stale window + the check interval).
 * After that the row is pruned and the path's generation reads as 0 again, which is safe because
 * every entry ever stored under (route generation, 0) has expired by then. At most MAX_PATHS rows
 * are kept; a path purge beyond that purges the whole route instead (more than asked, never less).
 */
import { DurableObject } from "cloudflare:workers";
import { MAX_PATHS } from "./limits.ts";

export interface PurgeSnapshot {
  version: number;
  /** route id -> generation (absent: 0). */
  routes: Record<string, number>;
  /** [route id, canonical path, generation] (absent: 0). */
  paths: [string, string, number][];
}

export interface PurgeResult {
  route: string;
  path: string | null;
  generation: number;
  /** True when a path purge was widened to the whole route (MAX_PATHS reached). */
  widened: boolean;
}

export class CachePurges extends DurableObject {
  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS route_generations (route TEXT PRIMARY KEY, generation INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS path_generations (
        route TEXT NOT NULL, path TEXT NOT NULL, generation INTEGER NOT NULL, keep_until INTEGER NOT NULL,
        PRIMARY KEY (route, path)
      );
      CREATE TABLE IF NOT EXISTS state (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);
      INSERT OR IGNORE INTO state (id, version) VALUES (1, 0);
    `);
  }

  /** The whole state, or null when the caller already has `knownVersion`. */
  async snapshot(knownVersion: number): Promise<PurgeSnapshot | null> {
    const version = this.#version();
    if (version === knownVersion) return null;
    const sql = this.ctx.storage.sql;
    const routes: Record<string, number> = {};
    for (const row of sql.exec<{ route: string; generation: number }>("SELECT route, generation FROM route_generations")) routes[row.route] = row.generation;
    const paths = sql.exec<{ route: string; path: string; generation: number }>("SELECT route, path, generation FROM path_generations").toArray()
      .map((row): [string, string, number] => [row.route, row.path, row.generation]);
    return { version, routes, paths };
  }

  /** Makes every entry of `route` unreachable. */
  async purgeRoute(route: string): Promise<PurgeResult> {
    return { route, path: null, generation: this.#bumpRoute(route), widened: false };
  }

  /** Makes every entry of `path` under `route` unreachable (every host, identity and query). */
  async purgePath(route: string, path: string, keepUntil: number): Promise<PurgeResult> {
    const sql = this.ctx.storage.sql;
    return this.ctx.storage.transactionSync(() => {
      sql.exec("DELETE FROM path_generations WHERE keep_until < ?", Date.now());
      const row = sql.exec<{ generation: number; keep_until: number }>("SELECT generation, keep_until FROM path_generations WHERE route = ? AND path = ?", route, path).toArray()[0];
      if (!row && sql.exec<{ n: number }>("SELECT count(*) AS n FROM path_generations").one().n >= MAX_PATHS) {
        return { route, path, generation: this.#bumpRoute(route), widened: true };
      }
      const generation = (row?.generation ?? 0) + 1;
      sql.exec(
        "INSERT INTO path_generations (route, path, generation, keep_until) VALUES (?, ?, ?, ?) ON CONFLICT (route, path) DO UPDATE SET generation = excluded.generation, keep_until = excluded.keep_until",
        route, path, generation, Math.max(keepUntil, row?.keep_until ?? 0),
      );
      this.#touch();
      return { route, path, generation, widened: false };
    });
  }

  #bumpRoute(route: string): number {
    const sql = this.ctx.storage.sql;
    return this.ctx.storage.transactionSync(() => {
      const generation = (sql.exec<{ generation: number }>("SELECT generation FROM route_generations WHERE route = ?", route).toArray()[0]?.generation ?? 0) + 1;
      sql.exec("INSERT INTO route_generations (route, generation) VALUES (?, ?) ON CONFLICT (route) DO UPDATE SET generation = excluded.generation", route, generation);
      // The route's new generation makes every key new: its path generations are no longer needed.
      sql.exec("DELETE FROM path_generations WHERE route = ?", route);
      this.#touch();
      return generation;
    });
  }

  #version(): number {
    return this.ctx.storage.sql.exec<{ version: number }>("SELECT version FROM state WHERE id = 1").one().version;
  }

  #touch(): void {
    this.ctx.storage.sql.exec("UPDATE state SET version = version + 1 WHERE id = 1");
  }
}
