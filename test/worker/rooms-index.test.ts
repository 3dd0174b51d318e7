/**
 * Listing active rooms (GET /_gateway/rooms): rooms report their counts to the RoomsIndex after each
 * change, in waitUntil; the admin list checks each listed room's live count and corrects the index.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ROOMS_INDEX_NAME } from "../../src/rooms/index.ts";
import type { RoomsIndex } from "../../src/rooms/rooms_index.ts";
import { ADMIN_HEADERS, gatewayFor } from "../support/worker-gateway.ts";
import { join, uniqueRoom } from "./room-socket.ts";

const call = gatewayFor({
  admin: { pathPrefix: "/_gateway", token: { env: "ADMIN_TOKEN" } },
  routes: [{ id: "chat", path: "/v1/rooms/:room", auth: "none", room: { name: ":room", presence: false } }],
});

type Listed = { room: string; connections: number; updatedAt: string; live: boolean };
const list = async (query = "limit=100"): Promise<{ rooms: Listed[]; next: string | null }> => {
  const response = await call(`/_gateway/rooms?${query}`, { headers: ADMIN_HEADERS });
  expect(response.status).toBe(200);
  return (await response.json()) as { rooms: Listed[]; next: string | null };
};
const index = () => env.ROOMS_INDEX.get(env.ROOMS_INDEX.idFromName(ROOMS_INDEX_NAME));
const indexed = (room: string) => runInDurableObject(index(), (_: RoomsIndex, state) =>
  state.storage.sql.exec<{ connections: number }>("SELECT connections FROM rooms WHERE name = ?", room).toArray()[0]?.connections ?? null);

/** Polls `read` until `accept` holds (the reports travel in waitUntil), failing after `ms`. */
async function eventually<T>(read: () => Promise<T>, accept: (value: T) => boolean, ms = 3000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (accept(value) || Date.now() > until) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("the rooms list", () => {
  it("lists a room with its connection count once clients join, and drops it when they leave", async () => {
    const room = uniqueRoom("listed");
    const a = await join(call, `/v1/rooms/${room}`);
    const b = await join(call, `/v1/rooms/${room}`);
    const seen = await eventually(() => indexed(room), (n) => n === 2);
    expect(seen).toBe(2);
    const listed = (await list()).rooms.find((r) => r.room === room);
    expect(listed).toMatchObject({ room, connections: 2, live: true });

    a.socket.close();
    b.socket.close();
    expect(await eventually(() => indexed(room), (n) => n === 0)).toBe(0);
    expect((await list()).rooms.map((r) => r.room)).not.toContain(room);
  });

  it("shows the live count when the index is stale, and corrects the index", async () => {
    const room = uniqueRoom("stale");
    const { socket } = await join(call, `/v1/rooms/${room}`);
    await eventually(() => indexed(room), (n) => n === 1);
    // As after a reset that dropped sockets without close events: the index believes 7.
    const ghost = uniqueRoom("ghost");
    await runInDurableObject(index(), async (instance: RoomsIndex) => {
      await instance.report(room, 7, Date.now());
      await instance.report(ghost, 3, Date.now());
    });
    const { rooms } = await list();
    expect(rooms.find((r) => r.room === room)).toMatchObject({ connections: 1, live: true });
    expect(rooms.map((r) => r.room)).not.toContain(ghost);
    expect(await eventually(() => indexed(room), (n) => n === 1)).toBe(1);
    expect(await eventually(() => indexed(ghost), (n) => n === 0)).toBe(0);
    socket.close();
  });

  it("ignores a report older than the one it has", async () => {
    const room = uniqueRoom("order");
    await runInDurableObject(index(), async (instance: RoomsIndex) => {
      await instance.report(room, 4, 2_000);
      await instance.report(room, 9, 1_000);
    });
    expect(await indexed(room)).toBe(4);
  });

  it("pages by room name", async () => {
    const prefix = uniqueRoom("page");
    const names = [`${prefix}-a`, `${prefix}-b`, `${prefix}-c`];
    const sockets = [];
    for (const name of names) sockets.push((await join(call, `/v1/rooms/${name}`)).socket);
    for (const name of names) await eventually(() => indexed(name), (n) => n === 1);
    const seen: string[] = [];
    let after: string | null = `${prefix}`;
    do {
      const page = await list(`limit=2&after=${after}`);
      seen.push(...page.rooms.map((r) => r.room).filter((r) => r.startsWith(prefix)));
      after = page.next;
    } while (after !== null);
    expect(seen).toEqual(names);
    for (const socket of sockets) socket.close();
  });

  it("needs the admin token and refuses a bad query", async () => {
    expect((await call("/_gateway/rooms")).status).toBe(401);
    expect((await call("/_gateway/rooms?limit=0", { headers: ADMIN_HEADERS })).status).toBe(400);
    expect((await call("/_gateway/rooms?after=a%20b", { headers: ADMIN_HEADERS })).status).toBe(400);
  });
});
