/**
 * The one fetch the gateway makes to an origin (forwarding, WebSocket pass-through, a room's backend
 * events): redirects are passed back, never followed, and the origin has `timeoutMs` to send its
 * response headers (the timer does not cover a long streamed body). A failure is a GatewayError:
 * 504 `origin_timeout` or 502 `origin_unreachable`, so an origin fault reads as one everywhere.
 *
 * `stop` is a policy's signal to abandon the request while its body streams (a body limit crossed
 * mid-upload). Aborting is the one way to make the origin see an unfinished body: workerd ends a
 * chunked request body whose stream errors as if it were complete (probed: the origin received
 * 3,000 of the bytes and answered 200). The signal's reason (a GatewayError) is what is thrown.
 */
import { coreErrors } from "../errors.ts";

export async function fetchOrigin(url: string, init: RequestInit, timeoutMs: number, stop?: AbortSignal): Promise<Response> {
  if (stop?.aborted) throw stop.reason;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  if (stop) stop.addEventListener("abort", () => controller.abort(stop.reason), { once: true });
  init.signal = controller.signal;
  init.redirect = "manual";
  try {
    return await fetch(url, init);
  } catch {
    if (stop?.aborted) throw stop.reason;
    if (controller.signal.aborted) throw coreErrors.origin_timeout("The origin did not respond in time.");
    throw coreErrors.origin_unreachable("The origin could not be reached.");
  } finally {
    clearTimeout(timer);
  }
}
