/**
 * The gateway side of a room route. Runs after the route's auth policies, so a refused token never
 * reaches it and never gets a 101. It checks the upgrade and the Origin, takes the identity from the
 * verified claims (never from the client), and hands the upgrade to the room's Durable Object with
 * that identity in an internal header it sets itself.
 */
import type { Route, RouteTable } from "../config/index.ts";
import { GatewayError } from "../errors.ts";
import type { GatewayContext, RouteHandler, RouteMatch } from "../types.ts";
import { compileOrigin, forwardingHeaders, NO_EDITS } from "../upstream/index.ts";
import { firstSubprotocol, requireUpgrade } from "../upstream/websocket.ts";
import {
  CONNECT_HEADER, IDENTITY_BUDGET_BYTES, ROOM_NAME, type ConnectRequest, type Identity, type RoomSettings,
} from "./protocol.ts";

/** The verified JWT claims a policy left on the context (absent on routes without an authorizer). */
function verifiedClaims(c: GatewayContext): Record<string, unknown> | null {
  const claims = (c.var as unknown as Record<string, unknown>)["jwt"];
  return typeof claims === "object" && claims !== null && !Array.isArray(claims) ? (claims as Record<string, unknown>) : null;
}

export function roomSettings(route: Route, table: RouteTable): RoomSettings {
  const room = route.room!;
  let backend: RoomSettings["backend"] = null;
  if (room.backend) {
    const origin = compileOrigin(room.backend.origin, table.origins[room.backend.origin]!);
    backend = {
      url: origin.base + origin.basePath + room.backend.path,
      timeoutMs: origin.timeoutMs,
      hostHeader: origin.hostHeader ?? null,
      events: room.backend.events,
      set: Object.entries(route.requestHeaders?.set ?? {}),
    };
  }
  return {
    maxConnections: room.maxConnections,
    maxMessageBytes: room.maxMessageBytes,
    messagesPerSecond: room.messagesPerSecond,
    idleTimeoutSec: room.idleTimeoutSec,
    presence: room.presence,
    backend,
  };
}

export function createRoomHandler(route: Route, table: RouteTable): RouteHandler {
  const room = route.room;
  if (!room) throw new TypeError(`route "${route.id}" has no room`);
  const settings = roomSettings(route, table);
  const allowedOrigins = room.allowedOrigins ? new Set(room.allowedOrigins) : null;
  const nameParam = room.name.startsWith(":") ? room.name.slice(1) : null;
  const claimNames = room.identityClaims ?? [];

  return async function roomHandler(c: GatewayContext, match: RouteMatch): Promise<Response> {
    requireUpgrade(c, "This room");
    if (allowedOrigins) {
      const origin = c.req.header("origin")?.toLowerCase();
      if (!origin || !allowedOrigins.has(origin)) throw new GatewayError(403, "origin_not_allowed", "This Origin may not connect to the room.");
    }
    const name = nameParam === null ? room.name : match.params[nameParam] ?? "";
    if (!ROOM_NAME.test(name)) throw new GatewayError(400, "bad_room", "Room names are 1-128 letters, digits and . _ ~ -.");

    const claims = verifiedClaims(c);
    const identity: Identity = { sub: typeof claims?.sub === "string" ? claims.sub : null, claims: {} };
    for (const claim of claimNames) if (claims && Object.hasOwn(claims, claim)) identity.claims[claim] = claims[claim];
    if (new TextEncoder().encode(JSON.stringify(identity)).byteLength > IDENTITY_BUDGET_BYTES)
      throw new GatewayError(400, "identity_too_large", `The token's subject and identity claims exceed the room's ${IDENTITY_BUDGET_BYTES}-byte budget per connection.`);

    const url = new URL(c.req.url);
    const requestId = c.get("requestId");
    // The headers the backend's connect event will carry: the same hygiene as forwarding, including
    // the route's edits (which also drop the credentials the route verified).
    const headers = forwardingHeaders(c, url, c.get("route")?.requestEdits ?? NO_EDITS);
    // Handshake headers (and a token a browser may carry in Sec-WebSocket-Protocol) stay here; so do
    // client copies of the internal header, which is set below from what the gateway verified.
    for (const header of [...headers.keys()]) if (header.startsWith("sec-websocket-") || header.startsWith("x-gateway-room")) headers.delete(header);
    const connect: ConnectRequest = {
      v: 1,
      room: name,
      connectionId: crypto.randomUUID(),
      requestId,
      identity,
      exp: typeof claims?.exp === "number" && Number.isFinite(claims.exp) ? claims.exp : null,
      protocol: firstSubprotocol(c),
      settings,
    };
    headers.set(CONNECT_HEADER, JSON.stringify(connect));
    headers.set("upgrade", "websocket");

    let response: Response;
    try {
      const stub = c.env.ROOMS.get(c.env.ROOMS.idFromName(name));
      response = await stub.fetch("https://room.internal/connect", { headers });
    } catch (err) {
      console.error(JSON.stringify({ requestId, room: name, error: String(err) }));
      throw new GatewayError(503, "room_unavailable", "The room is unavailable; try again.");
    }
    if (response.status === 101 && response.webSocket) {
      // A fresh Response: the one from the stub has immutable headers, and the log adds x-request-id.
      return new Response(null, { status: 101, webSocket: response.webSocket, headers: response.headers });
    }
    throw await refusalOf(response);
  };
}

async function refusalOf(response: Response): Promise<GatewayError> {
  try {
    const body = (await response.json()) as { error?: { code?: unknown; message?: unknown } };
    if (typeof body.error?.code === "string" && typeof body.error.message === "string")
      return new GatewayError(response.status, body.error.code, body.error.message);
  } catch { /* fall through */ }
  return new GatewayError(502, "room_unavailable", "The room refused the connection.");
}
