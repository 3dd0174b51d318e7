import type { Context } from "hono";
import type { JWTPayload } from "jose";
import type { CompiledRoute } from "./router/compile.ts";
import type { KeyStore } from "./policies/api-key/durable_object.ts";
import type { ApiKeyIdentity } from "./policies/api-key/records.ts";
import type { QuotaCounter } from "./quota/durable_object.ts";

/** Bindings and secrets the gateway reads (wrangler.toml and `wrangler secret put`). */
export interface GatewayBindings {
  /** "off" silences the per-request log line (benchmarks). Default on. */
  LOG_REQUESTS?: string;
  QUOTA: DurableObjectNamespace<QuotaCounter>;
  API_KEYS: DurableObjectNamespace<KeyStore>;
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
  /** Client request headers not forwarded to the origin (identity header names, credentials). */
  upstreamRemove: Set<string> | undefined;
  /** Claims of the verified JWT (set by the JWT authorizer; read by rate limits and rooms). */
  jwt: JWTPayload | undefined;
  /** Headers a policy adds to the response (rate-limit headers). */
  responseHeaders: Headers | undefined;
  /** The caller's API key (id, name, owner, plan), set by the api-key policy. */
  apiKey: ApiKeyIdentity | undefined;
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
