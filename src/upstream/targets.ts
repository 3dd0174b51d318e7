/**
 * The targets of an origin with `targets` (or a `service`, or a `url` with retries, a circuit
 * breaker or health checks), compiled once per isolate, and the choice of one for a request.
 *
 * Weighted choice is nginx's smooth weighted round robin over the targets available now (weight
 * above 0, circuit not open, not marked unhealthy): it follows the weights exactly within every
 * sum-of-weights requests, interleaved (95/5 sends 5 of every 100 to the canary, spread out), and
 * when a target is out the others share its traffic in proportion to their weights (failover).
 *
 * Sticky choice (`stickyBy`) is weighted rendezvous hashing (highest random weight): each target
 * scores the caller's key as -weight / ln(hash(key, target)), the best score wins. A key stays on
 * its target while the weights and the set of available targets stay the same; when its target is
 * out it moves to its next-best target and comes back when that one recovers; a weight change moves
 * only the keys it must. A request without the key (no verified API key on the route, say) is
 * chosen by weight.
 *
 * All of it is plain numbers in the isolate: the running weights, the circuit breakers and the
 * retry budget live on these compiled objects, made once per isolate with the route table.
 */
import type { Origin, StickyKey } from "../config/origins.ts";
import type { GatewayContext } from "../context.ts";
import { healthKey } from "../health/index.ts";
import { CircuitBreaker } from "./breaker.ts";
import { RetryBudget, type Outcome } from "./retry.ts";

export interface UpstreamTarget {
  /** How the access log names it: host[:port][/path], or service:NAME. */
  label: string;
  /** Its name on the health board (src/health). */
  key: string;
  /** scheme://host[:port]; "" for a service binding (the client's host is used). */
  base: string;
  /** The URL's path without its trailing slash ("" for none). */
  basePath: string;
  /** The service binding's name, for a Worker target. */
  service: string | undefined;
  weight: number;
  /** Smooth weighted round robin's running weight. */
  current: number;
  /** Rendezvous hashing's per-target seed. */
  seed: number;
  breaker: CircuitBreaker | undefined;
}

export interface RetryPolicy {
  /** Retries after the first try. */
  attempts: number;
  on: ReadonlySet<Outcome>;
  budget: RetryBudget;
}

export interface Upstream {
  name: string;
  targets: UpstreamTarget[];
  timeoutMs: number;
  hostHeader: string | undefined;
  stickyBy: StickyKey | undefined;
  retry: RetryPolicy | undefined;
  /** Read the health board before choosing (the origin has a healthCheck). */
  healthChecked: boolean;
  /** Seconds a health-checked target stays out at least (Retry-After when every target is out for that reason). */
  healthRetryAfterSec: number;
}

/** True for an origin that is one URL and nothing more: it is forwarded by today's fast path. */
export function isPlainOrigin(origin: Origin): boolean {
  return origin.url !== undefined && origin.retries === undefined && origin.circuitBreaker === undefined && origin.healthCheck === undefined;
}

export function compileUpstream(name: string, origin: Origin): Upstream {
  const listed = origin.targets ?? [origin.service !== undefined ? { service: origin.service, weight: 1 } : { url: origin.url!, weight: 1 }];
  const breaker = origin.circuitBreaker;
  const targets = listed.map((target): UpstreamTarget => {
    const key = healthKey(name, target);
    let base = "", basePath = "", label = `service:${target.service}`;
    if (target.url !== undefined) {
      const url = new URL(target.url);
      base = `${url.protocol}//${url.host}`;
      basePath = url.pathname.replace(/\/+$/, "");
      label = url.host + basePath;
    }
    return {
      label, key, base, basePath, service: target.service, weight: target.weight, current: 0, seed: hash32(key),
      breaker: breaker && new CircuitBreaker(breaker.consecutiveFailures, breaker.openSec * 1000, origin.timeoutMs + 1000),
    };
  });
  const retries = origin.retries;
  return {
    name,
    targets,
    timeoutMs: origin.timeoutMs,
    hostHeader: origin.hostHeader,
    stickyBy: origin.stickyBy ?? undefined,
    retry: retries && { attempts: retries.attempts, on: new Set(retries.on), budget: new RetryBudget(retries.budgetPercent) },
    healthChecked: origin.healthCheck !== undefined,
    healthRetryAfterSec: origin.healthCheck?.intervalSec ?? 0,
  };
}

/** Health board entries: target key -> until when it is out (ms); see src/health. */
export type UnhealthyTargets = ReadonlyMap<string, number>;

function available(target: UpstreamTarget, now: number, unhealthy: UnhealthyTargets | undefined, exclude: readonly UpstreamTarget[] | undefined): boolean {
  if (target.weight === 0) return false;
  if (exclude !== undefined && exclude.includes(target)) return false;
  if (unhealthy !== undefined && (unhealthy.get(target.key) ?? 0) > now) return false;
  return target.breaker === undefined || target.breaker.allows(now);
}

/**
 * The target for the next try: by the caller's key when there is one (`stickyHash`), else by
 * weight; among the available targets minus `exclude`. Undefined when none is available.
 */
export function chooseTarget(upstream: Upstream, stickyHash: number | undefined, now: number, unhealthy?: UnhealthyTargets, exclude?: readonly UpstreamTarget[]): UpstreamTarget | undefined {
  const { targets } = upstream;
  let best: UpstreamTarget | undefined;
  if (stickyHash !== undefined) {
    let bestScore = -Infinity;
    for (const target of targets) {
      if (!available(target, now, unhealthy, exclude)) continue;
      const unit = (mix32(stickyHash ^ target.seed) + 0.5) / 4294967296; // in (0, 1)
      const score = -target.weight / Math.log(unit);
      if (score > bestScore) { bestScore = score; best = target; }
    }
    return best;
  }
  let total = 0;
  for (const target of targets) {
    if (!available(target, now, unhealthy, exclude)) continue;
    target.current += target.weight;
    total += target.weight;
    if (best === undefined || target.current > best.current) best = target;
  }
  if (best !== undefined) best.current -= total;
  return best;
}

/**
 * Seconds until some target may take traffic again, for Retry-After when none can now: the
 * earliest end of an open circuit, or the health check's interval for a target marked unhealthy.
 */
export function secondsUntilAvailable(upstream: Upstream, now: number, unhealthy?: UnhealthyTargets): number {
  let soonest = Infinity;
  for (const target of upstream.targets) {
    if (target.weight === 0) continue;
    let until = now;
    if (target.breaker !== undefined && target.breaker.openUntil > now) until = target.breaker.openUntil;
    const down = unhealthy?.get(target.key) ?? 0;
    if (down > now) until = Math.max(until, now + upstream.healthRetryAfterSec * 1000);
    soonest = Math.min(soonest, until);
  }
  return Math.max(1, Math.ceil((soonest - now) / 1000));
}

/** The caller's key for a sticky origin, hashed; undefined when the request has none. */
export function stickyHashOf(c: GatewayContext, by: StickyKey): number | undefined {
  let key: string | undefined;
  if (by === "apiKey") key = c.get("apiKey")?.id;
  else if (by === "jwt:sub") {
    const sub = c.get("jwt")?.sub;
    key = typeof sub === "string" ? sub : undefined;
  } else key = c.req.raw.headers.get("cf-connecting-ip") ?? undefined;
  return key === undefined || key === "" ? undefined : hash32(key);
}

/** FNV-1a over UTF-16 code units, then murmur3's finalizer: fast, well spread, stable across isolates. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return mix32(h);
}

/** murmur3's fmix32: an unsigned 32-bit avalanche of `h`. */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
