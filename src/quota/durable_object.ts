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
 * Two ways to count (a plan's `counting`, see docs/quotas.md):
 *
 * - `consume` (exact): one call per request, which checks and consumes that request's cost.
 * - `acquire` / `release` (leases, the default): an isolate takes a lease of several units in one
 *   call and spends them in memory. Granted units are consumed at once, from the bucket and the
 *   quota alike, so the counter never has more out than it had; units come back only when the
 *   isolate reports them unspent (`settle` on its next acquire, or `release`). A lease never
 *   outlives its quota period (its time to live ends at the period's end at the latest), and units
 *   of a lease nobody reports stay spent: under-admission, never over-admission.
 *
 * Everything lives in SQLite storage, so decisions and leases survive eviction, restarts and code
 * updates. The plan (limits) comes with each call, so a plan edited in routes.json applies on the
 * next call: the bucket is clamped to the new burst, and the quota keeps its count within the same
 * period.
 */
import { DurableObject } from "cloudflare:workers";
import { EMPTY_STATE, LEASE_TTL_MS, credit, decide, grant, grantScope, peek, periodOf, type CounterState, type Decision, type Limits } from "./decision.ts";
import { PERIODS } from "./schema.ts";

/** How long a call id is remembered: far beyond one retry (a limiter call times out after seconds). */
export const APPLIED_RETENTION_MS = 120_000;
const PRUNE_EVERY_MS = 60_000;

/**
 * How long a lease nobody settled is remembered after it expired. A report later than that is
 * ignored (its units stay spent); until then `usage` counts its units as leased.
 */
export const LEASE_RETENTION_MS = 3_600_000;

export interface AcquireRequest {
  /** Gateway-chosen id of this call; a retry reuses it and gets the same grant. */
  callId: string;
  limits: Limits;
  /** Units the request making this call costs: granted whole or refused. 0 for a renewal in the background. */
  min: number;
  /** Units for the requests waiting on this call, `min` included: granted as available. */
  need: number;
  /** Units wanted in all (at least `need`): the isolate's sizing rule. The counter may grant fewer. */
  want: number;
  /** Add the units to this lease of the caller's (and extend it) if the counter still holds it open. */
  lease?: { id: string; spent: number } | undefined;
  /** A lease of the caller's that expired: the units it did not spend, given back. */
  settle?: { id: string; unused: number } | undefined;
}

export interface Grant {
  /** The lease the units are on: the one asked to top up, a new one, or null (nothing granted). */
  lease: string | null;
  units: number;
  /** How long the lease may be spent, from the grant; never past the quota period's end. */
  ttlMs: number;
  /** The counter after the grant (`allowed` false: fewer than `min` units were available). */
  decision: Decision;
  replayed: boolean;
}

export interface ReleaseRequest {
  limits: Limits;
  id: string;
  /** Units of the lease the isolate did not spend and never will. */
  unused: number;
}

/** What `usage` reports: the counter's state, plus units out on leases and the calls answered. */
export type Usage = Decision & {
  /** Units out on leases beyond the requests that waited for them: not yet reported spent or unspent (already counted in `used`). */
  leased: number;
  /** Calls this counter has answered on the request path (consume, acquire, release), all time. */
  calls: number;
};

type LeaseRow = { units: number; spent: number; period_start: number | null; expires_at: number; settled: number };

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
      CREATE TABLE IF NOT EXISTS leases (
        id TEXT PRIMARY KEY, units INTEGER NOT NULL, spent INTEGER NOT NULL, waited INTEGER NOT NULL,
        period_start INTEGER, expires_at INTEGER NOT NULL, settled INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS stats (id INTEGER PRIMARY KEY CHECK (id = 1), calls INTEGER NOT NULL);
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
      this.#store(state);
      sql.exec("INSERT INTO applied (call_id, at, decision) VALUES (?, ?, ?)", request.callId, now, JSON.stringify(decision));
      this.#counted();
      return { ...decision, replayed: false };
    });
    await this.#schedulePrune();
    return result;
  }

  /**
   * Grants a lease, or tops one up: at least `min` units or none (a refusal, as `consume` would
   * refuse `min`), sized by `grant` (decision.ts), consumed at once. Settles `settle` first, so
   * units given back are available to this very grant. Atomic and at most once per `callId`.
   */
  async acquire(request: AcquireRequest): Promise<Grant> {
    checkAcquire(request);
    const now = this.clock();
    const sql = this.ctx.storage.sql;
    const result = this.ctx.storage.transactionSync((): Grant => {
      const seen = sql.exec<{ decision: string }>("SELECT decision FROM applied WHERE call_id = ?", request.callId).toArray()[0];
      if (seen) return { ...(JSON.parse(seen.decision) as Omit<Grant, "replayed">), replayed: true };
      const { limits } = request;
      let state = this.#load();
      if (request.settle) state = this.#settle(limits, state, request.settle.id, request.settle.unused, now);

      const period = periodOf(limits, state, now);
      const periodEnd = limits.quota && period !== null ? decide(limits, state, 0, now).decision.quota!.periodEnd : Infinity;
      const ttlMs = Math.max(0, Math.min(LEASE_TTL_MS, periodEnd - now));
      let open: LeaseRow | undefined;
      if (request.lease) {
        const row = this.#lease(request.lease.id);
        // Open: not settled, not expired here, and of the period now counting. Anything else is
        // closed for good (its units stay spent) and the units go on a new lease.
        if (row && row.settled === 0 && row.expires_at > now && row.period_start === period) open = row;
        else if (row && row.settled === 0) sql.exec("UPDATE leases SET settled = 1 WHERE id = ?", request.lease.id);
      }
      const granted = grant(limits, state, request, now, grantScope(ttlMs));
      let lease: string | null = null;
      // `spent` is what the isolate reported; `waited`, the units of this call's waiting requests,
      // spent as soon as the grant arrives (the next report includes them). `usage` counts the rest
      // as leased; a settle may give back up to units - spent.
      const waited = Math.min(granted.units, request.need);
      if (open && request.lease) {
        lease = request.lease.id;
        sql.exec("UPDATE leases SET spent = max(spent, min(units, ?)), waited = ?, units = units + ?, expires_at = ? WHERE id = ?",
          request.lease.spent, waited, granted.units, now + ttlMs, lease);
      } else if (granted.units > 0) {
        lease = crypto.randomUUID();
        sql.exec("INSERT INTO leases (id, units, spent, waited, period_start, expires_at, settled) VALUES (?, ?, 0, ?, ?, ?, 0)", lease, granted.units, waited, period, now + ttlMs);
      }
      this.#store(granted.state);
      const answer: Omit<Grant, "replayed"> = { lease, units: granted.units, ttlMs, decision: granted.decision };
      sql.exec("INSERT INTO applied (call_id, at, decision) VALUES (?, ?, ?)", request.callId, now, JSON.stringify(answer));
      this.#counted();
      return { ...answer, replayed: false };
    });
    await this.#schedulePrune();
    return result;
  }

  /** An isolate lets a lease go: its unspent units come back (once; a repeated release is a no-op). */
  async release(request: ReleaseRequest): Promise<void> {
    checkLimits(request.limits);
    if (typeof request.id !== "string" || request.id.length === 0 || request.id.length > 200) throw new TypeError("release: id must be a non-empty string");
    if (!Number.isSafeInteger(request.unused) || request.unused < 0) throw new TypeError("release: unused must be a non-negative integer");
    const now = this.clock();
    this.ctx.storage.transactionSync(() => {
      this.#store(this.#settle(request.limits, this.#load(), request.id, request.unused, now));
      this.#counted();
    });
    await this.#schedulePrune();
  }

  /** Current usage under `limits`, consuming nothing (the admin usage endpoint). */
  async usage(limits: Limits): Promise<Usage> {
    checkLimits(limits);
    const now = this.clock();
    const state = this.#load();
    const sql = this.ctx.storage.sql;
    const period = periodOf(limits, state, now);
    const leased = sql.exec<{ n: number | null }>(
      "SELECT sum(max(0, units - spent - waited)) AS n FROM leases WHERE settled = 0 AND period_start IS ?", period,
    ).one().n ?? 0;
    const calls = sql.exec<{ calls: number }>("SELECT calls FROM stats WHERE id = 1").toArray()[0]?.calls ?? 0;
    return { ...peek(limits, state, now), leased, calls };
  }

  /**
   * Forgets what was counted: a full bucket and nothing used this period (the admin usage reset, for
   * support cases). Call ids already applied stay applied, so a retried call still counts once.
   * Open leases are closed with it: their unspent units are not credited back to the fresh count
   * (they belonged to the count that was forgotten). Isolates may still spend what they hold until
   * those leases expire (at most 30 s), which is the one way a reset can admit more than the plan
   * in the minute after it (docs/quotas.md).
   */
  async reset(): Promise<void> {
    this.ctx.storage.transactionSync(() => {
      this.ctx.storage.sql.exec("DELETE FROM counter");
      this.ctx.storage.sql.exec("UPDATE leases SET settled = 1 WHERE settled = 0");
    });
  }

  override async alarm(): Promise<void> {
    const sql = this.ctx.storage.sql;
    const now = this.clock();
    sql.exec("DELETE FROM applied WHERE at < ?", now - APPLIED_RETENTION_MS);
    sql.exec("DELETE FROM leases WHERE (settled = 1 AND expires_at < ?) OR expires_at < ?", now, now - LEASE_RETENTION_MS);
    const left = sql.exec<{ n: number }>("SELECT (SELECT count(*) FROM applied) + (SELECT count(*) FROM leases) AS n").one().n;
    this.#pruneAt = left > 0 ? Date.now() + PRUNE_EVERY_MS : null;
    if (this.#pruneAt !== null) await this.ctx.storage.setAlarm(this.#pruneAt);
  }

  async #schedulePrune(): Promise<void> {
    if (this.#pruneAt !== null) return;
    this.#pruneAt = Date.now() + PRUNE_EVERY_MS;
    await this.ctx.storage.setAlarm(this.#pruneAt);
  }

  /** Closes lease `id` once, giving back up to its unreported units; an unknown or settled lease changes nothing. */
  #settle(limits: Limits, state: CounterState, id: string, unused: number, now: number): CounterState {
    const row = this.#lease(id);
    if (!row || row.settled !== 0) return state;
    const back = Math.max(0, Math.min(unused, row.units - row.spent));
    this.ctx.storage.sql.exec("UPDATE leases SET settled = 1, spent = units - ? WHERE id = ?", back, id);
    return credit(limits, state, back, row.period_start, now);
  }

  #lease(id: string): LeaseRow | undefined {
    return this.ctx.storage.sql
      .exec<LeaseRow>("SELECT units, spent, period_start, expires_at, settled FROM leases WHERE id = ?", id)
      .toArray()[0];
  }

  #counted(): void {
    this.ctx.storage.sql.exec("INSERT INTO stats (id, calls) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET calls = calls + 1");
  }

  #store(state: CounterState): void {
    this.ctx.storage.sql.exec(
      "INSERT INTO counter (id, level, level_at, period_start, used) VALUES (1, ?, ?, ?, ?) " +
      "ON CONFLICT (id) DO UPDATE SET level = excluded.level, level_at = excluded.level_at, period_start = excluded.period_start, used = excluded.used",
      state.level, state.levelAt, state.periodStart, state.used,
    );
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

