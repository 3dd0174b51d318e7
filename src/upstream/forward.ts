/**
 * Forwarding to an origin: bodies stream both ways (never buffered), redirects are passed back (not
 * followed), the origin has `timeoutMs` to send its response headers.
 *
 * This is a plain `fetch` plus one Response rebuild rather than Hono's proxy helper: the helper
 * copies the Request and rebuilds the Response again, which measured 15-27 us per request on
 * workerd (bench/FINDINGS.md, pass-through-breakdown), a fifth of the gateway's whole overhead.
 * The one rebuild is unavoidable: fetch responses have immutable headers, and the gateway must
 * strip hop-by-hop headers and add its own.
 *
 * Two forwarders, chosen once per route (`forwarderOf`): a plain `url` origin goes through
 * `forwardToOrigin`, exactly the path it always had (no target choice, no bookkeeping); an origin
 * with targets, a service binding, retries, a breaker or health checks goes through
 * `forwardToTargets` (docs/upstreams.md).
 */
import { waitUntilOf, type GatewayContext } from "../context.ts";
import { coreErrors, GatewayError, logEvent } from "../errors.ts";
import { unhealthyTargets } from "../health/index.ts";
import { upstreamErrors } from "./errors.ts";
import { fetchOrigin, isFetcher, type OriginFetcher } from "./fetch.ts";
import { applyResponseEdits, connectionTokens, forwardingHeaders, HOP_BY_HOP, type HeaderEdits } from "./headers.ts";
import { isGatewayFailure, replayable, type Outcome } from "./retry.ts";
import type { CompiledOrigin, PathBuilder, QueryFilter } from "./target.ts";
import { chooseTarget, secondsUntilAvailable, stickyHashOf, type UnhealthyTargets, type Upstream, type UpstreamTarget } from "./targets.ts";

declare module "hono" {
  interface ContextVariableMap {
    /**
     * Set by a policy that may have to abandon the request while its body streams to the origin
     * (a body limit): aborting it aborts the origin fetch, and its reason is the answer.
     */
    stopForwarding: AbortSignal | undefined;
  }
}

/** Where a matched request goes and what changes on the way; compiled once per route. */
export interface ForwardPlan {
  origin: CompiledOrigin;
  buildPath: PathBuilder;
  /** The client's query string minus credential parameters. */
  forwardQuery: QueryFilter;
  requestEdits: HeaderEdits;
  responseEdits: HeaderEdits;
}

/** What the matcher found, for the forwarding step and policies that answer themselves. */
export interface RouteMatch {
  canonicalPath: string;
  params: Record<string, string>;
  rest: string;
}

/** Base pause before retrying the target that just failed (when it is the only one left). */
export const SAME_TARGET_BACKOFF_MS = 25;

/** Why a failure that the origin's `retries.on` names was not retried. */
export type RetryDenied = "method" | "body" | "budget" | "no_target";

/** What the access log says of a request to an origin with targets (absent for a plain `url` origin). */
export interface UpstreamLog {
  /** The target that gave the answer (or the last failure). */
  target: string;
  /** Each failed try that was retried: the target and what came of it ("connect", "timeout", or the status). */
  retries?: { target: string; outcome: Outcome }[];
  /** A retryable failure that was not retried, and why. */
  retryDenied?: RetryDenied;
}

declare module "hono" {
  interface ContextVariableMap {
    /** Set by forwardToTargets for the access log. */
    upstream: UpstreamLog | undefined;
  }
}

/**
 * The body to send: the runtime's fetch refuses one on GET and HEAD, so such a request is answered
 * 400 here, before any origin contact, rather than failing inside fetch and reading as an origin
 * fault (502). An empty body (`Content-Length: 0`) is no body.
 */
export function forwardedBody(request: Request): ReadableStream | null {
  if (request.body === null || (request.method !== "GET" && request.method !== "HEAD")) return request.body;
  if (request.headers.get("content-length") === "0") return null;
  throw coreErrors.body_not_allowed("A GET or HEAD request may not carry a body.");
}

/** The route's forwarding step: the fast path for a plain `url` origin, the target-choosing one otherwise. */
export function forwarderOf(plan: ForwardPlan): (c: GatewayContext) => Promise<Response> {
  return plan.origin.upstream === undefined
    ? (c) => forwardToOrigin(c, plan, c.get("match"))
    : (c) => forwardToTargets(c, plan, c.get("match"));
}

export async function forwardToOrigin(c: GatewayContext, plan: ForwardPlan, match: RouteMatch): Promise<Response> {
  const url = new URL(c.req.url);
  const request = c.req.raw;
  const body = forwardedBody(request);
  const headers = forwardingHeaders(c, url, plan.requestEdits);
  const { origin } = plan;
  if (origin.hostHeader) headers.set("host", origin.hostHeader);
  const target = origin.base + plan.buildPath(match.canonicalPath, match.params, match.rest) + plan.forwardQuery(url.search);
  const sent = Date.now();
  const response = await fetchOrigin(target, { method: request.method, headers, body }, origin.timeoutMs, { stop: c.get("stopForwarding") });
  c.set("originMs", Date.now() - sent);
  return clientResponse(c, plan, response);
}

/** The origin's response as the client gets it: hop-by-hop headers out, the route's edits in. */
function clientResponse(c: GatewayContext, plan: ForwardPlan, response: Response): Response {
  const out = new Response(response.body, response);
  let named: Set<string>;
  try {
    named = connectionTokens(out.headers.get("connection"));
  } catch {
    named = new Set(); // a malformed Connection from the origin: its hop-by-hop headers still go below
  }
  for (const name of HOP_BY_HOP) out.headers.delete(name);
  for (const name of named) out.headers.delete(name);
  applyResponseEdits(out.headers, plan.responseEdits, c.get("requestId"));
  return out;
}

