/**
 * Forwarding to an origin: bodies stream both ways (never buffered), redirects are passed back (not
 * followed), the origin has `timeoutMs` to send its response headers.
 *
 * This is a plain `fetch` plus one Response rebuild rather than Hono's proxy helper: the helper
 * copies the Request and rebuilds the Response again, which measured 15-27 us per request on
 * workerd (bench/FINDINGS.md, pass-through-breakdown), a fifth of the gateway's whole overhead.
 * The one rebuild is unavoidable: fetch responses have immutable headers, and the gateway must
 * strip hop-by-hop headers and add its own.
 */
import type { GatewayContext } from "../context.ts";
import { coreErrors } from "../errors.ts";
import { fetchOrigin } from "./fetch.ts";
import { applyResponseEdits, connectionTokens, forwardingHeaders, HOP_BY_HOP, type HeaderEdits } from "./headers.ts";
import type { CompiledOrigin, PathBuilder, QueryFilter } from "./target.ts";

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

export async function forwardToOrigin(c: GatewayContext, plan: ForwardPlan, match: RouteMatch): Promise<Response> {
  const url = new URL(c.req.url);
  const request = c.req.raw;
  const body = forwardedBody(request);
  const headers = forwardingHeaders(c, url, plan.requestEdits);
  const { origin } = plan;
  if (origin.hostHeader) headers.set("host", origin.hostHeader);
  const target = origin.base + plan.buildPath(match.canonicalPath, match.params, match.rest) + plan.forwardQuery(url.search);
  const sent = Date.now();
  const response = await fetchOrigin(target, { method: request.method, headers, body }, origin.timeoutMs, c.get("stopForwarding"));
  c.set("originMs", Date.now() - sent);
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
