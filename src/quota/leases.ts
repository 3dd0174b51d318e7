/**
 * Counting by leases, this isolate's side (the counter's side is `QuotaCounter.acquire`; the whole
 * design, with its bounds, is in docs/quotas.md).
 *
 * An isolate holds at most one lease per counted identity: a number of units the counter has
 * already consumed for it, valid until a local expiry. A request spends from it in memory, with no
 * I/O. When the lease runs low, or is about to expire while in use, the request that notices starts
 * a top-up in the background (`waitUntil`) and goes on: a request waits for the counter only when
 * this isolate holds no usable units for that identity. Waiting requests share ONE call in flight.
 *
 * Never over-admission:
 * - Units are spent only before the lease's local expiry: the time the call was SENT plus the
 *   lease's time to live, minus LEASE_SKEW_MARGIN_MS. The counter granted after the call was sent,
 *   so this ends before the counter's own expiry whatever the two clocks read; the margin covers
 *   a local clock that runs slow or steps back mid-lease (and Workers' clock, which only moves at
 *   I/O). The counter never lets a lease's life cross its quota period's end.
 * - Units reported unspent (settled) are never spent afterwards: the report is made from the
 *   lease's leftover at the moment the lease is let go, synchronously.
 * - A request that reaches the counter is decided there (`min` units, whole or refused), exactly as
 *   in exact counting.
 *
 * Sizing (the isolate asks, the counter caps; see `#target` and decision.ts `grant`): about one
 * second of what this isolate spends for the identity, at least LEASE_MIN_UNITS, never more than it
 * spends in a lease's life, capped at LEASE_MAX_UNITS and the plan's burst; a call asks for
 * the units of the requests waiting on it plus enough to bring the lease to 1.5x that target. The
 * counter grants the waiting requests' units as available, and of the rest at most a quarter of
 * what is left of the quota, so the last units of a quota go out one call at a time.
 *
 * State is plain data in module scope (one `LeaseBook` per isolate). Nothing of a request's I/O is
 * kept: each call uses the namespace binding and `waitUntil` of the request that makes it. A
 * request waiting for another's call stops waiting after that call's own worst case (two attempts
 * and a grace second) and calls itself, so a waiter never hangs when the request that started the
 * call has ended (the same rule as src/policies/jwt/remote_jwks.ts).
 */
import { settledWithin } from "../durable.ts";
import { acquireOnce, LIMITER_TIMEOUT_MS, releaseOnce, type CounterNamespace, type ResolvedPlan } from "./client.ts";
import { LEASE_SKEW_MARGIN_MS, LEASE_TTL_MS, type Decision, type Limits } from "./decision.ts";
import type { AcquireRequest, Grant } from "./durable_object.ts";

/** A target below this is raised to it, up to what the isolate spends in a lease's life. */
export const LEASE_MIN_UNITS = 32;
/** Upper bound of a target (one isolate, one identity). */
export const LEASE_MAX_UNITS = 10_000;
/** A lease in use is topped up (and so extended) when it has less than this left to live. */
export const RENEW_AHEAD_MS = 3_000;
/** A refusal from the counter is remembered at most this long (never past its Retry-After). */
export const REFUSAL_HOLD_MS = 1_000;
/** After a background top-up failed, the next one waits this long (requests go on spending). */
export const RENEW_BACKOFF_MS = 1_000;
/** How many identities one isolate keeps; beyond it the least recently used are let go. */
export const MAX_HOLDINGS = 10_000;
const SHARED_WAIT_MS = 2 * LIMITER_TIMEOUT_MS + 1_000;
const SWEEP_EVERY_MS = 1_000;
const FORGET_IDLE_MS = 60_000;

interface Lease {
  id: string;
  left: number;
  /** Local time from which nothing more is spent. */
  expiresAt: number;
  /** Units this isolate spent on it: reported with each top-up (for `usage`'s leased figure). */
  spent: number;
  /** `spent` as last sent to the counter. */
  reported: number;
}

