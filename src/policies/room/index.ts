/**
 * WebSocket rooms on a route (`room`): the route is served by a RoomObject Durable Object instead of
 * an origin. Runs last, after the route's auth and limits, so a refused token never gets a 101.
 */
import { isObject, NAMES_OF, notPlainUrlOrigin, str } from "../../config/core.ts";
import { definePolicy } from "../../policy.ts";
import { CONNECT_HEADER, EVENT_HEADER, roomErrors, RoomSchema } from "../../rooms/index.ts";
import { roomHandler } from "./policy.ts";

export { roomHandler, roomSettings } from "./policy.ts";


export const roomPolicy = definePolicy({
  name: "room",
  summary: "Serves the route as a WebSocket room in a Durable Object, with the verified identity of each connection.",
  routeFields: { room: RoomSchema.optional().describe("Serve a WebSocket room (a Durable Object) instead of an origin.") },
  errors: roomErrors,
  answers: (route) => route.room !== undefined,
  checkRoute({ table, route, issue }) {
    const room = isObject(route.room) ? route.room : undefined;
    if (!room) return;
    if (route.origin !== undefined) issue("a room route has no origin (use room.backend for events)", "origin");
    if (route.websocket !== undefined) issue("a room route is always a WebSocket; remove websocket", "websocket");
    const roomName = str(room.name);
    if (roomName?.startsWith(":") && !(str(route.path) ?? "").split("/").includes(roomName)) issue(`room name "${roomName}" is not a parameter of the path`, "room", "name");
    const backend = isObject(room.backend) ? room.backend : undefined;
    const backendOrigin = str(backend?.origin);
    if (backendOrigin !== undefined && !NAMES_OF(table.origins).has(backendOrigin)) issue(`unknown origin "${backendOrigin}"`, "room", "backend", "origin");
    const notPlain = backendOrigin === undefined ? undefined : notPlainUrlOrigin(isObject(table.origins) ? table.origins[backendOrigin] : undefined);
    if (notPlain !== undefined) issue(notPlain, "room", "backend", "origin");
  },
  // The room's own headers to the room object and its backend: never from a client, on any route.
  originHeaders: (table) => (table.routes.some((route) => route.room !== undefined) ? [CONNECT_HEADER, EVENT_HEADER] : []),
  create: (route, table) => (route.room ? roomHandler(route, table) : undefined),
});
