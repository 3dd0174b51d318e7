/**
 * The rooms push API, for backends (under the admin prefix, behind its token):
 *
 *   GET    /rooms/:room                              { room, count }
 *   GET    /rooms/:room/connections                  { room, count, connections: [info] }
 *   POST   /rooms/:room/broadcast        { data }    { delivered }
 *   GET    /rooms/:room/connections/:id              info, or 410
 *   POST   /rooms/:room/connections/:id/messages { data }   { delivered: true }, or 410
 *   DELETE /rooms/:room/connections/:id  { code?, reason? }  { closed: true }, or 410
 *
 * A connection that is gone answers 410 (`connection_gone`) and the room forgets it at once.
 */
import { Hono } from "hono";
import { GatewayError } from "../errors.ts";
import type { RoomObject } from "../rooms/durable_object.ts";
import { CONNECTION_ID, ROOM_NAME } from "../rooms/protocol.ts";
import type { GatewayContext, GatewayEnv } from "../types.ts";

/** A pushed message (its JSON body) may be this large. */
export const MAX_PUSH_BYTES = 1_048_576;

export function createRoomsApi() {
  const api = new Hono<GatewayEnv>();

  api.get("/:room", async (c) => {
    const { count } = await call(c, (room) => room.count(), true);
    return c.json({ room: roomName(c), count });
  });

  api.get("/:room/connections", async (c) => {
    const list = await call(c, (room) => room.connections(), true);
    return c.json({ room: roomName(c), count: list.count, connections: list.connections });
  });

  api.post("/:room/broadcast", async (c) => {
    const { data } = await pushBody(c);
    return c.json(await call(c, (room) => room.broadcast(data)));
  });

  api.get("/:room/connections/:id", async (c) => {
    const id = connectionId(c);
    const info = await call(c, (room) => room.connection(id), true);
    if (!info) throw gone();
    return c.json(info);
  });

  api.post("/:room/connections/:id/messages", async (c) => {
    const id = connectionId(c);
    const { data } = await pushBody(c);
    const { delivered } = await call(c, (room) => room.sendTo(id, data));
    if (!delivered) throw gone();
    return c.json({ delivered });
  });

  api.delete("/:room/connections/:id", async (c) => {
    const id = connectionId(c);
    const { code, reason } = await closeBody(c);
    const { closed } = await call(c, (room) => room.disconnect(id, code, reason));
    if (!closed) throw gone();
    return c.json({ closed });
  });

  return api;
}

function roomName(c: GatewayContext): string {
  const name = c.req.param("room") ?? "";
  if (!ROOM_NAME.test(name)) throw new GatewayError(400, "bad_room", "Room names are 1-128 letters, digits and . _ ~ -.");
  return name;
}

function connectionId(c: GatewayContext): string {
  const id = c.req.param("id") ?? "";
  // An id the gateway can never have issued is as gone as one that left.
  if (!CONNECTION_ID.test(id)) throw gone();
  return id;
}

function gone(): GatewayError {
  return new GatewayError(410, "connection_gone", "The connection is gone.");
}

/**
 * Calls the room over RPC. The stub is typed as the class itself: every method used here returns
 * plain structured-cloneable data, which RPC hands back unchanged. Reads are retried once on a
 * fresh stub when the runtime marks the failure retryable (and not overloaded); pushes are not, as
 * a push that failed late may have been delivered. Then: 503 `room_unavailable`.
 */
async function call<T>(c: GatewayContext, rpc: (room: RoomObject) => T | Promise<T>, read = false): Promise<T> {
  const name = roomName(c);
  const namespace = c.env.ROOMS;
  const id = namespace.idFromName(name);
  for (let attempt = 1; ; attempt++) {
    try {
      return await rpc(namespace.get(id) as unknown as RoomObject);
    } catch (err) {
      const { retryable, overloaded } = (err ?? {}) as { retryable?: boolean; overloaded?: boolean };
      if (read && attempt === 1 && retryable === true && overloaded !== true) continue;
      console.error(JSON.stringify({ requestId: c.get("requestId"), room: name, error: String(err) }));
      throw new GatewayError(503, "room_unavailable", "The room is unavailable; try again.");
    }
  }
}

async function jsonBody(c: GatewayContext, required: boolean): Promise<Record<string, unknown>> {
  const declared = Number(c.req.header("content-length") ?? "0");
  if (declared > MAX_PUSH_BYTES) throw tooLarge();
  const text = await c.req.text();
  if (text.length > MAX_PUSH_BYTES) throw tooLarge();
  if (text === "" && !required) return {};
  let body: unknown;
  try { body = JSON.parse(text); } catch { throw new GatewayError(400, "bad_request", "The body must be JSON."); }
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new GatewayError(400, "bad_request", "The body must be a JSON object.");
  return body as Record<string, unknown>;
}

async function pushBody(c: GatewayContext): Promise<{ data: unknown }> {
  const body = await jsonBody(c, true);
  if (!Object.hasOwn(body, "data")) throw new GatewayError(400, "bad_request", `The body must be { "data": ... }.`);
  return { data: body.data };
}

async function closeBody(c: GatewayContext): Promise<{ code: number; reason: string }> {
  const body = await jsonBody(c, false);
  const code = body.code ?? 1000;
  const reason = body.reason ?? "disconnected by the backend";
  if (typeof code !== "number" || !(code === 1000 || (Number.isInteger(code) && code >= 3000 && code <= 4999)))
    throw new GatewayError(400, "bad_request", "code must be 1000 or 3000-4999.");
  if (typeof reason !== "string" || new TextEncoder().encode(reason).byteLength > 123)
    throw new GatewayError(400, "bad_request", "reason must be a string of at most 123 bytes.");
  return { code, reason };
}

function tooLarge(): GatewayError {
  return new GatewayError(413, "payload_too_large", `A pushed message may be at most ${MAX_PUSH_BYTES} bytes.`);
}
