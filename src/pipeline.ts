/**
 * Assembles each route's pipeline from the capabilities, in this order:
 * authentication (JWT, API key) -> rate limits and quotas -> handler (room, WebSocket) or forward.
 * Each capability owns its factory; this file only decides the order.
 */
import { apiKeyPolicies } from "./policies/api-key/index.ts";
import { jwtPolicies } from "./policies/jwt/index.ts";
import { quotaPolicies } from "./quota/index.ts";
import type { RouteBuilders } from "./router/compile.ts";
import { createRoomHandler } from "./rooms/handler.ts";
import { webSocketPassThrough } from "./upstream/websocket.ts";

export const gatewayBuilders: RouteBuilders = {
  policies: (route, table) => [...jwtPolicies(route, table), ...apiKeyPolicies(route, table), ...quotaPolicies(route, table)],
  handler: (route, table) => route.room ? createRoomHandler(route, table) : route.websocket ? webSocketPassThrough : undefined,
};
