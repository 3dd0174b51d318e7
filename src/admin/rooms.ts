/**
 * The rooms push API, for backends (under the admin prefix, behind its token):
 *
 *   GET    /rooms?limit&after                        { rooms: [{ room, connections, updatedAt, live }], next }
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
import { z } from "zod";
import { waitUntilOf, type GatewayContext, type GatewayEnv } from "../context.ts";
import { errorText, logEvent } from "../errors.ts";
import { callRoom, CONNECTION_ID, listIndexedRooms, reportRoomCount, ROOM_NAME, roomErrors, type RoomObject } from "../rooms/index.ts";
import { jsonBody, queryOf } from "./input.ts";

/** A pushed message (its JSON body) may be this large. */
export const MAX_PUSH_BYTES = 1_048_576;

const Push = z.object({ data: z.unknown() }).refine((body) => Object.hasOwn(body, "data"), `The body must be { "data": ... }.`);
const Close = z.object({
  code: z.number().refine((code) => code === 1000 || (Number.isInteger(code) && code >= 3000 && code <= 4999), "code must be 1000 or 3000-4999.").default(1000),
  reason: z.string().refine((reason) => new TextEncoder().encode(reason).byteLength <= 123, "reason must be a string of at most 123 bytes.").default("disconnected by the backend"),
});

const ListRooms = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  after: z.string().regex(ROOM_NAME, "must be a room name").optional(),
});

export function createRoomsApi() {
  const api = new Hono<GatewayEnv>();
  const push = jsonBody(Push, { maxBytes: MAX_PUSH_BYTES });

  // The index lists rooms that reported connections; each listed room is asked for its live count
  // (the index can be stale after a room's object was reset), and the index is corrected in the
  // background where it was wrong. A room that cannot answer is listed as the index has it, `live: false`.
  api.get("/", queryOf(ListRooms), async (c) => {
    const { limit, after } = c.req.valid("query");
    const requestId = c.get("requestId");
    let page;
    try {
      page = await listIndexedRooms(c.env.ROOMS_INDEX, limit, after ?? null);
    } catch (err) {
      logEvent("error", "room_unavailable", { requestId, room: "(index)", error: errorText(err) });
      throw roomErrors.room_unavailable("The rooms index is unavailable; try again.");
    }
    const rooms = await Promise.all(page.rooms.map(async (indexed) => {
      try {
        const { count } = await callRoom(c.env.ROOMS, indexed.room, (room) => room.count(), { read: true, requestId });
        if (count !== indexed.connections) waitUntilOf(c)?.(reportRoomCount(c.env.ROOMS_INDEX, indexed.room, count, Date.now()).catch(() => {}));
        return { ...indexed, connections: count, live: true };
      } catch {
        return { ...indexed, live: false };
      }
    }));
    return c.json({ rooms: rooms.filter((r) => r.connections > 0), next: page.next });
  });

  api.get("/:room", async (c) => {
    const { count } = await call(c, (room) => room.count(), true);
    return c.json({ room: roomName(c), count });
  });

  api.get("/:room/connections", async (c) => {
    const list = await call(c, (room) => room.connections(), true);
    return c.json({ room: roomName(c), count: list.count, connections: list.connections });
  });

  api.post("/:room/broadcast", push, async (c) => {
    const { data } = c.req.valid("json");
    return c.json(await call(c, (room) => room.broadcast(data)));
  });

  api.get("/:room/connections/:id", async (c) => {
    const id = connectionId(c);
    const info = await call(c, (room) => room.connection(id), true);
    if (!info) throw gone();
    return c.json(info);
  });

  api.post("/:room/connections/:id/messages", push, async (c) => {
    const id = connectionId(c);
    const { data } = c.req.valid("json");
    const { delivered } = await call(c, (room) => room.sendTo(id, data));
    if (!delivered) throw gone();
    return c.json({ delivered });
  });

  api.delete("/:room/connections/:id", jsonBody(Close, { maxBytes: 4096, optional: true }), async (c) => {
    const id = connectionId(c);
    const { code, reason } = c.req.valid("json");
    const { closed } = await call(c, (room) => room.disconnect(id, code, reason));
    if (!closed) throw gone();
    return c.json({ closed });
  });

  return api;
}

function roomName(c: GatewayContext): string {
  const name = c.req.param("room") ?? "";
  if (!ROOM_NAME.test(name)) throw roomErrors.bad_room("Room names are 1-128 letters, digits and . _ ~ -.");
  return name;
}

function connectionId(c: GatewayContext): string {
  const id = c.req.param("id") ?? "";
  // An id the gateway can never have issued is as gone as one that left.
  if (!CONNECTION_ID.test(id)) throw gone();
  return id;
}

function gone() {
  return roomErrors.connection_gone("The connection is gone.");
}

/** One call to the named room through the rooms client (its retry and failure rule). */
function call<F extends (room: DurableObjectStub<RoomObject>) => Promise<unknown>>(c: GatewayContext, rpc: F, read = false): Promise<Awaited<ReturnType<F>>> {
  return callRoom(c.env.ROOMS, roomName(c), rpc, { read, requestId: c.get("requestId") });
}
