/**
 * The rooms service: RoomObject Durable Objects (WebSocket rooms with hibernation), their client,
 * the wire protocol and backend events. The room policy and the push API use it through here.
 */
// The class itself is exported by the Worker entry from ./durable_object.ts (see src/keys/index.ts).
export type { RoomObject } from "./durable_object.ts";
export type { IndexedRoom, RoomPage, RoomsIndex } from "./rooms_index.ts";
export { callRoom, connectToRoom, type RoomNamespace } from "./client.ts";
export { listIndexedRooms, reportRoomCount, ROOMS_INDEX_NAME, type RoomsIndexNamespace } from "./index_client.ts";
export { roomErrors } from "./errors.ts";
export {
  CLOSE, CONNECT_HEADER, CONNECTION_ID, IDENTITY_BUDGET_BYTES, ROOM_NAME,
  type BackendSettings, type ConnectRequest, type Identity, type RoomSettings,
} from "./protocol.ts";
export { RoomSchema, ROOM_EVENTS, type RoomConfig, type RoomEvent } from "./schema.ts";
export { EVENT_HEADER } from "./backend.ts";
