import { defineErrors } from "../errors.ts";

export const roomErrors = defineErrors("rooms", {
  bad_room: { status: 400, meaning: "The room name is not 1-128 letters, digits and . _ ~ -." },
  identity_too_large: { status: 400, meaning: "The token's subject and identity claims exceed the room's per-connection budget." },
  origin_not_allowed: { status: 403, meaning: "The room only accepts browsers from its allowedOrigins, and this Origin is not one of them." },
  connect_refused: { status: 403, meaning: "The room's backend answered the connect event with a non-2xx status." },
  connection_gone: { status: 410, meaning: "The connection addressed through the push API has left the room." },
  room_refused: { status: 502, meaning: "The room object answered the connect request with something the gateway does not understand." },
  room_unavailable: { status: 503, meaning: "The room's Durable Object could not be reached; try again." },
});
