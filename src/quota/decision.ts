/**
 * The arithmetic of one check-and-consume, as a pure function of (limits, stored state, cost, now),
 * so the Durable Object only loads, decides and stores, and tests can drive the clock directly.
 *
 * Token bucket in integers: the bucket level is kept in "unit-milliseconds" (tokens x perMs), so a
 * refill of `limit` tokens per `perMs` adds exactly `limit` per elapsed millisecond and no float
 * rounding ever admits an extra request or refuses a due one.
 */
import { periodWindow, type Period } from "./periods.ts";

/** A plan resolved for counting (durations in ms); built once per plan at startup. */
export interface Limits {
  rate?: { limit: number; perMs: number; burst: number };
  quota?: { limit: number; period: Period };
}

/** What a counter keeps in storage between calls. */
export interface CounterState {
  /** Bucket level in unit-ms (tokens x perMs); null until the first rated request (a full bucket). */
  level: number | null;
  /** When `level` was computed (ms since epoch). */
  levelAt: number;
  /** Start of the quota period `used` belongs to; null before the first quota request. */
  periodStart: number | null;
  used: number;
}

export const EMPTY_STATE: CounterState = { level: null, levelAt: 0, periodStart: null, used: 0 };

export interface RateStatus {
  limit: number;
  perMs: number;
  burst: number;
  /** Whole tokens left after this request. */
  remaining: number;
  /** Milliseconds until the bucket is full again. */
  resetMs: number;
}

export interface QuotaStatus {
  limit: number;
  period: Period;
  used: number;
  remaining: number;
  periodStart: number;
  periodEnd: number;
  /** Milliseconds until the period ends. */
  resetMs: number;
}

export interface Decision {
  allowed: boolean;
  /** Which limit refused the request (quota wins when both do: it is the longer wait). */
  refusedBy?: "rate" | "quota";
  /** When to retry (ms); 0 when allowed. */
  retryAfterMs: number;
  rate?: RateStatus;
  quota?: QuotaStatus;
}

/** Decides one request of weight `cost` at `now`; returns the decision and the state to store. */
export function decide(limits: Limits, state: CounterState, cost: number, now: number): { decision: Decision; state: CounterState } {
  const next: CounterState = { ...state };
  let rateRefusal = 0, quotaRefusal = 0;
  let bucket: { capacity: number; level: number; need: number } | undefined;
  let window: { start: number; end: number; used: number } | undefined;

  if (limits.rate) {
    const { limit, perMs, burst } = limits.rate;
    const capacity = burst * perMs;
    // A clock that steps back (another machine, a test) never refills; it never drains either.
    const elapsed = Math.max(0, now - state.levelAt);
    const level = state.level === null ? capacity : Math.min(capacity, state.level + elapsed * limit);
    const need = cost * perMs;
    bucket = { capacity, level, need };
    next.level = level;
    next.levelAt = Math.max(now, state.levelAt);
    if (level < need) rateRefusal = need > capacity ? Math.ceil((capacity - level) / limit) : Math.ceil((need - level) / limit);
  }
  if (limits.quota) {
    const current = periodWindow(limits.quota.period, now);
    // A stored period later than `now` (clock stepped back) keeps counting there: never a free reset.
    const stored = state.periodStart !== null && state.periodStart >= current.start;
    const start = stored ? state.periodStart! : current.start;
    const end = stored ? periodWindow(limits.quota.period, start).end : current.end;
    const used = stored ? state.used : 0;
    window = { start, end, used };
    next.periodStart = start;
    next.used = used;
    if (used + cost > limits.quota.limit) quotaRefusal = Math.max(1, end - now);
  }

  const allowed = rateRefusal === 0 && quotaRefusal === 0;
  if (allowed) {
    if (bucket) { bucket.level -= bucket.need; next.level = bucket.level; }
    if (window) { window.used += cost; next.used = window.used; }
  }

  const decision: Decision = { allowed, retryAfterMs: allowed ? 0 : Math.max(rateRefusal, quotaRefusal) };
  if (!allowed) decision.refusedBy = quotaRefusal > 0 ? "quota" : "rate";
  if (limits.rate && bucket) {
    const { limit, perMs, burst } = limits.rate;
    decision.rate = { limit, perMs, burst, remaining: Math.floor(bucket.level / perMs), resetMs: Math.ceil((bucket.capacity - bucket.level) / limit) };
  }
  if (limits.quota && window) {
    decision.quota = {
      limit: limits.quota.limit, period: limits.quota.period, used: window.used,
      remaining: Math.max(0, limits.quota.limit - window.used),
      periodStart: window.start, periodEnd: window.end, resetMs: Math.max(0, window.end - now),
    };
  }
  return { decision, state: next };
}

