import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { GatewayError } from "../../src/errors.ts";
import { gatewayBuilders } from "../../src/pipeline.ts";
import { ATTACHMENT_KEY } from "../../src/rooms/protocol.ts";
import type { GatewayContext } from "../../src/types.ts";
import { errorOf } from "../support/worker-gateway.ts";
import { connect, gatewayWith, join, uniqueRoom, type Frame } from "./room-socket.ts";

const ADMIN = { pathPrefix: "/_gateway", token: { env: "ADMIN_TOKEN" } };
const TOKEN = "admin-secret-for-tests";
const bindings = { ADMIN_TOKEN: TOKEN };

const roomRoute = (room: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) =>
  ({ id: "chat", path: "/v1/rooms/:room", auth: "none", room: { name: ":room", ...room }, ...extra });

/**
 * Stands in for the JWT authorizer: verified claims arrive as JSON in x-test-claims and are put on
 * the context where the JWT policy puts them; a request without the header is refused with 401.
 */
const testClaims = {
  policies: () => [async function testJwt(c: GatewayContext) {
    const raw = c.req.header("x-test-claims");
    if (!raw) throw new GatewayError(401, "unauthorized", "A token is required.");
    c.set("jwt" as never, JSON.parse(raw) as never);
  }],
  handler: gatewayBuilders.handler,
};

