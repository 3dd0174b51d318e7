/** routes.json pieces owned by WebSocket rooms (issue 5). */
import { z } from "zod";

export const ROOM_EVENTS = ["connect", "message", "disconnect"] as const;
export type RoomEvent = (typeof ROOM_EVENTS)[number];

/** A browser Origin as the `Origin` header carries it: scheme://host[:port], no path. */
const BrowserOrigin = z.string().transform((s) => s.toLowerCase())
  .pipe(z.string().regex(/^https?:\/\/[a-z0-9.-]+(:\d{1,5})?$/, "must be an origin like https://app.example.com (no path, no trailing /)"));

export const RoomSchema = z.strictObject({
  name: z.string().regex(/^(:[A-Za-z_][A-Za-z0-9_]*|[A-Za-z0-9._~-]{1,128})$/, "must be a :param of the path or a fixed room name")
    .describe("Which room: a :param of the path, or a fixed name."),
  maxConnections: z.number().int().min(1).max(32_768).default(1000)
    .describe("Connections the room holds; one more is accepted and closed with 1013 \"room full\". Default 1000."),
  maxMessageBytes: z.number().int().min(1).max(1_048_576).default(65_536)
    .describe("Largest client frame in bytes; a larger one closes the socket with 1009. Default 65536."),
  messagesPerSecond: z.number().min(0.1).max(10_000).default(20)
    .describe("Sustained client messages per second per connection (burst: 2 seconds' worth). Default 20."),
  idleTimeoutSec: z.number().int().min(10).max(86_400).default(300)
    .describe("Seconds without a client frame (\"ping\" counts) before the room closes the socket. Default 300."),
  presence: z.boolean().default(true)
    .describe("Send join/leave events to everyone in the room. Default true; turn off for large rooms."),
  allowedOrigins: z.array(BrowserOrigin).optional()
    .describe("Origins allowed to connect (the Origin header must be one of them; a request without Origin is refused). Omitted: any."),
  identityClaims: z.array(z.string().min(1)).max(16).optional()
    .describe("JWT claims kept with each connection and shown to the room and the backend (at most 2 KB in all)."),
  backend: z.strictObject({
    origin: z.string().describe("Origin that receives events."),
    path: z.string().regex(/^\/[A-Za-z0-9\-._~!$&'()*+,=@:/%]*$/, "must be a path starting with /").default("/_gateway/events")
      .describe("Path on the origin the events are POSTed to. Default /_gateway/events."),
    events: z.array(z.enum(ROOM_EVENTS)).min(1).describe("Which events to send."),
  }).optional().describe("POST connect/message/disconnect events to an origin."),
});
export type RoomConfig = z.output<typeof RoomSchema>;