/** What `decide` would report for a zero-cost look, without consuming: the usage endpoint. */
export function peek(limits: Limits, state: CounterState, now: number): Decision {
  return decide(limits, state, 0, now).decision;
}


/**
 * How a lease grant is sized at the counter (the isolate's side of the rule is in leases.ts):
 *
 * - `min` units are granted whole or not at all: they are what the request making the call costs.
 *   Less than `min` available is a refusal, computed exactly as `decide` refuses `min`.
 * - Up to `need` units (requests of that isolate waiting for this call) are granted as available:
 *   real requests, which exact counting would admit too.
 * - Beyond `need`, up to `want` (the isolate's own estimate of what it will spend), what the bucket
 *   has, and a quarter of what is left of the quota after `need`, rounded down. So the speculative
 *   part shrinks with the remaining quota and stops when fewer than 4 units are left: a quota's
 *   last units go only to requests that wait for them, one call at a time, as in exact counting,
 *   and no isolate takes much of what is left on speculation. (A bucket refills by itself, so its
 *   tokens are not rationed this way; the isolate's `want` bounds what it takes.)
 * - `scope` narrows it close to the quota period's end: `"need"` (a lease too short to spend on
 *   speculation) grants no more than the waiting requests' units, `"min"` (too short even for them)
 *   only the units of the request that asked.
 *
 * Granted units are consumed here, from the bucket and the quota alike, exactly as `decide`
 * consumes an admitted request of that weight: the counter counts a leased unit as spent.
 */
export const GRANT_SHARE = 4;

export function grant(limits: Limits, state: CounterState, ask: { min: number; need: number; want: number }, now: number, scope: "all" | "need" | "min" = "all"): { units: number; decision: Decision; state: CounterState } {
  const look = peek(limits, state, now);
  const quotaFree = look.quota?.remaining ?? Infinity;
  const free = Math.min(look.rate?.remaining ?? Infinity, quotaFree); // whole units the counter has now
  if (ask.min > 0 && free < ask.min) return { units: 0, ...decide(limits, state, ask.min, now) };
  if (free < 1) return { units: 0, ...decide(limits, state, 1, now) };
  let units = ask.min;
  if (scope !== "min") {
    const base = Math.min(Math.max(ask.need, ask.min), free);
    units = scope === "need" ? base : base + Math.min(Math.max(0, ask.want - base), free - base, Math.floor((quotaFree - base) / GRANT_SHARE));
  }
  if (units === 0) return { units: 0, decision: look, state: decide(limits, state, 0, now).state };
  return { units, ...decide(limits, state, units, now) };
}

/**
 * A lease's time to live, from the grant (the isolate measures it from when it sent the call, so
 * it stops earlier, never later). Long enough that an identity seen once a second on an isolate
 * gets a lease worth dozens of requests (the isolate sizes leases to what it spends in this life,
 * leases.ts); short enough that units an isolate that went quiet holds come back within half a minute.
 */
export const LEASE_TTL_MS = 30_000;
/** Closer than this to the quota period's end, a grant carries only the units requests wait for. */
export const LEASE_MIN_TTL_MS = 1_000;
/**
 * The isolate stops spending a lease this long before its time to live ends (leases.ts): it
 * measures the life from when it sent the call, and its clock may run slow or step back.
 */
export const LEASE_SKEW_MARGIN_MS = 500;
/** A grant whose life is shorter than the margin plus this carries only the asking request's units. */
const WAITERS_SLACK_MS = 100;

/** How much of what is asked a grant may carry with `ttlMs` left to live (see `grant`). */
export function grantScope(ttlMs: number): "all" | "need" | "min" {
  return ttlMs >= LEASE_MIN_TTL_MS ? "all" : ttlMs >= LEASE_SKEW_MARGIN_MS + WAITERS_SLACK_MS ? "need" : "min";
}

/**
 * Units an isolate reports it did not spend, given back: to the quota when they were granted in
 * the period now counting (a unit of an earlier period is worth nothing now), to the bucket always,
 * capped at its burst. Giving back can only ever admit what the counter had already allowed: the
 * bucket holds no more than if the units had never been taken.
 */
export function credit(limits: Limits, state: CounterState, units: number, grantedInPeriod: number | null, now: number): CounterState {
  const { state: next } = decide(limits, state, 0, now); // refill the bucket and roll the period to now
  if (units <= 0) return next;
  if (limits.rate && next.level !== null) next.level = Math.min(limits.rate.burst * limits.rate.perMs, next.level + units * limits.rate.perMs);
  if (limits.quota && grantedInPeriod !== null && grantedInPeriod === next.periodStart) next.used = Math.max(0, next.used - units);
  return next;
}

/** The start of the quota period that counts at `now` (null without a quota): what a lease belongs to. */
export function periodOf(limits: Limits, state: CounterState, now: number): number | null {
  return limits.quota ? decide(limits, state, 0, now).state.periodStart : null;
}