/** One counted identity (one QuotaCounter) as this isolate holds it. */
interface Holding {
  counter: string;
  plan: string;
  limits: Limits;
  lease: Lease | undefined;
  /** A lease let go whose leftover is to be reported with the next call (or by the sweep). */
  settle: { id: string; unused: number } | undefined;
  inFlight: { promise: Promise<void>; startedAt: number } | undefined;
  /** Units the requests waiting for `inFlight` need (sized into the next call). */
  waiting: number;
  /** The counter's last refusal, held until `until` for requests of at least `cost` on this plan. */
  refused: { until: number; cost: number; plan: string; decision: Decision; at: number } | undefined;
  /** The counter's last answer and when it arrived: the base of the RateLimit fields. */
  snapshot: { decision: Decision; at: number } | undefined;
  /** Spend: units spent in the window that began at `windowStart`, and in the window before it (at least 1 s long). */
  windowStart: number;
  windowSpent: number;
  lastSpent: number;
  lastMs: number;
  renewFailedAt: number;
  usedAt: number;
}

export interface LeaseContext {
  /** The QUOTA binding of the request making the call. */
  ns: CounterNamespace;
  /** The request's waitUntil; without one, nothing runs in the background (requests wait instead). */
  waitUntil: ((promise: Promise<unknown>) => void) | undefined;
  /** Background failures (renewals, releases), for the operator's log. */
  onBackgroundError(what: "renewal" | "release", plan: string, err: unknown): void;
}

/** The counter's decision for the request (allowed or refused), or the error when it could not be asked. */
export type Taken = { ok: true; decision: Decision } | { ok: false; error: unknown };

export interface LeaseBookOptions {
  /** How long a request waits for another request's call before calling itself. Default: that call's worst case plus 1 s. */
  sharedWaitMs?: number;
  /** Default MAX_HOLDINGS. */
  maxHoldings?: number;
}

export class LeaseBook {
  /** This isolate's clock. Tests replace it (and restore it) to move time for leases. */
  clock: () => number = () => Date.now();
  readonly #sharedWaitMs: number;
  readonly #maxHoldings: number;
  readonly #holdings = new Map<string, Holding>();
  /** Leases let go with no holding slot to report them in: released by the next sweep. */
  #orphans: { counter: string; limits: Limits; plan: string; id: string; unused: number }[] = [];
  #nextSweep = 0;

  constructor(options: LeaseBookOptions = {}) {
    this.#sharedWaitMs = options.sharedWaitMs ?? SHARED_WAIT_MS;
    this.#maxHoldings = options.maxHoldings ?? MAX_HOLDINGS;
  }

  /** Spends `cost` units of `plan` for identity `counter`, from a lease or by asking the counter. */
  async take(ctx: LeaseContext, counter: string, plan: ResolvedPlan, cost: number): Promise<Taken> {
    const started = this.clock();
    if (started >= this.#nextSweep) this.#sweep(ctx, started);
    const h = this.#holding(counter, plan, started);
    for (;;) {
      const now = this.clock();
      const admitted = this.#spend(ctx, h, plan, cost, now);
      if (admitted) return { ok: true, decision: admitted };
      const refusal = this.#heldRefusal(h, plan, cost, now);
      if (refusal) return { ok: true, decision: refusal };
      const shared = h.inFlight;
      const waitMs = shared ? shared.startedAt + this.#sharedWaitMs - now : 0;
      if (!shared || waitMs <= 0) {
        // No call to share (or the one in flight outlived its worst case: its request is gone).
        if (shared) h.inFlight = undefined;
        return this.#call(ctx, h, plan, cost);
      }
      h.waiting += cost;
      try {
        await settledWithin(shared.promise, waitMs);
      } finally {
        h.waiting -= cost;
      }
    }
  }

  /** Units this isolate holds unspent for `counter` (the usage endpoint adds them back). */
  unspent(counter: string): number {
    return this.held(counter).unspent;
  }

  /** This isolate's lease on `counter`: units unspent, and units spent it has not reported to the counter yet. */
  held(counter: string): { unspent: number; unreported: number } {
    const lease = this.#holdings.get(counter)?.lease;
    if (!lease || this.clock() >= lease.expiresAt) return { unspent: 0, unreported: 0 };
    return { unspent: lease.left, unreported: lease.spent - lease.reported };
  }

  /**
   * Drops this isolate's lease on `counter` without reporting it: after the counter was reset (the
   * admin usage reset closes its open leases), so the next request asks the fresh count.
   */
  drop(counter: string): void {
    this.#holdings.delete(counter);
  }

  /** Drops every lease without reporting it, as a vanished isolate does (fault tests). */
  forget(): void {
    this.#holdings.clear();
    this.#orphans = [];
    this.#nextSweep = 0;
  }

  /** How many identities are held (tests of the bound). */
  get size(): number {
    return this.#holdings.size;
  }

  #holding(counter: string, plan: ResolvedPlan, now: number): Holding {
    let h = this.#holdings.get(counter);
    if (!h) {
      h = {
        counter, plan: plan.name, limits: plan.limits, lease: undefined, settle: undefined, inFlight: undefined, waiting: 0,
        refused: undefined, snapshot: undefined, windowStart: now, windowSpent: 0, lastSpent: 0, lastMs: 0, renewFailedAt: -Infinity, usedAt: now,
      };
      this.#holdings.set(counter, h);
    }
    h.usedAt = now;
    h.limits = plan.limits;
    h.plan = plan.name;
    return h;
  }

