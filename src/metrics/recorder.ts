/**
 * The metrics recorder of one isolate: counts every request in module memory and sends the sums to
 * the MetricsShard objects at most every FLUSH_MS, from a request's waitUntil (the response never
 * waits for it).
 *
 * On a request's path it does no I/O and allocates nothing once the route has its cell for the
 * current minute: a few additions into typed arrays (counters, two histograms), a Map lookup by
 * route id, and one by error code or key id when there is one (bench/FINDINGS.md, metrics-recorder,
 * has the measured cost; test/node/metrics-allocation.test.ts proves the no-allocation part). A
 * cell is made once per route per minute, a key's cell once per key per minute.
 *
 * Exactness: every request recorded is sent once. A batch that fails (after one retry, see
 * client.ts) stays in the outbox with its id and is sent again at the next flush; the shard
 * applies a batch id once, so a retry whose first attempt did land counts nothing twice. What an
 * isolate holds when it is evicted (at most FLUSH_MS of traffic, or more while its shards are
 * unreachable) is lost: the numbers are exact within the flush interval, not across a crash.
 * An isolate that gets no more requests flushes no more: Workers run code only for requests.
 */
import { waitUntilOf, type GatewayContext } from "../context.ts";
import { withTimeout } from "../durable.ts";
import { errorText, logEvent } from "../errors.ts";
import type { RequestLog } from "../log.ts";
import type { RequestRecorder } from "../observe.ts";
import { C, COUNTER_COUNT, type Aggregate } from "./aggregate.ts";
import { writeRequestPoint } from "./analytics.ts";
import { ingest, shardOf, type MetricsNamespace } from "./client.ts";
import { BUCKETS, bucketOf, toSparse } from "./histogram.ts";
import { MINUTE_MS, OTHER_KEYS, UNROUTED, type MetricsBatch, type MetricsEntry } from "./schema.ts";

/** How often an isolate sends its sums (at most; only when requests arrive). */
export const FLUSH_MS = 5_000;
/** Distinct keys counted per route per minute in one isolate; more go to "(other)". */
export const KEYS_PER_ROUTE = 100;
/** Ended minutes kept while they cannot be sent (no waitUntil), and batches kept for a retry. */
const MAX_CLOSED_MINUTES = 15;
const MAX_OUTBOX = 500;
/** How long an explicit flush waits for sends other requests started (see flush). */
const INFLIGHT_WAIT_MS = 3_000;
/** A failed batch is retried for this long; the shard remembers batch ids for longer (APPLIED_RETENTION_MS). */
export const RETRY_FOR_MS = 10 * 60_000;

type Counters = Float64Array;

/** Adds one request to a counter vector. */
function countInto(n: Counters, e: RequestLog): void {
  n[C.requests]! += 1;
  const statusClass = (e.status / 100) | 0;
  if (statusClass >= 1 && statusClass <= 5) n[C.status1xx + statusClass - 1]! += 1;
  if (e.code !== undefined) {
    n[C.gatewayErrors]! += 1;
    // A gateway-made 429 is a limiter's refusal (rate_limited, quota_exceeded): the catalogue has no other 429.
    if (e.status === 429) n[C.refused]! += 1;
  }
  if (e.retries !== undefined) n[C.retries]! += e.retries.length;
  if (e.cache === "hit") n[C.cacheHits]! += 1;
  else if (e.cache === "stale") n[C.cacheStale]! += 1;
  else if (e.cache === "miss") n[C.cacheMisses]! += 1;
  if (e.bytesIn !== null) n[C.bytesIn]! += e.bytesIn;
  if (e.bytesOut !== null) n[C.bytesOut]! += e.bytesOut;
  n[C.totalMsSum]! += e.totalMs;
  if (e.originMs !== null) {
    n[C.originMsSum]! += e.originMs;
    n[C.originCount]! += 1;
  }
}

class KeyCell {
  readonly n: Counters = new Float64Array(COUNTER_COUNT);
  /** bucket -> count: sparse, as most keys see few distinct latencies in a minute. */
  readonly total = new Map<number, number>();

  aggregate(): Aggregate {
    const total: number[] = [];
    for (const bucket of [...this.total.keys()].sort((a, b) => a - b)) total.push(bucket, this.total.get(bucket)!);
    return { n: Array.from(this.n), codes: {}, total, origin: [] };
  }
}

class RouteCell {
  readonly n: Counters = new Float64Array(COUNTER_COUNT);
  readonly total = new Uint32Array(BUCKETS);
  readonly origin = new Uint32Array(BUCKETS);
  readonly codes = new Map<string, number>();
  readonly keys = new Map<string, KeyCell>();

  count(e: RequestLog): void {
    countInto(this.n, e);
    this.total[bucketOf(e.totalMs)]! += 1;
    if (e.originMs !== null) this.origin[bucketOf(e.originMs)]! += 1;
    if (e.code !== undefined) this.codes.set(e.code, (this.codes.get(e.code) ?? 0) + 1);
    if (e.keyId !== undefined) {
      let key = this.keys.get(e.keyId);
      if (key === undefined) {
        const name = this.keys.size < KEYS_PER_ROUTE ? e.keyId : OTHER_KEYS;
        key = this.keys.get(name);
        if (key === undefined) this.keys.set(name, (key = new KeyCell()));
      }
      countInto(key.n, e);
      const bucket = bucketOf(e.totalMs);
      key.total.set(bucket, (key.total.get(bucket) ?? 0) + 1);
    }
  }

  get empty(): boolean { return this.n[C.requests] === 0; }

  aggregate(): Aggregate {
    return { n: Array.from(this.n), codes: Object.fromEntries(this.codes), total: toSparse(this.total), origin: toSparse(this.origin) };
  }

