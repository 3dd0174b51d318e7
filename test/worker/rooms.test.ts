import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { GatewayError } from "../../src/errors.ts";
import { ATTACHMENT_KEY } from "../../src/rooms/protocol.ts";
import { errorOf, gatewayFor, policiesWith, testPolicy } from "../support/worker-gateway.ts";
import { connect, join, uniqueRoom, type Frame } from "./room-socket.ts";

const ADMIN = { pathPrefix: "/_gateway", token: { env: "ADMIN_TOKEN" } };
const TOKEN = "admin-secret-for-tests";
const bindings = { ADMIN_TOKEN: TOKEN };

const roomRoute = (room: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) =>
  ({ id: "chat", path: "/v1/rooms/:room", auth: "none", room: { name: ":room", ...room }, ...extra });

/**
 * Stands in for the JWT authorizer: verified claims arrive as JSON in x-test-claims and are put on
 * the context where the JWT policy puts them; a request without the header is refused with 401.
 */
const testClaims = policiesWith(testPolicy(async function testJwt(c, next) {
  const raw = c.req.header("x-test-claims");
  if (!raw) throw new GatewayError("token_missing", "A token is required.");
  c.set("jwt", JSON.parse(raw));
  await next();
}), "room");

const admin = (path: string, init: RequestInit = {}) => ({ ...init, headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", ...init.headers } });
const rooms = (env as unknown as { ROOMS: DurableObjectNamespace }).ROOMS;
const stubOf = (room: string) => rooms.get(rooms.idFromName(room));

describe("the upgrade", () => {
  const call = gatewayFor({ routes: [roomRoute({ allowedOrigins: ["https://app.example.com"] })] });

  it("answers a plain HTTP request to a room with 426 and the JSON envelope", async () => {
    const response = await call(`/v1/rooms/${uniqueRoom()}`);
    expect(response.status).toBe(426);
    expect(response.headers.get("upgrade")).toBe("websocket");
    expect(await errorOf(response)).toMatchObject({ code: "upgrade_required" });
  });

  it("refuses an Origin that is not allowed, and a missing one, with 403", async () => {
    for (const headers of [{ upgrade: "websocket", origin: "https://evil.example" }, { upgrade: "websocket" }] as Record<string, string>[]) {
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

describe("room routes", () => {
  it("serve a fixed room name whatever the path", async () => {
    const call = gatewayFor({ routes: [{ id: "lobby", path: "/v1/lobby/*", auth: "none", room: { name: `lobby-${uniqueRoom()}` } }] });
    const a = await join(call, "/v1/lobby/a");
    const b = await join(call, "/v1/lobby/b");
    expect(b.welcome).toMatchObject({ count: 2, room: a.welcome.room });
    a.socket.close(); b.socket.close();
  });

  it("refuses an upgrade that is not a GET with 405", async () => {
    const call = gatewayFor({ routes: [roomRoute()] });
    const response = await call(`/v1/rooms/${uniqueRoom()}`, { method: "POST", headers: { upgrade: "websocket" } });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("GET");
  });

  it("refuses an identity over the per-connection budget with 400, before the room sees it", async () => {
    const call = gatewayFor({ routes: [roomRoute({ identityClaims: ["profile"] })] }, { policies: testClaims });
    const response = await call(`/v1/rooms/${uniqueRoom()}`, { headers: { upgrade: "websocket", "x-test-claims": JSON.stringify({ sub: "u", profile: "x".repeat(2000) }) } });
    expect(response.status).toBe(400);
    expect((await errorOf(response)).code).toBe("identity_too_large");
  });

  it("refuses a request that reaches the room object without the gateway's connect header", async () => {
    const response = await stubOf(uniqueRoom()).fetch("https://room.internal/connect", { headers: { upgrade: "websocket" } });
    expect(response.status).toBe(400);
    expect(response.webSocket).toBeNull();
  });
});

describe("auth before the upgrade", () => {
  const call = gatewayFor({ routes: [roomRoute({ identityClaims: ["name"] })], admin: ADMIN }, { bindings, policies: testClaims });

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

describe("a room behind the real API-key policy", () => {
  const call = gatewayFor({
    plans: { basic: { quota: { limit: 1000, per: "month" } } },
    admin: ADMIN,
    routes: [roomRoute({}, { auth: { apiKey: true } })],
  }, { bindings });

  it("answers a missing or unknown key with 401 and never a 101, and admits a valid key", async () => {
    const room = uniqueRoom();
    for (const headers of [{ upgrade: "websocket" }, { upgrade: "websocket", "x-api-key": "not-a-key" }] as Record<string, string>[]) {
      const response = await call(`/v1/rooms/${room}`, { headers });
      expect(response.status).toBe(401);
      expect(response.webSocket).toBeNull();
    }
    expect(await (await call(`/_gateway/rooms/${room}`, admin(""))).json()).toEqual({ room, count: 0 });

    const created = await call("/_gateway/keys", admin("", { method: "POST", body: JSON.stringify({ name: "room test", owner: "rooms", plan: "basic" }) }));
    expect(created.status).toBe(201);
    const { key } = await created.json() as { key: string };
    const { socket, welcome } = await join(call, `/v1/rooms/${room}`, { "x-api-key": key });
    expect(welcome.count).toBe(1);
    socket.close();
  });
});

describe("messages", () => {
  const call = gatewayFor({ routes: [roomRoute()] });

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
  const call = gatewayFor({ routes: [roomRoute({ identityClaims: ["name"] })], admin: ADMIN }, { bindings, policies: testClaims });

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

describe("limits", () => {
  it("accepts a client over maxConnections and closes it at once with 1013 \"room full\"", async () => {
    const call = gatewayFor({ routes: [roomRoute({ maxConnections: 2 })] });
    const path = `/v1/rooms/${uniqueRoom()}`;
    const a = await join(call, path);
    const b = await join(call, path);
    const third = await connect(call, path);
    expect(await third.closed).toEqual({ code: 1013, reason: "room full" });
    b.socket.close();
    expect(await a.socket.next()).toMatchObject({ type: "join", id: b.id });
    expect(await a.socket.next()).toMatchObject({ type: "leave", id: b.id, count: 1 });
    const again = await join(call, path);
    expect(again.welcome.count).toBe(2);
    a.socket.close(); again.socket.close();
  });

  it("closes a connection that sends a frame over maxMessageBytes with 1009", async () => {
    const call = gatewayFor({ routes: [roomRoute({ maxMessageBytes: 64 })] });
    const { socket } = await join(call, `/v1/rooms/${uniqueRoom()}`);
    socket.send({ type: "broadcast", data: "x".repeat(30) });
    expect(await socket.next()).toMatchObject({ type: "message" });
    // 22 characters, 66 bytes in UTF-8: the limit counts bytes.
    socket.send({ type: "broadcast", data: "é".repeat(22) });
    expect(await socket.closed).toEqual({ code: 1009, reason: "message too big" });
  });

  it("drops frames over messagesPerSecond with an error frame, then closes with 1008 after the grace", async () => {
    const call = gatewayFor({ routes: [roomRoute({ messagesPerSecond: 1, presence: false })] });
    const { socket } = await join(call, `/v1/rooms/${uniqueRoom()}`);
    // Burst: 2 seconds' worth. Then 10 refused frames are tolerated; the 11th closes.
    for (let i = 0; i < 2 + 11; i++) socket.send({ type: "broadcast", data: i });
    expect(await socket.next()).toMatchObject({ type: "message", data: 0 });
    expect(await socket.next()).toMatchObject({ type: "message", data: 1 });
    for (let i = 0; i < 10; i++) expect(await socket.next()).toMatchObject({ type: "error", code: "rate_limited" });
    expect(await socket.closed).toEqual({ code: 1008, reason: "rate limit exceeded" });
  });

  it("closes connections idle longer than idleTimeoutSec, even after a hibernation", async () => {
    const call = gatewayFor({ routes: [roomRoute({ idleTimeoutSec: 60 })] });
    const room = uniqueRoom();
    const idle = await join(call, `/v1/rooms/${room}`);
    const active = await join(call, `/v1/rooms/${room}`);
    await idle.socket.next(); // active's join
    // Age the idle connection's last-seen time, as two minutes of silence would.
    await runInDurableObject(stubOf(room), (_, state) => {
      for (const ws of state.getWebSockets()) {
        const attachment = ws.deserializeAttachment() as Record<string, { id: string; seen: number }>;
        if (attachment[ATTACHMENT_KEY]!.id === idle.id) attachment[ATTACHMENT_KEY]!.seen -= 120_000;
        ws.serializeAttachment(attachment);
      }
    });
    await evictDurableObject(stubOf(room), { webSockets: "hibernate" });
    expect(await runDurableObjectAlarm(stubOf(room))).toBe(true);
    expect(await idle.socket.closed).toEqual({ code: 1000, reason: "idle timeout" });
    expect(await active.socket.next()).toMatchObject({ type: "leave", id: idle.id, count: 1 });
    active.socket.send({ type: "count" });
    expect(await active.socket.next()).toEqual({ type: "count", count: 1 });
    active.socket.close();
  });

  it("closes a connection whose token expires mid-session with 1008", async () => {
    const call = gatewayFor({ routes: [roomRoute()] }, { policies: testClaims });
    const room = uniqueRoom();
    const exp = Math.floor(Date.now() / 1000) + 1;
    const short = await join(call, `/v1/rooms/${room}`, { "x-test-claims": JSON.stringify({ sub: "short", exp }) });
    const long = await join(call, `/v1/rooms/${room}`, { "x-test-claims": JSON.stringify({ sub: "long", exp: exp + 3600 }) });
    await new Promise((resolve) => setTimeout(resolve, exp * 1000 - Date.now() + 50));
    await evictDurableObject(stubOf(room), { webSockets: "hibernate" });
    expect(await runDurableObjectAlarm(stubOf(room))).toBe(true);
    expect(await short.socket.closed).toEqual({ code: 1008, reason: "token expired" });
    await short.socket.next(); // long's join event arrived before the close
    expect(await long.socket.next()).toMatchObject({ type: "leave", id: short.id });
    long.socket.close();
  });

  it("schedules the expiry itself: the socket closes on time with no test help", async () => {
    const call = gatewayFor({ routes: [roomRoute()] }, { policies: testClaims });
    const exp = Math.floor(Date.now() / 1000) + 1;
    const { socket } = await join(call, `/v1/rooms/${uniqueRoom()}`, { "x-test-claims": JSON.stringify({ sub: "s", exp }) });
    expect(await socket.closed).toEqual({ code: 1008, reason: "token expired" });
    expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000);
  });
});

describe("the push API", () => {
  const call = gatewayFor({ routes: [roomRoute()], admin: ADMIN }, { bindings });

  it("needs the admin token", async () => {
    const response = await call(`/_gateway/rooms/${uniqueRoom()}/broadcast`, { method: "POST", body: `{"data":1}` });
    expect(response.status).toBe(401);
  });

  it("broadcasts to every connection in a room as a message from the backend", async () => {
    const room = uniqueRoom();
    const a = await join(call, `/v1/rooms/${room}`);
    const b = await join(call, `/v1/rooms/${room}`);
    await a.socket.next();
    const response = await call(`/_gateway/rooms/${room}/broadcast`, admin("", { method: "POST", body: JSON.stringify({ data: { news: 1 } }) }));
    expect(await response.json()).toEqual({ delivered: 2 });
    for (const { socket } of [a, b]) expect(await socket.next()).toMatchObject({ type: "message", from: null, data: { news: 1 } });
    a.socket.close(); b.socket.close();
  });

  it("sends to one connection, reads its info and lists the room", async () => {
    const room = uniqueRoom();
    const a = await join(call, `/v1/rooms/${room}`);
    const b = await join(call, `/v1/rooms/${room}`);
    await a.socket.next();
    const sent = await call(`/_gateway/rooms/${room}/connections/${b.id}/messages`, admin("", { method: "POST", body: `{"data":"for b"}` }));
    expect(sent.status).toBe(200);
    expect(await b.socket.next()).toMatchObject({ type: "message", from: null, to: b.id, data: "for b" });
    await a.socket.nothingWithin(50);

    const info = await (await call(`/_gateway/rooms/${room}/connections/${a.id}`, admin(""))).json() as Frame;
    expect(info).toMatchObject({ id: a.id, sub: null, claims: {}, expiresAt: null });
    expect(Date.parse(info.joinedAt as string)).toBeGreaterThan(Date.now() - 60_000);
    const list = await (await call(`/_gateway/rooms/${room}/connections`, admin(""))).json() as { room: string; count: number; connections: Frame[] };
    expect(list.room).toBe(room);
    expect(list.connections.map((c) => c.id).sort()).toEqual([a.id, b.id].sort());
    expect(await (await call(`/_gateway/rooms/${room}`, admin(""))).json()).toEqual({ room, count: 2 });
    a.socket.close(); b.socket.close();
  });

  it("disconnects a connection with the code and reason given, reporting its leave once", async () => {
    const room = uniqueRoom();
    const a = await join(call, `/v1/rooms/${room}`);
    const b = await join(call, `/v1/rooms/${room}`);
    expect(await a.socket.next()).toMatchObject({ type: "join", id: b.id });
    const response = await call(`/_gateway/rooms/${room}/connections/${b.id}`, admin("", { method: "DELETE", body: `{"code":4001,"reason":"kicked"}` }));
    expect(await response.json()).toEqual({ closed: true });
    expect(await b.socket.closed).toEqual({ code: 4001, reason: "kicked" });
    expect(await a.socket.next()).toMatchObject({ type: "leave", id: b.id, count: 1 });
    // The client's answering close frame reaches the room too; it must not be a second leave.
    await a.socket.nothingWithin(200);
    a.socket.close();
  });

  it("answers 410 for a connection that is gone, and the room forgets it at once", async () => {
    const room = uniqueRoom();
    const a = await join(call, `/v1/rooms/${room}`);
    const b = await join(call, `/v1/rooms/${room}`);
    b.socket.close();
    expect(await a.socket.next()).toMatchObject({ type: "join" });
    expect(await a.socket.next()).toMatchObject({ type: "leave", id: b.id });
    for (const [path, init] of [
      [`/connections/${b.id}/messages`, { method: "POST", body: `{"data":1}` }],
      [`/connections/${b.id}`, {}],
      [`/connections/${b.id}`, { method: "DELETE" }],
      [`/connections/not-an-id/messages`, { method: "POST", body: `{"data":1}` }],
    ] as const) {
      const response = await call(`/_gateway/rooms/${room}${path}`, admin("", init));
      expect(response.status).toBe(410);
      expect((await errorOf(response)).code).toBe("connection_gone");
    }
    const list = await (await call(`/_gateway/rooms/${room}/connections`, admin(""))).json() as { count: number };
    expect(list.count).toBe(1);
    a.socket.close();
  });

  it("refuses a disconnect code a backend may not send, and a push over 1 MiB", async () => {
    const room = uniqueRoom();
    const a = await join(call, `/v1/rooms/${room}`);
    const badCode = await call(`/_gateway/rooms/${room}/connections/${a.id}`, admin("", { method: "DELETE", body: `{"code":1011}` }));
    expect(badCode.status).toBe(400);
    const big = await call(`/_gateway/rooms/${room}/broadcast`, admin("", { method: "POST", body: JSON.stringify({ data: "x".repeat(1_048_577) }) }));
    expect(big.status).toBe(413);
    await a.socket.nothingWithin(50);
    a.socket.close();
  });

  it("refuses a push without { data } with 400", async () => {
    const response = await call(`/_gateway/rooms/${uniqueRoom()}/broadcast`, admin("", { method: "POST", body: `{"text":1}` }));
    expect(response.status).toBe(400);
  });
});

describe("backend events", () => {
  const backend = (events: string[], requestHeaders?: Record<string, unknown>, origin = "echo") =>
    roomRoute({ backend: { origin, path: "/events", events } }, requestHeaders ? { requestHeaders } : {});

  it("posts a message event and sends the backend's answer back to the sender only", async () => {
    const call = gatewayFor({ routes: [backend(["message"], { set: { "x-room-secret": "s1" } })] });
    const path = `/v1/rooms/${uniqueRoom()}`;
    const a = await join(call, path, { "x-forwarded-for": "6.6.6.6", cookie: "c=1" });
    const b = await join(call, path);
    await a.socket.next();
    a.socket.send({ type: "broadcast", data: "hi" });
    expect(await a.socket.next()).toMatchObject({ type: "message", data: "hi" });
    expect(await b.socket.next()).toMatchObject({ type: "message", data: "hi" });
    // The echo origin answers with what it received; that answer comes back to the sender.
    const echo = await a.socket.next() as unknown as { method: string; url: string; headers: Record<string, string>; bodyBytes: number };
    expect(echo.method).toBe("POST");
    expect(echo.url).toBe("/events");
    expect(echo.headers).toMatchObject({ "x-gateway-event": "message", "x-room-secret": "s1", "content-type": "application/json" });
    expect(echo.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(echo.headers).not.toHaveProperty("cookie");
    expect(echo.bodyBytes).toBeGreaterThan(0);
    await b.socket.nothingWithin(50);
    a.socket.close(); b.socket.close();
  });

  it("sends a frame that is not a room command to the backend instead of answering bad_message", async () => {
    const call = gatewayFor({ routes: [backend(["message"])] });
    const { socket } = await join(call, `/v1/rooms/${uniqueRoom()}`);
    socket.send(JSON.stringify({ action: "custom" }));
    expect(await socket.next()).toMatchObject({ method: "POST", url: "/events" });
    socket.close();
  });

  it("refuses the connection without a 101 when the backend answers connect with a non-2xx", async () => {
    const call = gatewayFor({ routes: [backend(["connect"], { set: { "x-origin-status": "403" } })], admin: ADMIN }, { bindings });
    const room = uniqueRoom();
    const response = await call(`/v1/rooms/${room}`, { headers: { upgrade: "websocket" } });
    expect(response.status).toBe(403);
    expect(response.webSocket).toBeNull();
    expect((await errorOf(response)).code).toBe("connect_refused");
    expect(await (await call(`/_gateway/rooms/${room}`, admin(""))).json()).toEqual({ room, count: 0 });
  });

  it("refuses the connection with 502 when the backend cannot be reached, and 504 when it is too slow", async () => {
    const call = gatewayFor({
      origins: { echo: { url: env.ECHO_ORIGIN }, closed: { url: "http://127.0.0.1:9" }, slow: { url: env.ECHO_ORIGIN, timeoutMs: 50 } },
      routes: [
        { ...backend(["connect"], undefined, "closed"), id: "closed", path: "/closed/:room" },
        { ...backend(["connect"], { set: { "x-origin-delay": "500" } }, "slow"), id: "slow", path: "/slow/:room" },
      ],
    });
    const unreachable = await call(`/closed/${uniqueRoom()}`, { headers: { upgrade: "websocket" } });
    expect([unreachable.status, (await errorOf(unreachable)).code]).toEqual([502, "origin_unreachable"]);
    const slow = await call(`/slow/${uniqueRoom()}`, { headers: { upgrade: "websocket" } });
    expect([slow.status, (await errorOf(slow)).code]).toEqual([504, "origin_timeout"]);
  });
});
