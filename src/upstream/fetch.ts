/**
 * The one fetch the gateway makes to an origin (forwarding, WebSocket pass-through, a room's backend
 * events, health probes): redirects are passed back, never followed, and the origin has `timeoutMs`
 * to send its response headers (the timer does not cover a long streamed body). A failure is a
 * GatewayError: 504 `origin_timeout` or 502 `origin_unreachable`, so an origin fault reads as one
 * everywhere. `via` is a service binding for an origin that is another Worker (the same rules).
 *
 * `stop` is a policy's signal to abandon the request while its body streams (a body limit crossed
 * mid-upload). Aborting is the one way to make the origin see an unfinished body: workerd ends a
 * chunked request body whose stream errors as if it were complete (probed: the origin received
 * 3,000 of the bytes and answered 200). The signal's reason (a GatewayError) is what is thrown.
 */
import { coreErrors } from "../errors.ts";

/** What a request can be sent through: the global fetch, or a service binding (Fetcher). */
export interface OriginFetcher {
  fetch(input: string, init: RequestInit): Promise<Response>;
}

export interface FetchOriginOptions {
  /** A service binding instead of the global fetch. */
  via?: OriginFetcher;
  /** Abandons the request (its reason is thrown). */
  stop?: AbortSignal | undefined;
}

export async function fetchOrigin(url: string, init: RequestInit, timeoutMs: number, options: FetchOriginOptions = {}): Promise<Response> {
  const { via = globalThis, stop } = options;
  if (stop?.aborted) throw stop.reason;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  if (stop) stop.addEventListener("abort", () => controller.abort(stop.reason), { once: true });
  init.signal = controller.signal;
  init.redirect = "manual";
  try {
    return await via.fetch(url, init);
  } catch {
    if (stop?.aborted) throw stop.reason;
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
