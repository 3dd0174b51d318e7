/**
 * The mirror middleware. Before the request goes on, a sampled request is copied: the same method,
 * the headers the origin would get (the same hygiene, credentials withheld, identity set by the
 * route's auth policies) plus `X-Gateway-Mirror: 1`, the path the route sends to its origin joined
 * to the mirror origin's URL, and the body when the route allows it. The copy is sent in
 * `waitUntil`, with the mirror origin's timeout; its answer is drained and ignored, its failure is
 * one operator log line. Nothing of it can change what the client gets.
 *
 * The body: a request body is a stream that can be read once, so copying it means teeing it and
 * giving the forwarder one branch: this policy replaces `c.req.raw` with the same request on that
 * branch (the forwarder reads the body from `c.req.raw`, so nothing in the core changes and a
 * route without `mirror` pays nothing). workerd's tee of a request body keeps its known length, so
 * the origin still gets a Content-Length rather than a chunked body (test/worker/mirror.test.ts).
 * Only bodies with a Content-Length up to `maxBodyBytes` are teed: a tee holds what the faster
 * reader has read and the slower has not, so the bound is the memory one mirrored request can take.
 */
import type { CoreRoute, CoreTable } from "../../config/core.ts";
import type { GatewayMiddleware } from "../../context.ts";
import { waitUntilOf } from "../../context.ts";
import { errorText, logEvent } from "../../errors.ts";
import { compileOrigin, compilePathBuilder, fetchOrigin, forwardedBody, forwardingHeaders, NO_EDITS } from "../../upstream/index.ts";

export const MIRROR_HEADER = "x-gateway-mirror";

export interface MirrorConfig {
  origin: string;
  percent: number;
  body: boolean;
  maxBodyBytes: number;
}

type MirrorRoute = CoreRoute & { mirror?: MirrorConfig };

export function mirrorRequests(route: MirrorRoute, origins: CoreTable["origins"]): GatewayMiddleware {
  const config = route.mirror;
  if (!config) throw new TypeError(`route "${route.id}" has no mirror`);
  const spec = origins[config.origin];
  if (!spec) throw new TypeError(`route "${route.id}": mirror origin "${config.origin}" is not in origins`);
  const origin = compileOrigin(config.origin, spec);
  if (origin.upstream !== undefined) throw new TypeError(`route "${route.id}": mirror origin "${config.origin}" must be a plain url origin`);
  const buildPath = compilePathBuilder(route, origin);
  const { percent, maxBodyBytes } = config;

  return async function mirror(c, next) {
    if (percent <= 0 || Math.random() * 100 >= percent) return next();
    const waitUntil = waitUntilOf(c);
    if (waitUntil === undefined) return next();
    const request = c.req.raw;
    let body = forwardedBody(request); // a GET with a body is refused here as the forwarder would
    if (body !== null) {
      const length = Number(request.headers.get("content-length") ?? Number.NaN);
      if (!config.body || !(length <= maxBodyBytes)) return next();
      const [primary, copy] = body.tee();
      c.req.raw = new Request(request, { body: primary });
      body = copy;
    }
    const url = new URL(request.url);
    const compiled = c.get("route");
    const headers = forwardingHeaders(c, url, compiled?.requestEdits ?? NO_EDITS);
    headers.set(MIRROR_HEADER, "1");
    if (origin.hostHeader) headers.set("host", origin.hostHeader);
    const match = c.get("match");
    const query = compiled?.plan ? compiled.plan.forwardQuery(url.search) : url.search;
    const target = origin.base + buildPath(match.canonicalPath, match.params, match.rest) + query;
    const copyBody = body;
    waitUntil(fetchOrigin(target, { method: request.method, headers, body: copyBody }, origin.timeoutMs).then(
      (response) => response.body?.cancel(),
      (err) => {
        copyBody?.cancel().catch(() => {});
        logEvent("warn", "mirror_failed", { routeId: route.id, mirror: config.origin, requestId: c.get("requestId"), error: errorText(err) });
      },
    ));
    return next();
  };
}
