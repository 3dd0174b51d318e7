/**
 * A circuit breaker per target, per isolate (Envoy's consecutive-failure outlier detection, kept in
 * the isolate's memory as plain numbers: no call to anything, nothing shared between isolates).
 *
 * Closed: requests flow; `threshold` gateway failures in a row (refused, reset, timeout, 502, 503,
 * 504) open it. Open: the target is skipped for `openMs`. Half-open: after that, one request is let
 * through as the probe; its success closes the circuit, its failure opens it for `openMs` again.
 * A probe that never reports (its request was cancelled) is given up after `probeTimeoutMs`, so a
 * lost probe cannot keep a target out for good.
 */
export class CircuitBreaker {
  /** Gateway failures in a row while closed. */
  failures = 0;
  /** When the open period ends (ms since the epoch); 0 while closed. */
  openUntil = 0;
  /** When the half-open probe started; 0 when none is out. */
  probeSince = 0;

  readonly threshold: number;
  readonly openMs: number;
  readonly probeTimeoutMs: number;

  constructor(threshold: number, openMs: number, probeTimeoutMs: number) {
    this.threshold = threshold;
    this.openMs = openMs;
    this.probeTimeoutMs = probeTimeoutMs;
  }

  /** May a request go to this target now? (Closed, or half-open with no probe out.) */
  allows(now: number): boolean {
    if (this.openUntil === 0) return true;
    if (now < this.openUntil) return false;
    return this.probeSince === 0 || now - this.probeSince > this.probeTimeoutMs;
  }

  /** A request was sent to the target; when half-open, it is the probe. */
  sent(now: number): void {
    if (this.openUntil !== 0) this.probeSince = now;
  }

  succeeded(): void {
    this.failures = 0;
    this.openUntil = 0;
    this.probeSince = 0;
  }

  failed(now: number): void {
    // A failed probe (or any failure while open) opens it again for the full period.
    if (this.openUntil !== 0 || ++this.failures >= this.threshold) {
      this.openUntil = now + this.openMs;
      this.failures = 0;
      this.probeSince = 0;
    }
  }

  stateAt(now: number): "closed" | "open" | "half-open" {
    return this.openUntil === 0 ? "closed" : now < this.openUntil ? "open" : "half-open";
  }
}
