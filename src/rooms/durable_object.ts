import { DurableObject } from "cloudflare:workers";

/** One WebSocket room (issue 5). Stub until implemented. */
export class RoomObject extends DurableObject {}