/** The board's view for an origin with health checks (cached in the isolate; see src/health/client.ts). */
export function healthOf(c: GatewayContext, upstream: Upstream, now: number): UnhealthyTargets | undefined {
  return upstream.healthChecked ? unhealthyTargets(c.env?.UPSTREAM_HEALTH, waitUntilOf(c), now) : undefined;
}

/** Where a try at `target` is sent, and through what: its URL, or the service binding with the client's host. */
export function targetAddress(c: GatewayContext, upstream: Upstream, target: UpstreamTarget, url: URL): { base: string; via: OriginFetcher } {
  if (target.service === undefined) return { base: target.base, via: globalThis };
  const binding: unknown = c.env?.[target.service];
  if (!isFetcher(binding)) {
    logEvent("error", "service_binding_missing", { origin: upstream.name, binding: target.service, requestId: c.get("requestId") });
    throw coreErrors.internal_error("The gateway failed to handle the request.");
  }
  return { base: `${url.protocol}//${upstream.hostHeader ?? url.host}`, via: binding };
}

/** The first try's target; every target out is 503 `origin_unavailable` with Retry-After, at once. */
export function firstTarget(upstream: Upstream, sticky: number | undefined, now: number, unhealthy: UnhealthyTargets | undefined): UpstreamTarget {
  const target = chooseTarget(upstream, sticky, now, unhealthy);
  if (target !== undefined) return target;
  const seconds = secondsUntilAvailable(upstream, now, unhealthy);
  throw upstreamErrors.origin_unavailable(`Every target of this origin is out; try again in ${seconds} s.`, { "retry-after": String(seconds) });
}

/**
 * Forwarding to an origin with targets: choose one (sticky or by weight, skipping open circuits
 * and unhealthy targets), send, and on a failure that `retries.on` names retry on another target
 * when the request is safe to repeat and the budget allows (src/upstream/retry.ts). Every target
 * out: 503 `origin_unavailable` with Retry-After, at once. A failure that is not retried is
 * answered as the origin gave it (its 503) or as the gateway's 502/504.
 */
export async function forwardToTargets(c: GatewayContext, plan: ForwardPlan, match: RouteMatch): Promise<Response> {
  const upstream = plan.origin.upstream!;
  const url = new URL(c.req.url);
  const request = c.req.raw;
  // An empty body is no body (nothing to stream, so nothing that forbids a retry).
  const body = request.headers.get("content-length") === "0" ? null : forwardedBody(request);
  const headers = forwardingHeaders(c, url, plan.requestEdits);
  if (upstream.hostHeader) headers.set("host", upstream.hostHeader);
  const path = plan.buildPath(match.canonicalPath, match.params, match.rest) + plan.forwardQuery(url.search);
  const started = Date.now();
  const unhealthy = healthOf(c, upstream, started);
  const sticky = upstream.stickyBy === undefined ? undefined : stickyHashOf(c, upstream.stickyBy);
  const { retry } = upstream;
  retry?.budget.request(started);

  let target = firstTarget(upstream, sticky, started, unhealthy);
  const log: UpstreamLog = { target: target.label };
  c.set("upstream", log);
  let tried: UpstreamTarget[] | undefined;
  for (let attempt = 0; ; attempt++) {
    const { base, via } = targetAddress(c, upstream, target, url);
    target.breaker?.sent(Date.now());
    let response: Response | undefined, failure: GatewayError | undefined, outcome: Outcome;
    try {
      response = await fetchOrigin(base + target.basePath + path, { method: request.method, headers, body }, plan.origin.timeoutMs, { via, stop: c.get("stopForwarding") });
      outcome = response.status;
    } catch (err) {
      if (!(err instanceof GatewayError)) throw err;
      failure = err;
      outcome = err.code === "origin_timeout" ? "timeout" : "connect";
    }
    const now = Date.now();
    if (target.breaker !== undefined) {
      if (isGatewayFailure(outcome)) target.breaker.failed(now);
      else target.breaker.succeeded();
    }
    if (retry !== undefined && retry.on.has(outcome) && attempt < retry.attempts) {
      let next: UpstreamTarget | undefined;
      if (!replayable(request.method, request.headers, body)) log.retryDenied = body === null ? "method" : "body";
      else {
        // Another target when there is one; the same one only when it is the last left.
        (tried ??= []).push(target);
        next = chooseTarget(upstream, sticky, now, unhealthy, tried) ?? chooseTarget(upstream, sticky, now, unhealthy);
        if (next === undefined) log.retryDenied = "no_target";
        else if (!retry.budget.withdraw(now)) { log.retryDenied = "budget"; next = undefined; }
      }
      if (next !== undefined) {
        (log.retries ??= []).push({ target: target.label, outcome });
        response?.body?.cancel().catch(() => {});
        // Straight to another target; the same one gets a short jittered pause first (Envoy: 25 ms base).
        if (next === target) await new Promise((resolve) => setTimeout(resolve, SAME_TARGET_BACKOFF_MS * (1 + Math.random()) * 2 ** attempt));
        target = next;
        log.target = next.label;
        continue;
      }
    }
    c.set("originMs", now - started);
    if (failure !== undefined) throw failure;
    return clientResponse(c, plan, response!);
  }
}
