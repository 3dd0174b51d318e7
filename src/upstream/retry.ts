/**
 * Retries: which requests may be sent twice, which outcomes are retried, and the budget that keeps
 * retries from multiplying the load on a sick backend.
 *
 * Safe to repeat: GET, HEAD, OPTIONS, PUT and DELETE (idempotent by RFC 9110), or any method with
 * an `Idempotency-Key` header, AND no request body. Bodies stream to the origin and are never
 * buffered, so once an attempt has started a body there is nothing to send again: a request with a
 * body is never retried, whatever its method (a PUT with a body included). `Content-Length: 0` is
 * no body (forwardToTargets sends none).
 *
 * The budget (Finagle's and Envoy's retry budget): per origin and per isolate, the retries in the
 * last 10 seconds may not exceed `budgetPercent` of the requests in the same 10 seconds, plus a
 * floor of MIN_RETRIES (10 per 10 s) so that a quiet origin can still retry the failures that open
 * a circuit breaker. Under a full
 * outage an origin therefore sees at most (1 + budgetPercent/100) times the client load plus the
 * floor, instead of (1 + attempts) times it.
 */
import type { RETRY_CONDITIONS } from "../config/origins.ts";

export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);
/** Retries always allowed in a window, whatever the request count. */
export const MIN_RETRIES = 10;
const WINDOW_SECONDS = 10;

/** What came of one attempt: an origin status, or no answer at all. */
export type Outcome = number | (typeof RETRY_CONDITIONS)[number];

/** True when the request can be sent again: a safe method (or an Idempotency-Key) and no body. */
export function replayable(method: string, headers: Headers, body: ReadableStream | null): boolean {
  return body === null && (IDEMPOTENT_METHODS.has(method) || headers.has("idempotency-key"));
}

/** A gateway failure: the target is down or overloaded (it counts against its circuit breaker). */
export function isGatewayFailure(outcome: Outcome): boolean {
  return typeof outcome === "string" || outcome === 502 || outcome === 503 || outcome === 504;
}

/** Requests and retries per second over the last WINDOW_SECONDS, in a ring of one-second buckets. */
export class RetryBudget {
  readonly #requests = new Uint32Array(WINDOW_SECONDS);
  readonly #retries = new Uint32Array(WINDOW_SECONDS);
  #second = 0;

  readonly percent: number;

  constructor(percent: number) {
    this.percent = percent;
  }

  /** Counts a client request to the origin. */
  request(now: number): void {
    this.#requests[this.#advance(now)]!++;
  }

  /** Takes one retry from the budget if there is one left; false when spent. */
  withdraw(now: number): boolean {
    const slot = this.#advance(now);
    let requests = 0, retries = 0;
    for (let i = 0; i < WINDOW_SECONDS; i++) { requests += this.#requests[i]!; retries += this.#retries[i]!; }
    if (retries >= MIN_RETRIES + (requests * this.percent) / 100) return false;
    this.#retries[slot]!++;
    return true;
  }

  /** The bucket of `now`, after emptying the buckets of the seconds that passed since the last call. */
  #advance(now: number): number {
    const second = Math.floor(now / 1000);
    const passed = second - this.#second;
    if (passed > 0) {
      for (let i = 1; i <= Math.min(passed, WINDOW_SECONDS); i++) {
        const slot = (this.#second + i) % WINDOW_SECONDS;
        this.#requests[slot] = 0;
        this.#retries[slot] = 0;
      }
      this.#second = second;
    }
    return this.#second % WINDOW_SECONDS;
  }
}
