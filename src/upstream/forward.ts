/**
 * Forwarding to an origin: bodies stream both ways (never buffered), redirects are passed back (not
 * followed), the origin has `timeoutMs` to send its response headers.
 *
 * This is a plain `fetch` plus one Response rebuild rather than Hono's proxy helper: the helper
 * copies the Request and rebuilds the Response again, which measured 15-27 us per request on
 * workerd (bench/RESULTS.md, pass-through-breakdown), a fifth of the gateway's whole overhead.
 * The one rebuild is unavoidable: fetch responses have immutable headers, and the gateway must
 * strip hop-by-hop headers and add its own.
 */
import { GatewayError } from "../errors.ts";
import { connectionTokens, HOP_BY_HOP } from "./headers.ts";
import type { CompiledOrigin } from "./target.ts";


/**
 * The body to send: the runtime's fetch refuses one on GET and HEAD, so such a request is answered
 * 400 here, before any origin contact, rather than failing inside fetch and reading as 502. An empty
 * body (`Content-Length: 0`) is no body.
 */
function bodyOf(request: Request): ReadableStream | null {
  if (request.body === null || (request.method !== "GET" && request.method !== "HEAD")) return request.body;
  if (request.headers.get("content-length") === "0") return null;
  throw new GatewayError(400, "body_not_allowed", "A GET or HEAD request may not carry a body.");
}

export async function forwardToOrigin(request: Request, origin: CompiledOrigin, pathAndQuery: string, headers: Headers): Promise<Response> {
  if (origin.hostHeader) headers.set("host", origin.hostHeader);
  // Built outside the try below: a request the runtime refuses to send is the gateway's fault (500,
  // logged), never an origin fault (502).
  const controller = new AbortController();
  const outgoing = new Request(origin.base + pathAndQuery, {
    method: request.method,
    headers,
    body: bodyOf(request),
    redirect: "manual",
    signal: controller.signal,
  });
  // The timer covers the wait for response headers only; a long streamed body is not cut off.
  const timer = setTimeout(() => controller.abort(), origin.timeoutMs);
  let response: Response;
  try {
    response = await fetch(outgoing);
  } catch {
    if (controller.signal.aborted) throw new GatewayError(504, "origin_timeout", "The origin did not respond in time.");
    throw new GatewayError(502, "origin_unreachable", "The origin could not be reached.");
  } finally {
    clearTimeout(timer);
  }
  const out = new Response(response.body, response);
  let named: Set<string>;
  try {
    named = connectionTokens(out.headers.get("connection"));
  } catch {
    named = new Set(); // a malformed Connection from the origin: its hop-by-hop headers still go below
  }
  for (const name of HOP_BY_HOP) out.headers.delete(name);
  for (const name of named) out.headers.delete(name);
  return out;
}
