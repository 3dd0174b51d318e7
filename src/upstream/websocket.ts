/**
 * WebSocket pass-through for `"websocket": true` routes: after the route's auth policies, the upgrade
 * is sent to the origin (same header hygiene as forwarding, the same path building), and frames are
 * relayed both ways, text as text and binary as binary. When either side closes, the other is closed
 * with the same code and reason (or 1000 / 1011 when the code may not be sent).
 *
 * A plain HTTP request to such a route gets 426: the route is a WebSocket endpoint.
 */
import type { GatewayContext } from "../context.ts";
import { coreErrors } from "../errors.ts";
import { fetchOrigin } from "./fetch.ts";
import { firstTarget, healthOf, targetAddress, type ForwardPlan, type RouteMatch } from "./forward.ts";
import { isGatewayFailure } from "./retry.ts";
import { stickyHashOf } from "./targets.ts";
import { applyResponseEdits, forwardingHeaders, originHeader } from "./headers.ts";

/** True for a WebSocket upgrade: `Upgrade` lists the `websocket` token, in any case. */
export function isWebSocketUpgrade(headers: Headers): boolean {
  const upgrade = headers.get("upgrade");
  return upgrade !== null && upgrade.split(",").some((token) => token.trim().toLowerCase() === "websocket");
}

/**
 * The first subprotocol the client offered, as the route's policies left the offer: an entry that
 * carried a token has been taken out, so it is never echoed back as the chosen protocol. The answer
 * must name one of the client's offers or browsers fail the connection, so a browser presenting a
 * token this way offers a real protocol too: `new WebSocket(url, ["chat.v1", "bearer." + token])`.
 */
export function firstSubprotocol(c: GatewayContext): string | null {
  const edited = originHeader(c, "sec-websocket-protocol");
  if (edited === null) return null;
  const offered = edited ?? c.req.raw.headers.get("sec-websocket-protocol");
  if (!offered) return null;
  const first = offered.split(",")[0]!.trim();
  return first === "" ? null : first;
}

/** Rejects anything that is not a GET with `Upgrade: websocket`, with 405 or 426. */
export function requireUpgrade(c: GatewayContext, what: string): void {
  if (!isWebSocketUpgrade(c.req.raw.headers))
    throw coreErrors.upgrade_required(`${what} is a WebSocket endpoint: connect with Upgrade: websocket.`, { upgrade: "websocket" });
  if (c.req.method !== "GET")
    throw coreErrors.method_not_allowed("A WebSocket upgrade is a GET request.", { allow: "GET" });
}

/** Handshake headers the runtime writes itself when it opens the origin's WebSocket. */
const HANDSHAKE = ["sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "sec-websocket-accept"];

export async function webSocketPassThrough(c: GatewayContext, plan: ForwardPlan, match: RouteMatch): Promise<Response> {
  requireUpgrade(c, "This route");
  const { origin } = plan;
  const url = new URL(c.req.url);
  const requestId = c.get("requestId");
  const headers = forwardingHeaders(c, url, plan.requestEdits);
  for (const name of HANDSHAKE) headers.delete(name);
  headers.set("upgrade", "websocket");
  if (origin.hostHeader) headers.set("host", origin.hostHeader);

  const path = plan.buildPath(match.canonicalPath, match.params, match.rest) + plan.forwardQuery(url.search);
  const sent = Date.now();
  let response: Response;
  if (origin.upstream === undefined) {
    response = await fetchOrigin(origin.base + path, { headers }, origin.timeoutMs);
  } else {
    // An origin with targets: one target, chosen as for any request (sticky, weights, breakers,
    // health); an upgrade is never retried (the client's handshake is in flight once).
    const upstream = origin.upstream;
    const target = firstTarget(upstream, upstream.stickyBy && stickyHashOf(c, upstream.stickyBy), sent, healthOf(c, upstream, sent));
    c.set("upstream", { target: target.label });
    const { base, via } = targetAddress(c, upstream, target, url);
    target.breaker?.sent(sent);
    try {
      response = await fetchOrigin(base + target.basePath + path, { headers }, origin.timeoutMs, { via });
    } catch (err) {
      target.breaker?.failed(Date.now());
      throw err;
    }
    if (isGatewayFailure(response.status)) target.breaker?.failed(Date.now());
    else target.breaker?.succeeded();
  }
  c.set("originMs", Date.now() - sent);

  const upstream = response.webSocket;
  if (response.status !== 101 || !upstream) {
    // The origin answered the upgrade with HTTP (401, 404, ...): the client sees that answer.
    if (response.status === 101) throw coreErrors.origin_bad_upgrade("The origin's WebSocket handshake failed.");
    const passed = new Response(response.body, response);
    applyResponseEdits(passed.headers, plan.responseEdits, requestId);
    return passed;
  }

  const pair = new WebSocketPair();
  const client = pair[0], server = pair[1];
  // Binary frames must stay ArrayBuffers: with a Blob (the newer default) send() would not relay them.
  upstream.binaryType = "arraybuffer";
  server.binaryType = "arraybuffer";
  upstream.accept();
  server.accept();
  relay(server, upstream);
  relay(upstream, server);

  const answer = new Headers();
  const protocol = response.headers.get("sec-websocket-protocol");
  if (protocol) answer.set("sec-websocket-protocol", protocol);
  applyResponseEdits(answer, plan.responseEdits, requestId);
  return new Response(null, { status: 101, webSocket: client, headers: answer });
}

/** Forwards every frame from `from` to `to`, and the close (or an error) as a close. */
function relay(from: WebSocket, to: WebSocket): void {
  from.addEventListener("message", (event) => {
    try { to.send(event.data); } catch { closeQuietly(from, 1011, "peer gone"); }
  });
  from.addEventListener("close", (event) => {
    closeQuietly(to, sendableCode(event.code), event.reason);
    closeQuietly(from, sendableCode(event.code), event.reason);
  });
  from.addEventListener("error", () => {
    closeQuietly(to, 1011, "peer error");
  });
}

function closeQuietly(ws: WebSocket, code: number, reason: string): void {
  try { ws.close(code, reason); } catch { /* already closed */ }
}

/** Codes that describe a close but may not travel in a close frame become 1000 (none given) or 1011. */
export function sendableCode(code: number): number {
  if (code === 1005) return 1000;
  if (code === 1006 || code === 1015 || code === 1004 || code < 1000 || code >= 5000 || (code >= 1016 && code < 3000)) return 1011;
  return code;
}
