/**
 * MetricsShard: the stored metrics of the routes that hash to it (client.ts shardOf), in SQLite.
 *
 * Isolates send batches of per-minute sums (recorder.ts). Each batch is applied once, in one
 * transaction: its id goes into `applied`, and each entry is added to its minute row, its hour row
 * and, for a route's own entry, the route's all-time totals (the Prometheus counters, which must
 * only ever grow). Adding to the hour at write time is the roll-up: an hour row is exact at every
 * moment, and no job can miss or double a minute. An alarm every PRUNE_EVERY_MS deletes minutes
 * older than 7 days, hours older than 90 days, and batch ids older than APPLIED_RETENTION_MS.
 *
 * Per API key, rows are kept for the KEYS_KEPT keys with the most requests in each route's minute
 * and hour; the rest are summed into the key "(other)" (exact while a route sees at most KEYS_KEPT
 * keys in a period; beyond that a key folded early and busy later is under-counted by what was
 * folded, and "(other)" holds the difference, so the route's own row stays exact).
 *
 * Everything is in storage, so eviction, restarts and code updates lose nothing that was applied.
 */
import { DurableObject } from "cloudflare:workers";
import { Accumulator, isAggregate, merge, type Aggregate, type MetricsView } from "./aggregate.ts";
import {
  APPLIED_RETENTION_MS, HOUR_MS, HOURS_KEPT_MS, KEYS_KEPT, MINUTE_MS, MINUTES_KEPT_MS, OTHER_KEYS, PRUNE_EVERY_MS, type MetricsBatch,
} from "./schema.ts";

const MAX_ENTRIES = 20_000;

export interface SeriesQuery {
  /** One route, or every route of this shard. */
  route?: string | undefined;
  /** One key's series instead of the routes' own. */
  key?: string | undefined;
  /** MINUTE_MS or HOUR_MS: which rows to read. */
  period: number;
  from: number;
  to: number;
  /** A multiple of `period`. */
  step: number;
  /** How many of the busiest keys to list with each route's series (not with `key`). */
  topKeys: number;
}

export type PointView = { at: number } & MetricsView;
export interface SeriesResult {
  route: string;
  key: string | null;
  totals: MetricsView;
  /** Steps with at least one request, oldest first. */
  points: PointView[];
  /** The busiest keys over the range, most requests first (only for a route's own series). */
  topKeys?: ({ key: string } & MetricsView)[];
}

export interface RouteTotals {
  route: string;
  a: Aggregate;
}

