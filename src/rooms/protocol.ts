/**
 * What travels between the gateway, the room Durable Object and the clients: the settings a room
 * runs with, the identity of a connection, the frames clients and the room exchange, close codes.
 * Everything read from outside the current isolate (storage, attachments, frames) goes through a
 * shape check here that returns null instead of throwing.
 */
import type { RoomEvent } from "./schema.ts";

/** Close codes the room uses (docs/rooms.md, Close codes). */
export const CLOSE = {
  normal: 1000,
  policy: 1008,
  tooBig: 1009,
  internal: 1011,
  tryAgainLater: 1013,
} as const;

/** The per-socket attachment budget the runtime enforces, and the part identities may use. */
export const ATTACHMENT_LIMIT_BYTES = 2048;
export const IDENTITY_BUDGET_BYTES = 1536;

/** Room names the gateway accepts, from a path parameter or the push API. */
export const ROOM_NAME = /^[A-Za-z0-9._~-]{1,128}$/;
/** Connection ids are the gateway's crypto.randomUUID(). */
export const CONNECTION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Where and how the room posts backend events; resolved from the route table by the gateway. */
export interface BackendSettings {
  /** Absolute URL the events are POSTed to. */
  url: string;
  timeoutMs: number;
  hostHeader: string | null;
  events: RoomEvent[];
  /** The route's `requestHeaders.set`, applied to every event request (client headers, on connect,
   * were already filtered by the gateway with the route's full edits). */
  set: [string, string][];
}

/** What a room needs to run; persisted by the object, so it survives hibernation and eviction. */
export interface RoomSettings {
  maxConnections: number;
  maxMessageBytes: number;
  messagesPerSecond: number;
  idleTimeoutSec: number;
  presence: boolean;
  backend: BackendSettings | null;
}

/** Who a connection is. Set by the gateway after the route's auth; never taken from the client. */
export interface Identity {
  sub: string | null;
  claims: Record<string, unknown>;
}

/** The gateway -> room request that opens a connection (internal header, JSON). */
export interface ConnectRequest {
  v: 1;
  room: string;
  connectionId: string;
  requestId: string;
  identity: Identity;
  /** JWT `exp` in seconds since the epoch, or null for a token without one (or no token). */
  exp: number | null;
  /** The subprotocol to answer with (the first the client offered), or null. */
  protocol: string | null;
  settings: RoomSettings;
}

/** Internal header carrying a ConnectRequest; the gateway removes any client copy first. */
export const CONNECT_HEADER = "x-gateway-room-connect";

/** One socket's state in its attachment, namespaced so nothing else in the socket can collide. */
export interface ConnectionRecord {
  id: string;
  sub: string | null;
  claims: Record<string, unknown>;
  /** ms since the epoch. */
  exp: number | null;
  joinedAt: number;
  /** Last client frame, ms since the epoch (written at most once a second). */
  seen: number;
  /** Set when the room itself closed the socket, so the close that follows is not reported twice. */
  closing?: true;
}

export const ATTACHMENT_KEY = "gw.room";

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isNumberOrNull = (v: unknown): v is number | null => v === null || (typeof v === "number" && Number.isFinite(v));

export function readConnectionRecord(attachment: unknown): ConnectionRecord | null {
  if (!isRecord(attachment)) return null;
  const r = attachment[ATTACHMENT_KEY];
  if (!isRecord(r)) return null;
  if (typeof r.id !== "string" || !(r.sub === null || typeof r.sub === "string") || !isRecord(r.claims)) return null;
  if (!isNumberOrNull(r.exp) || typeof r.joinedAt !== "number" || typeof r.seen !== "number") return null;
  return r as unknown as ConnectionRecord;
}

export function attachmentOf(record: ConnectionRecord): Record<string, ConnectionRecord> {
  return { [ATTACHMENT_KEY]: record };
}

function readBackend(v: unknown): BackendSettings | null | undefined {
  if (v === null) return null;
  if (!isRecord(v)) return undefined;
  if (typeof v.url !== "string" || typeof v.timeoutMs !== "number" || !(v.hostHeader === null || typeof v.hostHeader === "string")) return undefined;
  if (!Array.isArray(v.events) || !Array.isArray(v.set)) return undefined;
  return v as unknown as BackendSettings;
}

export function readRoomSettings(v: unknown): RoomSettings | null {
  if (!isRecord(v)) return null;
  const numbers = [v.maxConnections, v.maxMessageBytes, v.messagesPerSecond, v.idleTimeoutSec];
  if (!numbers.every((n) => typeof n === "number" && n > 0) || typeof v.presence !== "boolean") return null;
  const backend = readBackend(v.backend);
  if (backend === undefined) return null;
  return v as unknown as RoomSettings;
}

export function readConnectRequest(text: string | null): ConnectRequest | null {
  if (!text) return null;
  let v: unknown;
  try { v = JSON.parse(text); } catch { return null; }
  if (!isRecord(v) || v.v !== 1) return null;
  if (typeof v.room !== "string" || typeof v.connectionId !== "string" || typeof v.requestId !== "string") return null;
  if (!isRecord(v.identity) || !(v.identity.sub === null || typeof v.identity.sub === "string") || !isRecord(v.identity.claims)) return null;
  if (!isNumberOrNull(v.exp) || !(v.protocol === null || typeof v.protocol === "string")) return null;
  if (!readRoomSettings(v.settings)) return null;
  return v as unknown as ConnectRequest;
}

/** A client frame, parsed. Anything else is answered with an error frame. */
export type ClientMessage =
  | { type: "broadcast"; data: unknown }
  | { type: "send"; to: string; data: unknown }
  | { type: "count" };

export function parseClientMessage(text: string): ClientMessage | null {
  let v: unknown;
  try { v = JSON.parse(text); } catch { return null; }
  if (!isRecord(v)) return null;
  switch (v.type) {
    case "broadcast": return { type: "broadcast", data: v.data ?? null };
    case "send": return typeof v.to === "string" ? { type: "send", to: v.to, data: v.data ?? null } : null;
    case "count": return { type: "count" };
    default: return null;
  }
}

/** Frames the room sends (docs/rooms.md, Client protocol). `from` is null for messages pushed by a backend. */
export const frames = {
  welcome: (id: string, room: string, count: number, at: number) => JSON.stringify({ type: "welcome", id, room, count, at }),
  message: (from: string | null, data: unknown, at: number, to?: string) =>
    JSON.stringify(to === undefined ? { type: "message", from, data, at } : { type: "message", from, to, data, at }),
  join: (id: string, sub: string | null, claims: Record<string, unknown>, count: number, at: number) =>
    JSON.stringify({ type: "join", id, sub, claims, count, at }),
  leave: (id: string, count: number, at: number) => JSON.stringify({ type: "leave", id, count, at }),
  count: (count: number) => JSON.stringify({ type: "count", count }),
  error: (code: string, message: string) => JSON.stringify({ type: "error", code, message }),
};

/** Whether a frame is larger than `limit` bytes (UTF-8), encoding only when its length leaves it open. */
export function exceedsBytes(message: string | ArrayBuffer, limit: number): boolean {
  if (typeof message !== "string") return message.byteLength > limit;
  // A UTF-16 code unit is 1 to 3 bytes in UTF-8.
  if (message.length > limit) return true;
  if (message.length * 3 <= limit) return false;
  return new TextEncoder().encode(message).byteLength > limit;
}
