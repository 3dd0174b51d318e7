/**
 * The one fetch the gateway makes to an origin (forwarding, WebSocket pass-through, a room's backend
 * events): redirects are passed back, never followed, and the origin has `timeoutMs` to send its
 * response headers (the timer does not cover a long streamed body). A failure is a GatewayError:
 * 504 `origin_timeout` or 502 `origin_unreachable`, so an origin fault reads as one everywhere.
 */
import { coreErrors } from "../errors.ts";

export async function fetchOrigin(url: string, init: RequestInit, timeoutMs: number): Promise<Response> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  init.signal = controller.signal;
  init.redirect = "manual";
  try {
    return await fetch(url, init);
  } catch {
    if (controller.signal.aborted) throw coreErrors.origin_timeout("The origin did not respond in time.");
    throw coreErrors.origin_unreachable("The origin could not be reached.");
  } finally {
    clearTimeout(timer);
  }
}
