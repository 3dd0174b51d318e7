/**
 * Forwarding to an origin through Hono's proxy helper: bodies stream both ways (never buffered),
 * redirects are passed back (not followed), the origin has `timeoutMs` to send its response headers.
 */
import { proxy } from "hono/proxy";
import { GatewayError } from "../errors.ts";
import type { CompiledOrigin } from "./target.ts";

export async function forwardToOrigin(request: Request, origin: CompiledOrigin, pathAndQuery: string, headers: Headers): Promise<Response> {
  if (origin.hostHeader) headers.set("host", origin.hostHeader);
  return proxy(origin.base + pathAndQuery, {
    method: request.method,
    body: request.body,
    duplex: request.body ? "half" : undefined,
    headers,
    redirect: "manual",
    customFetch: (originRequest: Request) => fetchWithTimeout(originRequest, origin.timeoutMs),
  } as RequestInit & { customFetch: (r: Request) => Promise<Response> });
}

/** The timer covers the wait for response headers only; a long streamed body is not cut off. */
async function fetchWithTimeout(request: Request, timeoutMs: number): Promise<Response> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    return await fetch(request, { signal: controller.signal });
  } catch {
    if (controller.signal.aborted) throw new GatewayError(504, "origin_timeout", "The origin did not respond in time.");
    throw new GatewayError(502, "origin_unreachable", "The origin could not be reached.");
  } finally {
    clearTimeout(timer);
  }
}
