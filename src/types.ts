import type { Context } from "hono";
import type { CompiledRoute } from "./router/compile.ts";

/** Bindings and secrets the gateway reads (wrangler.toml and `wrangler secret put`). */
export interface GatewayBindings {
  /** "off" silences the per-request log line (benchmarks). Default on. */
  LOG_REQUESTS?: string;
  QUOTA: DurableObjectNamespace;
  API_KEYS: DurableObjectNamespace;
  ROOMS: DurableObjectNamespace;
  /** Worker secrets named in routes.json ({ "env": "NAME" }). */
  [secret: string]: unknown;
}

export interface GatewayVariables {
  requestId: string;
  route: CompiledRoute | undefined;
  originMs: number | undefined;
  /** The error code of a gateway-made error response, for the access log. */
  errorCode: string | undefined;
  /** Headers a policy adds to the origin request (identity headers); set after client copies are removed. */
  upstreamHeaders: Headers | undefined;
  /** Headers a policy adds to the response (rate-limit headers). */
  responseHeaders: Headers | undefined;
}

export interface GatewayEnv {
  Bindings: GatewayBindings;
  Variables: GatewayVariables;
}

export type GatewayContext = Context<GatewayEnv>;

/**
 * A policy runs for every request on a route, in order, before forwarding. It throws a
 * `GatewayError` to refuse, or returns a `Response` to answer instead of the origin.
 * Policies are built once per route at startup by factories that validate their options.
 */
export type Policy = (c: GatewayContext) => Promise<Response | void> | Response | void;

/** What the matcher found, for handlers that serve a route themselves. */
export interface RouteMatch {
  canonicalPath: string;
  params: Record<string, string>;
  rest: string;
}

export type RouteHandler = (c: GatewayContext, match: RouteMatch) => Promise<Response> | Response;