  /** Spends from the lease if it is valid and has `cost` left; may start a top-up. */
  #spend(ctx: LeaseContext, h: Holding, plan: ResolvedPlan, cost: number, now: number): Decision | undefined {
    const lease = h.lease;
    if (!lease) return undefined;
    if (now >= lease.expiresAt) {
      this.#retire(h);
      return undefined;
    }
    if (lease.left < cost) return undefined;
    lease.left -= cost;
    lease.spent += cost;
    this.#count(h, cost, now);
    if (!h.inFlight && ctx.waitUntil && now - h.renewFailedAt >= RENEW_BACKOFF_MS) {
      const target = this.#target(h, now);
      if (lease.left * 2 <= target || lease.expiresAt - now <= RENEW_AHEAD_MS) void this.#call(ctx, h, plan, 0);
    }
    return this.#view(h, now, lease.left);
  }

  /** The counter's recent refusal, when it applies to this request. */
  #heldRefusal(h: Holding, plan: ResolvedPlan, cost: number, now: number): Decision | undefined {
    const refused = h.refused;
    if (!refused) return undefined;
    if (now >= refused.until || refused.plan !== plan.name) {
      h.refused = undefined;
      return undefined;
    }
    if (cost < refused.cost) return undefined;
    return aged(refused.decision, now - refused.at, h.lease && now < h.lease.expiresAt ? h.lease.left : 0);
  }

  /**
   * One call to the counter for `h`: `min` = the cost of the request making it (decided at the
   * counter, whole or refused), or 0 for a top-up in the background (then it returns at once).
   */
  #call(ctx: LeaseContext, h: Holding, plan: ResolvedPlan, min: number): Promise<Taken> {
    const sentAt = this.clock();
    if (h.lease && sentAt >= h.lease.expiresAt) this.#retire(h);
    const lease = h.lease;
    const settle = h.settle;
    h.settle = undefined;
    const need = min + h.waiting;
    const want = need + Math.max(0, Math.ceil(1.5 * this.#target(h, sentAt)) - (lease?.left ?? 0));
    const request: AcquireRequest = {
      callId: crypto.randomUUID(), limits: plan.limits, min, need, want,
      lease: lease ? { id: lease.id, spent: lease.spent } : undefined, settle,
    };
    if (lease) lease.reported = lease.spent;
    let taken: Taken = { ok: false, error: new Error("lease call did not settle") };
    const call = acquireOnce(ctx.ns, h.counter, request).then(
      (grant) => { taken = this.#apply(h, plan, grant, sentAt, min, need, lease?.id); },
      (error: unknown) => {
        if (settle && !h.settle) h.settle = settle; // it may not have arrived: report it again (settling is idempotent)
        if (min === 0) {
          h.renewFailedAt = this.clock();
          ctx.onBackgroundError("renewal", plan.name, error);
        }
        taken = { ok: false, error };
      },
    );
    const entry = { promise: call, startedAt: sentAt };
    h.inFlight = entry;
    const done = call.finally(() => { if (h.inFlight === entry) h.inFlight = undefined; });
    entry.promise = done;
    ctx.waitUntil?.(done);
    return done.then(() => taken);
  }

  /** Applies a grant to `h`; returns the decision for the request that made the call. */
  #apply(h: Holding, plan: ResolvedPlan, grant: Grant, sentAt: number, min: number, need: number, asked: string | undefined): Taken {
    const now = this.clock();
    h.snapshot = { decision: grant.decision, at: now };
    const expiresAt = sentAt + grant.ttlMs - LEASE_SKEW_MARGIN_MS;
    if (asked !== undefined && grant.lease !== asked) {
      // The counter closed the lease we asked to top up (expired there, or its period ended): what
      // is left of it stays spent, and is not ours to spend any more.
      if (h.lease?.id === asked) h.lease = undefined;
      if (h.settle?.id === asked) h.settle = undefined;
    }
    if (grant.lease !== null) {
      if (h.lease?.id === grant.lease) {
        h.lease.left += grant.units;
        h.lease.expiresAt = Math.max(h.lease.expiresAt, expiresAt);
      } else {
        let left = grant.units;
        // Let go while this call was out but not reported yet: its leftover is spendable again.
        if (h.settle?.id === grant.lease) { left += h.settle.unused; h.settle = undefined; }
        if (h.lease) this.#retire(h); // calls that overlapped (a waiter gave up on a slow one)
        h.lease = { id: grant.lease, left, expiresAt, spent: 0, reported: 0 };
      }
      // The counter takes the waiting requests' units as spent already (they are, in a moment).
      h.lease.reported += Math.min(grant.units, need);
    }
    if (grant.decision.allowed) h.refused = undefined;
    else h.refused = { until: now + Math.min(grant.decision.retryAfterMs, REFUSAL_HOLD_MS), cost: Math.max(1, min), plan: plan.name, decision: grant.decision, at: now };
    if (min === 0) return { ok: true, decision: grant.decision };
    if (!grant.decision.allowed) return { ok: true, decision: aged(grant.decision, 0, h.lease && now < h.lease.expiresAt ? h.lease.left : 0) };
    // The units of the request that made the call were decided at the counter: they are its own.
    const lease = h.lease!;
    lease.left -= min;
    lease.spent += min;
    this.#count(h, min, now);
    return { ok: true, decision: this.#view(h, now, lease.left) };
  }

  /** Lets the lease go: its leftover is reported with the next call for this identity, or by the sweep. */
  #retire(h: Holding): void {
    const lease = h.lease;
    h.lease = undefined;
    if (!lease) return;
    const unused = { id: lease.id, unused: lease.left };
    if (!h.settle) h.settle = unused;
    else this.#orphans.push({ counter: h.counter, limits: h.limits, plan: h.plan, ...unused });
  }

  /** Counts units spent for `h` in windows of at least a second (a window closes at the first spend after its second). */
  #count(h: Holding, units: number, now: number): void {
    const elapsed = now - h.windowStart;
    if (elapsed >= 1_000) {
      h.lastSpent = h.windowSpent;
      h.lastMs = elapsed;
      h.windowStart = now;
      h.windowSpent = 0;
    }
    h.windowSpent += units;
  }

  /**
   * The lease size this isolate aims at for `h`: one second of its spend, at least LEASE_MIN_UNITS,
   * but never more than it spends in a lease's life, and nothing for an identity seen less than
   * twice in one (it would get units only to give them back); capped at LEASE_MAX_UNITS and at the
   * plan's burst and quota.
   * 0 before anything was spent: the first call asks for its own units only.
   */
  #target(h: Holding, now: number): number {
    const elapsed = now - h.windowStart;
    // Per second, short term: this window so far (what it holds was spent within the last second),
    // or the one before if it just closed. Long term: both windows together, at least a second.
    const current = elapsed >= 1_000 ? (h.windowSpent * 1_000) / elapsed : h.windowSpent;
    const short = Math.max(current, elapsed < 2_000 && h.lastMs > 0 ? (h.lastSpent * 1_000) / h.lastMs : 0);
    const long = ((h.lastSpent + h.windowSpent) * 1_000) / Math.max(h.lastMs + elapsed, 1_000);
    // What it spends in a lease's life at the long-term rate; under 2, a lease is not worth its units.
    const withinLife = Math.floor((long * (LEASE_TTL_MS - LEASE_SKEW_MARGIN_MS)) / 1_000);
    const target = withinLife < 2 ? 0 : Math.min(Math.max(Math.ceil(short), LEASE_MIN_UNITS), withinLife);
    return Math.min(target, LEASE_MAX_UNITS, h.limits.rate?.burst ?? Infinity, h.limits.quota?.limit ?? Infinity);
  }

  /** The decision for an admitted request, from the counter's last answer and what this isolate holds. */
  #view(h: Holding, now: number, left: number): Decision {
    return aged(h.snapshot!.decision, now - h.snapshot!.at, left, true);
  }

  /**
   * Once a second at most, from a request's `take`: lets expired leases go and reports them (in
   * this request's waitUntil, with its binding), forgets identities idle for a minute, and keeps
   * the book under MAX_HOLDINGS by letting the least recently used go.
   */
  #sweep(ctx: LeaseContext, now: number): void {
    this.#nextSweep = now + SWEEP_EVERY_MS;
    if (!ctx.waitUntil) return;
    const overflow = this.#holdings.size - this.#maxHoldings;
    const evict = overflow > 0
      ? new Set([...this.#holdings.values()].filter((h) => !h.inFlight && h.waiting === 0).sort((a, b) => a.usedAt - b.usedAt).slice(0, overflow))
      : undefined;
    for (const h of this.#holdings.values()) {
      if (h.inFlight) continue;
      if (h.lease && (now >= h.lease.expiresAt || evict?.has(h))) this.#retire(h);
      if (h.settle) {
        this.#release(ctx, h.counter, h.limits, h.plan, h.settle);
        h.settle = undefined;
      }
      if (evict?.has(h) || (!h.lease && h.waiting === 0 && now - h.usedAt >= FORGET_IDLE_MS)) this.#holdings.delete(h.counter);
    }
    for (const orphan of this.#orphans) this.#release(ctx, orphan.counter, orphan.limits, orphan.plan, orphan);
    this.#orphans = [];
  }

  #release(ctx: LeaseContext, counter: string, limits: Limits, plan: string, lease: { id: string; unused: number }): void {
    // A release that fails leaves the units spent at the counter: under-admission, never more.
    const call = releaseOnce(ctx.ns, counter, { limits, id: lease.id, unused: lease.unused })
      .catch((err: unknown) => ctx.onBackgroundError("release", plan, err));
    ctx.waitUntil!(call);
  }
}