function checkAcquire(r: AcquireRequest): void {
  const count = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;
  const id = (s: unknown) => typeof s === "string" && s.length > 0 && s.length <= 200;
  if (!id(r?.callId)) throw new TypeError("acquire: callId must be a non-empty string");
  if (!count(r.min) || !count(r.need) || !count(r.want) || r.need < r.min || r.want < r.need) throw new TypeError("acquire: min, need and want must be integers, 0 <= min <= need <= want");
  if (r.lease !== undefined && !(id(r.lease?.id) && count(r.lease.spent))) throw new TypeError("acquire: lease is malformed");
  if (r.settle !== undefined && !(id(r.settle?.id) && count(r.settle.unused))) throw new TypeError("acquire: settle is malformed");
  checkLimits(r.limits);
}

function checkLimits(l: Limits): void {
  const positive = (n: unknown) => Number.isSafeInteger(n) && (n as number) > 0;
  if (!l || (!l.rate && !l.quota)) throw new TypeError("limits need rate, quota or both");
  if (l.rate && !(positive(l.rate.limit) && positive(l.rate.perMs) && positive(l.rate.burst))) throw new TypeError("limits.rate is malformed");
  if (l.quota && !(positive(l.quota.limit) && (PERIODS as readonly string[]).includes(l.quota.period))) throw new TypeError("limits.quota is malformed");
}
