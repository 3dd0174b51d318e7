/**
 * The gateway side of a room route. Runs after the route's auth policies, so a refused token never
 * reaches it and never gets a 101. It checks the upgrade and the Origin, takes the identity from the
 * verified claims (never from the client), and hands the upgrade to the room's Durable Object with
 * that identity in an internal header it sets itself.
 */
import type { CoreRoute, CoreTable } from "../../config/core.ts";
import type { GatewayContext, GatewayMiddleware } from "../../context.ts";
import {
  connectToRoom, CONNECT_HEADER, IDENTITY_BUDGET_BYTES, ROOM_NAME, roomErrors,
  type ConnectRequest, type Identity, type RoomConfig, type RoomSettings,
} from "../../rooms/index.ts";
import { compileOrigin, firstSubprotocol, forwardingHeaders, NO_EDITS, requireUpgrade } from "../../upstream/index.ts";

/** The verified JWT claims the authorizer left on the context (absent on routes without one). */
function verifiedClaims(c: GatewayContext): Record<string, unknown> | null {
  const claims = c.get("jwt");
  return typeof claims === "object" && claims !== null && !Array.isArray(claims) ? claims : null;
}

export type RoomRoute = CoreRoute & { room?: RoomConfig };

export function roomSettings(route: RoomRoute, table: Pick<CoreTable, "origins">): RoomSettings {
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

export function roomHandler(route: RoomRoute, table: Pick<CoreTable, "origins">): GatewayMiddleware {
  const config = route.room;
  if (!config) throw new TypeError(`route "${route.id}" has no room`);
  const settings = roomSettings(route, table);
  const allowedOrigins = config.allowedOrigins ? new Set(config.allowedOrigins) : null;
  const nameParam = config.name.startsWith(":") ? config.name.slice(1) : null;
  const claimNames = config.identityClaims ?? [];

  return async function room(c) {
    const match = c.get("match");
    requireUpgrade(c, "This room");
    if (allowedOrigins) {
      const origin = c.req.header("origin")?.toLowerCase();
      if (!origin || !allowedOrigins.has(origin)) throw roomErrors.origin_not_allowed("This Origin may not connect to the room.");
    }
    const name = nameParam === null ? config.name : match.params[nameParam] ?? "";
    if (!ROOM_NAME.test(name)) throw roomErrors.bad_room("Room names are 1-128 letters, digits and . _ ~ -.");

    const claims = verifiedClaims(c);
    const identity: Identity = { sub: typeof claims?.sub === "string" ? claims.sub : null, claims: {} };
    for (const claim of claimNames) if (claims && Object.hasOwn(claims, claim)) identity.claims[claim] = claims[claim];
    if (new TextEncoder().encode(JSON.stringify(identity)).byteLength > IDENTITY_BUDGET_BYTES)
      throw roomErrors.identity_too_large( `The token's subject and identity claims exceed the room's ${IDENTITY_BUDGET_BYTES}-byte budget per connection.`);

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

    return connectToRoom(c.env.ROOMS, name, headers, requestId);
  };
}