const admin = (path: string, init: RequestInit = {}) => ({ ...init, headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", ...init.headers } });
const stubOf = (room: string) => env.ROOMS.get(env.ROOMS.idFromName(room));

describe("the upgrade", () => {
  const call = gatewayWith({ routes: [roomRoute({ allowedOrigins: ["https://app.example.com"] })] });

  it("answers a plain HTTP request to a room with 426 and the JSON envelope", async () => {
    const response = await call(`/v1/rooms/${uniqueRoom()}`);
    expect(response.status).toBe(426);
    expect(response.headers.get("upgrade")).toBe("websocket");
    expect(await errorOf(response)).toMatchObject({ code: "upgrade_required" });
  });

  it("refuses an Origin that is not allowed, and a missing one, with 403", async () => {
    for (const headers of [{ upgrade: "websocket", origin: "https://evil.example" }, { upgrade: "websocket" }]) {
      const response = await call(`/v1/rooms/${uniqueRoom()}`, { headers });
      expect(response.status).toBe(403);
      expect(response.webSocket).toBeNull();
      expect((await errorOf(response)).code).toBe("origin_not_allowed");
    }
  });

  it("matches Upgrade and the allowed Origin case-insensitively", async () => {
    const { socket, welcome } = await join(call, `/v1/rooms/${uniqueRoom()}`, { upgrade: "WebSocket", origin: "https://APP.example.com" });
    expect(welcome).toMatchObject({ type: "welcome", count: 1 });
    expect(welcome.id).toMatch(/^[0-9a-f-]{36}$/);
    socket.close();
  });

  it("refuses a room name outside the allowed characters with 400", async () => {
    const response = await call("/v1/rooms/a%20b", { headers: { upgrade: "websocket", origin: "https://app.example.com" } });
    expect(response.status).toBe(400);
    expect((await errorOf(response)).code).toBe("bad_room");
  });
});

describe("auth before the upgrade", () => {
  const call = gatewayWith({ routes: [roomRoute({ identityClaims: ["name"] })], admin: ADMIN }, { bindings, builders: testClaims });

  it("never answers 101 when the route's auth refuses, and the room never sees the client", async () => {
    const room = uniqueRoom();
    const response = await call(`/v1/rooms/${room}`, { headers: { upgrade: "websocket" } });
    expect(response.status).toBe(401);
    expect(response.webSocket).toBeNull();
    expect(await (await call(`/_gateway/rooms/${room}`, admin(""))).json()).toEqual({ room, count: 0 });
  });

  it("takes identity from the verified claims, never from a client's copy of the internal header", async () => {
    const room = uniqueRoom();
    const forged = JSON.stringify({ v: 1, identity: { sub: "admin", claims: {} } });
    const { socket, id } = await join(call, `/v1/rooms/${room}`, {
      "x-test-claims": JSON.stringify({ sub: "alice", name: "Alice", role: "user" }),
      "x-gateway-room-connect": forged,
    });
    const info = await (await call(`/_gateway/rooms/${room}/connections/${id}`, admin(""))).json();
    expect(info).toMatchObject({ id, sub: "alice", claims: { name: "Alice" }, expiresAt: null });
    socket.close();
  });
});

describe("messages", () => {
  const call = gatewayWith({ routes: [roomRoute()] });

  it("broadcasts a client message to everyone in the room, sender included, with sender id and time", async () => {
    const path = `/v1/rooms/${uniqueRoom()}`;
    const a = await join(call, path);
    const b = await join(call, path);
    expect(await a.socket.next()).toMatchObject({ type: "join", id: b.id, count: 2 });
    const before = Date.now();
    a.socket.send({ type: "broadcast", data: { text: "hello" } });
    for (const { socket } of [a, b]) {
      const frame = await socket.next();
      expect(frame).toMatchObject({ type: "message", from: a.id, data: { text: "hello" } });
      expect(frame.at).toBeGreaterThanOrEqual(before - 1000);
    }
    a.socket.close();
    b.socket.close();
  });

  it("sends a direct message to one connection only", async () => {
    const path = `/v1/rooms/${uniqueRoom()}`;
    const a = await join(call, path);
    const b = await join(call, path);
    const c = await join(call, path);
    await a.socket.next(); await a.socket.next(); await b.socket.next(); // join events
    a.socket.send({ type: "send", to: c.id, data: "psst" });
    expect(await c.socket.next()).toMatchObject({ type: "message", from: a.id, to: c.id, data: "psst" });
    await b.socket.nothingWithin(100);
    await a.socket.nothingWithin(0);
    for (const s of [a, b, c]) s.socket.close();
  });

  it("answers a direct message to a connection that is not in the room with an error frame", async () => {
    const { socket } = await join(call, `/v1/rooms/${uniqueRoom()}`);
    socket.send({ type: "send", to: crypto.randomUUID(), data: 1 });
    expect(await socket.next()).toMatchObject({ type: "error", code: "connection_gone" });
    socket.close();
  });

  it("sends join and leave events with the count, and answers a count query", async () => {
    const path = `/v1/rooms/${uniqueRoom()}`;
    const a = await join(call, path);
    const b = await join(call, path);
    expect(await a.socket.next()).toMatchObject({ type: "join", id: b.id, sub: null, count: 2 });
    a.socket.send({ type: "count" });
    expect(await a.socket.next()).toEqual({ type: "count", count: 2 });
    b.socket.close(1000, "done");
    expect(await a.socket.next()).toMatchObject({ type: "leave", id: b.id, count: 1 });
    a.socket.close();
  });

  it("answers a frame that is not a room command, and a binary frame, with error frames", async () => {
    const { socket } = await join(call, `/v1/rooms/${uniqueRoom()}`);
    socket.send("not json");
    expect(await socket.next()).toMatchObject({ type: "error", code: "bad_message" });
    socket.send(new Uint8Array([1, 2, 3]).buffer);
    expect(await socket.next()).toMatchObject({ type: "error", code: "unsupported_data" });
    socket.close();
  });

  it("answers \"ping\" with \"pong\"", async () => {
    const { socket } = await join(call, `/v1/rooms/${uniqueRoom()}`);
    socket.send("ping");
    expect(await socket.nextRaw()).toBe("pong");
    socket.close();
  });
});

describe("hibernation", () => {
  const call = gatewayWith({ routes: [roomRoute({ identityClaims: ["name"] })], admin: ADMIN }, { bindings, builders: testClaims });

  it("keeps every client connected with its identity intact across eviction", async () => {
    const room = uniqueRoom();
    const path = `/v1/rooms/${room}`;
    const people = ["alice", "bob", "carol"];
    const clients = [];
    for (const sub of people) clients.push({ sub, ...(await join(call, path, { "x-test-claims": JSON.stringify({ sub, name: sub.toUpperCase() }) })) });
    // Drain the join events: alice saw bob and carol, bob saw carol.
    await clients[0]!.socket.next(); await clients[0]!.socket.next(); await clients[1]!.socket.next();

    await evictDurableObject(stubOf(room), { webSockets: "hibernate" });

    // Answered by the runtime while the object is away.
    clients[2]!.socket.send("ping");
    expect(await clients[2]!.socket.nextRaw()).toBe("pong");

    clients[1]!.socket.send({ type: "broadcast", data: "after" });
    for (const { socket } of clients) expect(await socket.next()).toMatchObject({ type: "message", from: clients[1]!.id, data: "after" });

    await evictDurableObject(stubOf(room), { webSockets: "hibernate" });
    const list = await (await call(`/_gateway/rooms/${room}/connections`, admin(""))).json() as { count: number; connections: Frame[] };
    expect(list.count).toBe(3);
    expect(list.connections.map((c) => [c.id, c.sub, c.claims]).sort()).toEqual(
      clients.map((c) => [c.id, c.sub, { name: c.sub.toUpperCase() }]).sort());

    await evictDurableObject(stubOf(room), { webSockets: "hibernate" });
    clients[0]!.socket.close(1000, "bye");
    for (const { socket } of clients.slice(1)) expect(await socket.next()).toMatchObject({ type: "leave", id: clients[0]!.id, count: 2 });
    for (const { socket } of clients.slice(1)) socket.close();
  });
});
