/** routes.json pieces owned by WebSocket rooms (issue 5). */
import { z } from "zod";

export const ROOM_EVENTS = ["connect", "message", "disconnect"] as const;

export const RoomSchema = z.strictObject({
  name: z.string().regex(/^(:[A-Za-z_][A-Za-z0-9_]*|[A-Za-z0-9._-]{1,128})$/, "must be a :param of the path or a fixed room name")
    .describe("Which room: a :param of the path, or a fixed name."),
  maxConnections: z.number().int().min(1).max(32_768).default(1000),
  maxMessageBytes: z.number().int().min(1).max(1_048_576).default(65_536),
  messagesPerSecond: z.number().min(0.1).max(10_000).default(20),
  idleTimeoutSec: z.number().int().min(10).max(86_400).default(300),
  allowedOrigins: z.array(z.string()).optional().describe("Browser Origins allowed to connect. Omitted: any (or none sent)."),
  identityClaims: z.array(z.string()).optional().describe("JWT claims kept with each connection and shown to the room."),
  backend: z.strictObject({
    origin: z.string().describe("Origin that receives events."),
    path: z.string().startsWith("/").default("/_gateway/events"),
    events: z.array(z.enum(ROOM_EVENTS)).min(1),
  }).optional().describe("POST connect/message/disconnect events to an origin."),
});
export type RoomConfig = z.output<typeof RoomSchema>;