  /** Zeroed in place after a flush, so the current minute's cell is reused, not remade. */
  reset(): void {
    this.n.fill(0);
    this.total.fill(0);
    this.origin.fill(0);
    this.codes.clear();
    this.keys.clear();
  }
}

interface Outgoing { shard: number; batch: MetricsBatch; since: number }

export interface MetricsRecorderOptions {
  /** Default FLUSH_MS. */
  flushMs?: number;
}

export class MetricsRecorder implements RequestRecorder {
  readonly flushMs: number;
  #minute = -1;
  #cells = new Map<string, RouteCell>();
  #closed: { minute: number; cells: Map<string, RouteCell> }[] = [];
  #outbox: Outgoing[] = [];
  #inflight = new Set<Promise<void>>();
  #flushAt = -1;

  constructor(options: MetricsRecorderOptions = {}) {
    this.flushMs = options.flushMs ?? FLUSH_MS;
    if (!(this.flushMs >= 100)) throw new TypeError("MetricsRecorder: flushMs must be at least 100");
  }

  record(c: GatewayContext, e: RequestLog, startedAt: number): void {
    const env = c.env;
    if (env === undefined || env.RECORD_METRICS === "off") return;
    if (env.GATEWAY_ANALYTICS !== undefined) writeRequestPoint(env.GATEWAY_ANALYTICS, e);
    const ns = env.METRICS;
    if (ns === undefined) return;
    const minute = startedAt - (startedAt % MINUTE_MS);
    if (minute > this.#minute) this.#rotate(minute);
    const route = e.routeId ?? UNROUTED;
    let cell = this.#cells.get(route);
    if (cell === undefined) this.#cells.set(route, (cell = new RouteCell()));
    cell.count(e);

    const now = startedAt + e.totalMs;
    if (this.#flushAt < 0) this.#flushAt = now + this.flushMs;
    else if (now >= this.#flushAt) {
      const waitUntil = waitUntilOf(c);
      if (waitUntil === undefined) return; // kept for a request that can send it
      this.#flushAt = now + this.flushMs;
      waitUntil(this.#track(this.#send(ns, now)));
    }
  }

  /**
   * Sends everything counted so far and waits, at most INFLIGHT_WAIT_MS, for sends that other
   * requests' waitUntil started, so a read after it sees every request this isolate answered. The
   * wait is bounded because a promise of another request can hang if that request's context ends.
   */
  async flush(c: GatewayContext): Promise<void> {
    const ns = c.env?.METRICS;
    if (ns === undefined) return;
    const now = Date.now();
    this.#flushAt = now + this.flushMs;
    const others = [...this.#inflight];
    await this.#send(ns, now);
    if (others.length > 0) await withTimeout(Promise.all(others), INFLIGHT_WAIT_MS).catch(() => {});
  }

  #track(send: Promise<void>): Promise<void> {
    this.#inflight.add(send);
    void send.finally(() => this.#inflight.delete(send));
    return send;
  }

  /** Requests counted and not yet handed to a flush (tests, the measure). */
  get pending(): number {
    let count = 0;
    for (const cells of [this.#cells, ...this.#closed.map((m) => m.cells)]) for (const cell of cells.values()) count += cell.n[C.requests]!;
    return count;
  }

  #rotate(minute: number): void {
    if (this.#minute >= 0 && [...this.#cells.values()].some((cell) => !cell.empty)) {
      this.#closed.push({ minute: this.#minute, cells: this.#cells });
      if (this.#closed.length > MAX_CLOSED_MINUTES) {
        const dropped = this.#closed.shift()!;
        logEvent("error", "metrics_dropped", { minute: new Date(dropped.minute).toISOString(), reason: "no flush for too long" });
      }
      this.#cells = new Map();
    }
    this.#minute = minute;
  }

  /** Everything counted so far as one batch per shard; the counts start again from zero. */
  #drain(now: number): Outgoing[] {
    const perShard = new Map<number, MetricsEntry[]>();
    const add = (route: string, entry: MetricsEntry) => {
      const shard = shardOf(route);
      let entries = perShard.get(shard);
      if (!entries) perShard.set(shard, (entries = []));
      entries.push(entry);
    };
    const minutes = [...this.#closed, { minute: this.#minute, cells: this.#cells }];
    this.#closed = [];
    for (const { minute, cells } of minutes) {
      for (const [route, cell] of cells) {
        if (cell.empty) continue;
        add(route, { at: minute, route, key: "", a: cell.aggregate() });
        for (const [key, keyCell] of cell.keys) add(route, { at: minute, route, key, a: keyCell.aggregate() });
        cell.reset();
      }
    }
    return [...perShard].map(([shard, entries]) => ({ shard, batch: { id: crypto.randomUUID(), entries }, since: now }));
  }

  async #send(ns: MetricsNamespace, now: number): Promise<void> {
    this.#outbox.push(...this.#drain(now));
    const expired = this.#outbox.filter((item) => now - item.since > RETRY_FOR_MS);
    const kept = this.#outbox.filter((item) => now - item.since <= RETRY_FOR_MS);
    const dropped = expired.length + Math.max(0, kept.length - MAX_OUTBOX);
    if (dropped > 0) logEvent("error", "metrics_dropped", { batches: dropped, reason: "the metrics shards did not take them" });
    const sending = kept.slice(-MAX_OUTBOX);
    this.#outbox = [];
    await Promise.all(sending.map(async (item) => {
      try {
        await ingest(ns, item.shard, item.batch);
      } catch (err) {
        this.#outbox.push(item); // same id: the shard applies it once, whichever attempt lands
        logEvent("warn", "metrics_flush_failed", { shard: item.shard, entries: item.batch.entries.length, error: errorText(err) });
      }
    }));
  }
}
