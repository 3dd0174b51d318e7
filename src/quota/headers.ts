/**
 * IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers-10):
 *   RateLimit-Policy: "free-rate";q=10;w=1, "free-quota";q=1000;w=86400
 *   RateLimit: "free-rate";r=19;t=1, "free-quota";r=999;t=43210
 * `q` units per `w` seconds; `r` units remaining, `t` seconds until the limit is fully reset (the
 * bucket full again; the quota period's end). A token bucket is advertised as its steady rate over
 * whole seconds; a month's `w` is nominal (30 days), its `t` is exact.
 */
import type { Decision } from "./decision.ts";
import { periodSeconds } from "./periods.ts";

const seconds = (ms: number) => Math.max(0, Math.ceil(ms / 1000));

/** One list item per limit in `decision`, named `<scope>-rate` / `<scope>-quota`. */
export function rateLimitFields(scope: string, decision: Decision): { policy: string[]; current: string[] } {
  const policy: string[] = [], current: string[] = [];
  if (decision.rate) {
    const { limit, perMs, remaining, resetMs } = decision.rate;
    const w = Math.max(1, Math.ceil(perMs / 1000));
    policy.push(`"${scope}-rate";q=${Math.floor((limit * w * 1000) / perMs)};w=${w}`);
    current.push(`"${scope}-rate";r=${remaining};t=${seconds(resetMs)}`);
  }
  if (decision.quota) {
    const { limit, period, remaining, resetMs } = decision.quota;
    policy.push(`"${scope}-quota";q=${limit};w=${periodSeconds(period)}`);
    current.push(`"${scope}-quota";r=${remaining};t=${seconds(resetMs)}`);
  }
  return { policy, current };
}

/**
 * The RateLimit fields of every limit a request was checked against (a route may count against
 * two plans), gathered as plain strings. Not a `Headers`: iterating one costs about 10 us in workerd
 * (measured: test/worker/quota-leases-measure.test.ts), on every limited request.
 */
export class RateLimitHeaders {
  readonly #policy: string[] = [];
  readonly #current: string[] = [];

  add(scope: string, decision: Decision): void {
    const { policy, current } = rateLimitFields(scope, decision);
    this.#policy.push(...policy);
    this.#current.push(...current);
  }

  /** Name and value of each field, each field's items joined as one value (as `Headers` joins them), in name order. */
  entries(): [string, string][] {
    const out: [string, string][] = [];
    if (this.#current.length) out.push(["ratelimit", this.#current.join(", ")]);
    if (this.#policy.length) out.push(["ratelimit-policy", this.#policy.join(", ")]);
    return out;
  }
}

/** Retry-After in whole seconds, at least 1. */
export function retryAfterSeconds(ms: number): string {
  return String(Math.max(1, Math.ceil(ms / 1000)));
}
