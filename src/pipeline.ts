/**
 * Assembles each route's pipeline from the capabilities, in this order:
 * authentication (JWT, API key) -> rate limits and quotas -> handler (room, WebSocket) or forward.
 * Each capability owns its factory; this file only decides the order.
 */
import type { RouteBuilders } from "./router/compile.ts";
import { createRoomHandler } from "./rooms/handler.ts";
import { webSocketPassThrough } from "./upstream/websocket.ts";

export const gatewayBuilders: RouteBuilders = {
  policies: () => [],
  handler: (route, table) => route.room ? createRoomHandler(route, table) : route.websocket ? webSocketPassThrough : undefined,
};
