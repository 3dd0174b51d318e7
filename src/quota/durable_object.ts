/**
 * QuotaCounter: one Durable Object per counted identity (`key:<keyId>`, `plan:<plan>:ip:<addr>`,
 * `plan:<plan>:jwt:<claim>:<value>`; see counterName in client.ts). A Durable Object runs one call at a
 * time and each call here is one synchronous SQLite transaction, so check-and-consume is atomic: a
 * quota of Q admits exactly Q requests whatever the number of isolates and clients.
 *
 * Exactly-once: every call carries a call id chosen by the gateway for that request. The first call
 * with an id records its decision in `applied` inside the same transaction as the consumption; a
 * repeated id (a retry after a timeout or a broken stub) gets the stored decision back and consumes
 * nothing. An alarm prunes ids older than APPLIED_RETENTION_MS.
 *
 * Everything lives in SQLite storage, so decisions survive eviction, restarts and code updates.
 * The plan (limits) comes with each call, so a plan edited in routes.json applies on the next call:
 * the bucket is clamped to the new burst, and the quota keeps its count within the same period.
 */
import { DurableObject } from "cloudflare:workers";
import { EMPTY_STATE, decide, peek, type CounterState, type Decision, type Limits } from "./decision.ts";
import { PERIODS } from "./schema.ts";

/** How long a call id is remembered: far beyond one retry (a limiter call times out after seconds). */
export const APPLIED_RETENTION_MS = 120_000;
const PRUNE_EVERY_MS = 60_000;

export interface ConsumeRequest {
  /** Gateway-chosen id of this request's limiter call; a retry reuses it. */
  callId: string;
  /** Units this request weighs (the route's `cost`). */
  cost: number;
  limits: Limits;
}

export type CounterDecision = Decision & { replayed: boolean };

export class QuotaCounter extends DurableObject {
  /**
   * The counter's clock (ms since epoch). Production reads the Durable Object's own clock, never the
   * caller's (isolates in different places disagree). Tests replace it on the live instance through
   * `runInDurableObject`; instance fields are not reachable over RPC, so no caller can set it.
   */
  clock: () => number = () => Date.now();
  #pruneAt: number | null = null;

  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS counter (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        level INTEGER, level_at INTEGER NOT NULL, period_start INTEGER, used INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS applied (call_id TEXT PRIMARY KEY, at INTEGER NOT NULL, decision TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS applied_by_time ON applied (at);
    `);
    void ctx.blockConcurrencyWhile(async () => { this.#pruneAt = await ctx.storage.getAlarm(); });
  }

  /** Checks and, if admitted, consumes `cost` units, atomically and at most once per `callId`. */
  async consume(request: ConsumeRequest): Promise<CounterDecision> {
    checkRequest(request);
    const now = this.clock();
    const sql = this.ctx.storage.sql;
    const result = this.ctx.storage.transactionSync((): CounterDecision => {
      const seen = sql.exec<{ decision: string }>("SELECT decision FROM applied WHERE call_id = ?", request.callId).toArray()[0];
      if (seen) return { ...(JSON.parse(seen.decision) as Decision), replayed: true };
      const { decision, state } = decide(request.limits, this.#load(), request.cost, now);
      sql.exec(
        "INSERT INTO counter (id, level, level_at, period_start, used) VALUES (1, ?, ?, ?, ?) " +
        "ON CONFLICT (id) DO UPDATE SET level = excluded.level, level_at = excluded.level_at, period_start = excluded.period_start, used = excluded.used",
        state.level, state.levelAt, state.periodStart, state.used,
      );
      sql.exec("INSERT INTO applied (call_id, at, decision) VALUES (?, ?, ?)", request.callId, now, JSON.stringify(decision));
      return { ...decision, replayed: false };
    });
    if (this.#pruneAt === null) {
      this.#pruneAt = Date.now() + PRUNE_EVERY_MS;
      await this.ctx.storage.setAlarm(this.#pruneAt);
    }
    return result;
  }

  /** Current usage under `limits`, consuming nothing (the admin usage endpoint). */
  async usage(limits: Limits): Promise<Decision> {
    checkLimits(limits);
    return peek(limits, this.#load(), this.clock());
  }

  /**
   * Forgets what was counted: a full bucket and nothing used this period (the admin usage reset, for
   * support cases). Call ids already applied stay applied, so a retried call still counts once.
   */
  async reset(): Promise<void> {
    this.ctx.storage.sql.exec("DELETE FROM counter");
  }

  override async alarm(): Promise<void> {
    const sql = this.ctx.storage.sql;
    sql.exec("DELETE FROM applied WHERE at < ?", this.clock() - APPLIED_RETENTION_MS);
    const left = sql.exec<{ n: number }>("SELECT count(*) AS n FROM applied").one().n;
    this.#pruneAt = left > 0 ? Date.now() + PRUNE_EVERY_MS : null;
    if (this.#pruneAt !== null) await this.ctx.storage.setAlarm(this.#pruneAt);
  }

  #load(): CounterState {
    const row = this.ctx.storage.sql
      .exec<{ level: number | null; level_at: number; period_start: number | null; used: number }>("SELECT level, level_at, period_start, used FROM counter WHERE id = 1")
      .toArray()[0];
    return row ? { level: row.level, levelAt: row.level_at, periodStart: row.period_start, used: row.used } : EMPTY_STATE;
  }
}

// The Worker is the only caller, but a malformed call must fail loudly rather than corrupt a counter.
function checkRequest(r: ConsumeRequest): void {
  if (typeof r?.callId !== "string" || r.callId.length === 0 || r.callId.length > 200) throw new TypeError("consume: callId must be a non-empty string");
  if (!Number.isSafeInteger(r.cost) || r.cost < 1) throw new TypeError("consume: cost must be a positive integer");
  checkLimits(r.limits);
}

function checkLimits(l: Limits): void {
  const positive = (n: unknown) => Number.isSafeInteger(n) && (n as number) > 0;
  if (!l || (!l.rate && !l.quota)) throw new TypeError("limits need rate, quota or both");
  if (l.rate && !(positive(l.rate.limit) && positive(l.rate.perMs) && positive(l.rate.burst))) throw new TypeError("limits.rate is malformed");
  if (l.quota && !(positive(l.quota.limit) && (PERIODS as readonly string[]).includes(l.quota.period))) throw new TypeError("limits.quota is malformed");
}
