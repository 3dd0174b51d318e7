/**
 * The RoomsIndex's client: the room objects' count reports and the admin API's list go through here.
 * Apart from client.ts so a RoomObject can report without an import cycle (client.ts names the
 * RoomObject type), and without cloudflare:workers (Node config tooling loads the rooms service).
 */
import { callWithOneRetry, withTimeout } from "../durable.ts";
import type { RoomPage, RoomsIndex } from "./rooms_index.ts";

/** The one RoomsIndex object (see rooms_index.ts). */
export const ROOMS_INDEX_NAME = "rooms";

export type RoomsIndexNamespace = DurableObjectNamespace<RoomsIndex>;

/** Per attempt: the index answers from one SQLite table. */
const INDEX_TIMEOUT_MS = 2_000;

const roomsIndex = (ns: RoomsIndexNamespace) => ns.get(ns.idFromName(ROOMS_INDEX_NAME));

/** A room's count, as of `at` on its clock. One attempt: the next change reports again anyway. */
export async function reportRoomCount(ns: RoomsIndexNamespace, room: string, connections: number, at: number): Promise<void> {
  await withTimeout(roomsIndex(ns).report(room, connections, at) as Promise<void>, INDEX_TIMEOUT_MS);
}

/** Rooms with connections by name (the index's view), under the call rule of src/durable.ts. */
export async function listIndexedRooms(ns: RoomsIndexNamespace, limit: number, after: string | null): Promise<RoomPage> {
  return callWithOneRetry(() => roomsIndex(ns).list({ limit, after }) as Promise<RoomPage>, INDEX_TIMEOUT_MS);
}
