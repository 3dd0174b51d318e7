/**
 * The one fetch the gateway makes to an origin (forwarding, WebSocket pass-through, a room's backend
 * events, health probes): redirects are passed back, never followed, and the origin has `timeoutMs`
 * to send its response headers (the timer does not cover a long streamed body). A failure is a
 * GatewayError: 504 `origin_timeout` or 502 `origin_unreachable`, so an origin fault reads as one
 * everywhere. `via` is a service binding for an origin that is another Worker (the same rules).
 */
import { coreErrors } from "../errors.ts";

/** What a request can be sent through: the global fetch, or a service binding (Fetcher). */
export interface OriginFetcher {
  fetch(input: string, init: RequestInit): Promise<Response>;
}

export async function fetchOrigin(url: string, init: RequestInit, timeoutMs: number, via: OriginFetcher = globalThis): Promise<Response> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  init.signal = controller.signal;
  init.redirect = "manual";
  try {
    return await via.fetch(url, init);
  } catch {
    if (controller.signal.aborted) throw coreErrors.origin_timeout("The origin did not respond in time.");
    throw coreErrors.origin_unreachable("The origin could not be reached.");
  } finally {
    clearTimeout(timer);
  }
}

/** True for a service binding (or anything else with a fetch method) found in the Worker's env. */
export function isFetcher(value: unknown): value is OriginFetcher {
  return typeof value === "object" && value !== null && "fetch" in value && typeof value.fetch === "function";
}