/** This isolate's leases: module scope, shared by every request it serves. */
export const leases = new LeaseBook();

/**
 * A counter decision `elapsedMs` later, with `held` units this isolate holds added to what is
 * remaining (they are this identity's, unspent). Units leased to other isolates stay counted as spent.
 */
function aged(d: Decision, elapsedMs: number, held: number, allowed = d.allowed): Decision {
  const elapsed = Math.max(0, elapsedMs);
  const out: Decision = { allowed, retryAfterMs: allowed ? 0 : Math.max(0, d.retryAfterMs - elapsed) };
  if (!allowed && d.refusedBy) out.refusedBy = d.refusedBy;
  if (d.rate) {
    const { limit, perMs, burst } = d.rate;
    const refilled = Math.min(burst, d.rate.remaining + Math.floor((elapsed * limit) / perMs));
    const remaining = Math.min(burst, refilled + held);
    out.rate = { limit, perMs, burst, remaining, resetMs: remaining >= burst ? 0 : Math.ceil(((burst - remaining) * perMs) / limit) };
  }
  if (d.quota) {
    const remaining = Math.min(d.quota.limit, d.quota.remaining + held);
    out.quota = { ...d.quota, used: d.quota.limit - remaining, remaining, resetMs: Math.max(0, d.quota.resetMs - elapsed) };
  }
  return out;
}
