/**
 * TargetHealth: the health board. The checker (the Worker's `scheduled` handler) records each
 * probe here; isolates read the targets that are out, at most every few seconds (client.ts).
 *
 * One object (HEALTH_BOARD_NAME): it takes one write per probe round and one small read per isolate
 * per HEALTH_REFRESH_MS, far below the per-object limit. A target's state changes only after
 * `unhealthyAfter` failed probes in a row (out) or `healthyAfter` passed probes in a row (back in),
 * so one lost probe does not flap it. A new target starts healthy. An "out" verdict is valid until
 * `validForMs` after its probe: if the checker stops (its cron removed), targets come back rather
 * than stay out on stale evidence.
 */
import { DurableObject } from "cloudflare:workers";

export interface ProbeResult {
  key: string;
  ok: boolean;
  /** The probe's status, or "connect" / "timeout". */
  detail: string;
  unhealthyAfter: number;
  healthyAfter: number;
  /** How long this verdict stands without a newer probe. */
  validForMs: number;
}

export interface TargetHealthState {
  key: string;
  healthy: boolean;
  /** Failed probes in a row (0 after a pass). */
  failures: number;
  /** Passed probes in a row (0 after a failure). */
  successes: number;
  checkedAt: number;
  validUntil: number;
  detail: string;
}

export interface StateChange {
  key: string;
  healthy: boolean;
  detail: string;
}

type Row = { key: string; healthy: number; failures: number; successes: number; checked_at: number; valid_until: number; detail: string };

export class TargetHealth extends DurableObject {
  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS target_health (
        key TEXT PRIMARY KEY,
        healthy INTEGER NOT NULL,
        failures INTEGER NOT NULL,
        successes INTEGER NOT NULL,
        checked_at INTEGER NOT NULL,
        valid_until INTEGER NOT NULL,
        detail TEXT NOT NULL
      );
    `);
  }

  /**
   * Records one round of probes and returns the targets whose state changed. `known`: every key the
   * checker's table has; rows of targets no longer in the table are dropped.
   */
  async record(results: ProbeResult[], known: string[], now = Date.now()): Promise<StateChange[]> {
    const sql = this.ctx.storage.sql;
    const changes: StateChange[] = [];
    this.ctx.storage.transactionSync(() => {
      for (const result of results) {
        const row = sql.exec<Row>("SELECT * FROM target_health WHERE key = ?", result.key).toArray()[0];
        let healthy = row ? row.healthy === 1 : true;
        const failures = result.ok ? 0 : (row?.failures ?? 0) + 1;
        const successes = result.ok ? (row?.successes ?? 0) + 1 : 0;
        if (healthy && failures >= result.unhealthyAfter) healthy = false;
        else if (!healthy && successes >= result.healthyAfter) healthy = true;
        if (row !== undefined && (row.healthy === 1) !== healthy) changes.push({ key: result.key, healthy, detail: result.detail });
        if (row === undefined && !healthy) changes.push({ key: result.key, healthy, detail: result.detail });
        sql.exec(
          "INSERT OR REPLACE INTO target_health (key, healthy, failures, successes, checked_at, valid_until, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
          result.key, healthy ? 1 : 0, failures, successes, now, now + result.validForMs, result.detail,
        );
      }
      const keep = new Set(known);
      for (const { key } of sql.exec<{ key: string }>("SELECT key FROM target_health").toArray()) {
        if (!keep.has(key)) sql.exec("DELETE FROM target_health WHERE key = ?", key);
      }
    });
    return changes;
  }

  /** The targets that are out now, each with the time its verdict stands until. The isolates' read. */
  async unhealthy(now = Date.now()): Promise<{ key: string; until: number }[]> {
    return this.ctx.storage.sql.exec<{ key: string; until: number }>(
      "SELECT key, valid_until AS until FROM target_health WHERE healthy = 0 AND valid_until > ?", now,
    ).toArray();
  }

  /** Every target's state (operators, tests). */
  async states(): Promise<TargetHealthState[]> {
    return this.ctx.storage.sql.exec<Row>("SELECT * FROM target_health ORDER BY key").toArray().map((r) => ({
      key: r.key, healthy: r.healthy === 1, failures: r.failures, successes: r.successes,
      checkedAt: r.checked_at, validUntil: r.valid_until, detail: r.detail,
    }));
  }
}
