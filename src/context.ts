/**
 * The Hono environment of the gateway: the Worker's bindings (generated from wrangler.toml by
 * `wrangler types` into worker-configuration.d.ts, checked by `npm test`) plus the Worker secrets a
 * route table names, and the context variables of the core. Each capability declares its own
 * variables beside its code by extending Hono's `ContextVariableMap`, so no file lists them all.
 */
import type { Context, MiddlewareHandler } from "hono";
import type { TraceContext } from "./trace.ts";

/** Bindings from wrangler.toml, plus Worker secrets and vars named in routes.json ({ "env": "NAME" }). */
export type GatewayBindings = Env & {
  /** "off" silences the per-request log line (benchmarks). Default on. */
  LOG_REQUESTS?: string;
  /**
   * Workers Analytics Engine dataset (`[[analytics_engine_datasets]]` in wrangler.toml, off by
   * default): when bound, one data point per request (docs/metrics.md has the schema).
   */
  GATEWAY_ANALYTICS?: AnalyticsEngineDataset;
  /** "off" stops the metrics recorder (per-route metrics and Analytics Engine points). Default on. */
  RECORD_METRICS?: string;
  [secret: string]: unknown;
};

export interface GatewayEnv {
  Bindings: GatewayBindings;
}

export type GatewayContext = Context<GatewayEnv>;
export type GatewayMiddleware = MiddlewareHandler<GatewayEnv>;

declare module "hono" {
  interface ContextVariableMap {
    /** The request id: a valid incoming X-Request-Id, or a fresh UUID. On every response. */
    requestId: string;
    /** The error code of a gateway-made error response, for the access log. */
    errorCode: string | undefined;
    /** Milliseconds until the origin's response headers, for the access log. */
    originMs: number | undefined;
    /** The request's W3C trace (continued or started by the core); the origin receives its traceparent. */
    trace: TraceContext;
    /**
     * Who the caller is, for the access log and metrics only (never for decisions): the verified
     * API key's id and the verified token's subject, set by the policies that verified them.
     */
    keyId: string | undefined;
    subject: string | undefined;
    /**
     * Milliseconds spent per Server-Timing name (`auth`, `limit`) on a route with `serverTiming`;
     * undefined on every other route (src/router/compile.ts times the chain only where it is on).
     */
    serverTimings: Map<string, number> | undefined;
  }
}

/** The Worker's ExecutionContext's waitUntil, or undefined where there is none (some tests). */
export function waitUntilOf(c: GatewayContext): ((promise: Promise<unknown>) => void) | undefined {
  try {
    const ctx = c.executionCtx;
    return (promise) => ctx.waitUntil(promise);
  } catch {
    return undefined;
  }
}

/**
 * Sets a header on the final response, copying the response once if its headers are immutable
 * (a Durable Object's answer). Policies that act on the response call this after `await next()`.
 */
export function setResponseHeader(c: GatewayContext, name: string, value: string, append = false): void {
  try {
    if (append) c.res.headers.append(name, value);
    else c.res.headers.set(name, value);
  } catch {
    const res = c.res;
    const copy = new Response(res.body, { status: res.status, statusText: res.statusText, headers: res.headers, webSocket: res.webSocket });
    if (append) copy.headers.append(name, value);
    else copy.headers.set(name, value);
    replaceResponse(c, copy);
  }
}

/**
 * Edits the final response's headers in one go (several names at once), copying the response once
 * if its headers are immutable. `edit` may run twice (the copy is edited afresh when the first
 * attempt hits immutable headers), so it must only set and delete.
 */
export function editResponseHeaders(c: GatewayContext, edit: (headers: Headers) => void): void {
  try {
    edit(c.res.headers);
  } catch {
    const res = c.res;
    const copy = new Response(res.body, { status: res.status, statusText: res.statusText, headers: res.headers, webSocket: res.webSocket });
    edit(copy.headers);
    replaceResponse(c, copy);
  }
}

/**
 * Replaces `c.res` without Hono's merge: assigning over an existing response makes Hono copy the
 * old response's headers into the new one (a rebuild, and an origin's headers on a gateway error).
 */
export function replaceResponse(c: GatewayContext, res: Response): void {
  c.res = undefined;
  c.res = res;
}