export class MetricsShard extends DurableObject {
  /** The shard's clock (retention). Tests replace it through runInDurableObject; not reachable over RPC. */
  clock: () => number = () => Date.now();
  #alarmAt: number | null = null;

  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS series (
        period INTEGER NOT NULL, route TEXT NOT NULL, key TEXT NOT NULL, at INTEGER NOT NULL,
        requests INTEGER NOT NULL, data TEXT NOT NULL,
        PRIMARY KEY (period, route, key, at)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS series_by_age ON series (period, at);
      CREATE TABLE IF NOT EXISTS totals (route TEXT PRIMARY KEY, data TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS applied (batch TEXT PRIMARY KEY, at INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS applied_by_age ON applied (at);
    `);
    void ctx.blockConcurrencyWhile(async () => { this.#alarmAt = await ctx.storage.getAlarm(); });
  }

  /**
   * Adds a batch, once per batch id; `applied` is false for a batch already applied. A malformed
   * batch throws here, before any promise exists (so the refusal is the caller's error only).
   */
  ingest(batch: MetricsBatch): Promise<{ applied: boolean }> {
    checkBatch(batch);
    return this.#ingest(batch);
  }

  async #ingest(batch: MetricsBatch): Promise<{ applied: boolean }> {
    const now = this.clock();
    const sql = this.ctx.storage.sql;
    const applied = this.ctx.storage.transactionSync(() => {
      if (sql.exec("SELECT 1 FROM applied WHERE batch = ?", batch.id).toArray().length > 0) return false;
      sql.exec("INSERT INTO applied (batch, at) VALUES (?, ?)", batch.id, now);
      const keyed = new Map<string, [number, string, number]>();
      for (const e of batch.entries) {
        const hour = e.at - (e.at % HOUR_MS);
        if (e.at >= now - MINUTES_KEPT_MS) this.#add(MINUTE_MS, e.route, e.key, e.at, e.a);
        if (hour >= now - HOURS_KEPT_MS) this.#add(HOUR_MS, e.route, e.key, hour, e.a);
        if (e.key === "") this.#addTotal(e.route, e.a);
        else {
          keyed.set(`${MINUTE_MS}\n${e.route}\n${e.at}`, [MINUTE_MS, e.route, e.at]);
          keyed.set(`${HOUR_MS}\n${e.route}\n${hour}`, [HOUR_MS, e.route, hour]);
        }
      }
      for (const [period, route, at] of keyed.values()) this.#foldKeys(period, route, at);
      return true;
    });
    if (this.#alarmAt === null) {
      this.#alarmAt = Date.now() + PRUNE_EVERY_MS;
      await this.ctx.storage.setAlarm(this.#alarmAt);
    }
    return { applied };
  }

  /** Series over [from, to), merged into steps, with views (percentiles) computed here. */
  async query(q: SeriesQuery): Promise<SeriesResult[]> {
    checkQuery(q);
    const sql = this.ctx.storage.sql;
    const where = ["period = ?", "at >= ?", "at < ?"];
    const args: (string | number)[] = [q.period, q.from, q.to];
    if (q.route !== undefined) { where.push("route = ?"); args.push(q.route); }
    const own = new Map<string, { totals: Accumulator; steps: Map<number, Accumulator> }>();
    const keys = new Map<string, Map<string, Accumulator>>();
    const rows = sql.exec<{ route: string; key: string; at: number; data: string }>(
      `SELECT route, key, at, data FROM series WHERE ${where.join(" AND ")} AND ${q.key !== undefined ? "key = ?" : "1 = 1"} ORDER BY at`,
      ...args, ...(q.key !== undefined ? [q.key] : []),
    );
    for (const row of rows) {
      const a = parse(row.data);
      if (a === undefined) continue;
      if (q.key === undefined && row.key !== "") {
        if (q.topKeys === 0) continue;
        let routeKeys = keys.get(row.route);
        if (!routeKeys) keys.set(row.route, (routeKeys = new Map()));
        let acc = routeKeys.get(row.key);
        if (!acc) routeKeys.set(row.key, (acc = new Accumulator()));
        acc.add(a);
        continue;
      }
      let series = own.get(row.route);
      if (!series) own.set(row.route, (series = { totals: new Accumulator(), steps: new Map() }));
      series.totals.add(a);
      const step = q.from + Math.floor((row.at - q.from) / q.step) * q.step;
      let acc = series.steps.get(step);
      if (!acc) series.steps.set(step, (acc = new Accumulator()));
      acc.add(a);
    }
    return [...own].sort(([a], [b]) => a.localeCompare(b)).map(([route, series]): SeriesResult => {
      const result: SeriesResult = {
        route,
        key: q.key ?? null,
        totals: series.totals.view(),
        points: [...series.steps].sort(([a], [b]) => a - b).map(([at, acc]) => ({ at, ...acc.view() })),
      };
      if (q.key === undefined) {
        result.topKeys = [...(keys.get(route) ?? [])]
          .sort(([ka, a], [kb, b]) => b.requests - a.requests || ka.localeCompare(kb))
          .slice(0, q.topKeys)
          .map(([key, acc]) => ({ key, ...acc.view() }));
      }
      return result;
    });
  }

  /** Every route's all-time sums (the Prometheus counters). */
  async totals(): Promise<RouteTotals[]> {
    const out: RouteTotals[] = [];
    for (const row of this.ctx.storage.sql.exec<{ route: string; data: string }>("SELECT route, data FROM totals ORDER BY route")) {
      const a = parse(row.data);
      if (a !== undefined) out.push({ route: row.route, a });
    }
    return out;
  }

  override async alarm(): Promise<void> {
    const now = this.clock();
    const sql = this.ctx.storage.sql;
    sql.exec("DELETE FROM series WHERE period = ? AND at < ?", MINUTE_MS, now - MINUTES_KEPT_MS);
    sql.exec("DELETE FROM series WHERE period = ? AND at < ?", HOUR_MS, now - HOURS_KEPT_MS);
    sql.exec("DELETE FROM applied WHERE at < ?", now - APPLIED_RETENTION_MS);
    const left = sql.exec<{ n: number }>("SELECT (SELECT count(*) FROM series) + (SELECT count(*) FROM applied) AS n").one().n;
    this.#alarmAt = left > 0 ? Date.now() + PRUNE_EVERY_MS : null;
    if (this.#alarmAt !== null) await this.ctx.storage.setAlarm(this.#alarmAt);
  }

  #add(period: number, route: string, key: string, at: number, a: Aggregate): void {
    const sql = this.ctx.storage.sql;
    const row = sql.exec<{ data: string }>("SELECT data FROM series WHERE period = ? AND route = ? AND key = ? AND at = ?", period, route, key, at).toArray()[0];
    const known = row ? parse(row.data) : undefined;
    const sum = known ? merge(known, a) : a;
    sql.exec(
      "INSERT INTO series (period, route, key, at, requests, data) VALUES (?, ?, ?, ?, ?, ?) " +
      "ON CONFLICT (period, route, key, at) DO UPDATE SET requests = excluded.requests, data = excluded.data",
      period, route, key, at, sum.n[0] ?? 0, JSON.stringify(sum),
    );
  }

  #addTotal(route: string, a: Aggregate): void {
    const sql = this.ctx.storage.sql;
    const row = sql.exec<{ data: string }>("SELECT data FROM totals WHERE route = ?", route).toArray()[0];
    const known = row ? parse(row.data) : undefined;
    sql.exec("INSERT INTO totals (route, data) VALUES (?, ?) ON CONFLICT (route) DO UPDATE SET data = excluded.data",
      route, JSON.stringify(known ? merge(known, a) : a));
  }

  /** Keeps the KEYS_KEPT busiest keys of (period, route, at) as rows; sums the rest into "(other)". */
  #foldKeys(period: number, route: string, at: number): void {
    const sql = this.ctx.storage.sql;
    const count = sql.exec<{ n: number }>("SELECT count(*) AS n FROM series WHERE period = ? AND route = ? AND at = ? AND key NOT IN ('', ?)", period, route, at, OTHER_KEYS).one().n;
    if (count <= KEYS_KEPT) return;
    const folded = sql.exec<{ key: string; data: string }>(
      "SELECT key, data FROM series WHERE period = ? AND route = ? AND at = ? AND key NOT IN ('', ?) ORDER BY requests ASC, key DESC LIMIT ?",
      period, route, at, OTHER_KEYS, count - KEYS_KEPT,
    ).toArray();
    let other: Aggregate | undefined;
    for (const row of folded) {
      const a = parse(row.data);
      if (a) other = other ? merge(other, a) : a;
      sql.exec("DELETE FROM series WHERE period = ? AND route = ? AND key = ? AND at = ?", period, route, row.key, at);
    }
    if (other) this.#add(period, route, OTHER_KEYS, at, other);
  }
}

function parse(text: string): Aggregate | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return isAggregate(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

// The Worker is the only caller, but a malformed call must fail loudly rather than corrupt the sums.
function checkBatch(batch: MetricsBatch): void {
  if (typeof batch?.id !== "string" || batch.id.length === 0 || batch.id.length > 100) throw new TypeError("ingest: id must be a non-empty string");
  if (!Array.isArray(batch.entries) || batch.entries.length > MAX_ENTRIES) throw new TypeError(`ingest: entries must be an array of at most ${MAX_ENTRIES}`);
  for (const e of batch.entries) {
    if (!Number.isSafeInteger(e?.at) || e.at % MINUTE_MS !== 0) throw new TypeError("ingest: entry.at must be the start of a minute");
    if (typeof e.route !== "string" || e.route.length === 0 || e.route.length > 200) throw new TypeError("ingest: entry.route must be a route id");
    if (typeof e.key !== "string" || e.key.length > 100) throw new TypeError("ingest: entry.key must be a key id or empty");
    if (!isAggregate(e.a)) throw new TypeError("ingest: entry.a is not an aggregate");
  }
}

function checkQuery(q: SeriesQuery): void {
  if (q.period !== MINUTE_MS && q.period !== HOUR_MS) throw new TypeError("query: period must be a minute or an hour");
  if (!Number.isSafeInteger(q.from) || !Number.isSafeInteger(q.to) || q.to <= q.from) throw new TypeError("query: from must be before to");
  if (!Number.isSafeInteger(q.step) || q.step < q.period || q.step % q.period !== 0) throw new TypeError("query: step must be a multiple of the period");
  if (!Number.isSafeInteger(q.topKeys) || q.topKeys < 0 || q.topKeys > 100) throw new TypeError("query: topKeys must be 0-100");
}
