/**
 * Rooms end to end: the gateway as a server on a loopback port, real `ws` clients, and a real Node
 * origin receiving backend events.
 */
import type { IncomingHttpHeaders } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { listenOnLoopback, useGateway } from "../support/e2e-gateway.ts";

const TOKEN = "e2e-admin-token";

interface Client {
  ws: WebSocket;
  id: string;
  frames: unknown[];
  /** Resolves when `count` frames matching `filter` have arrived. */
  waitFor(filter: (frame: Record<string, unknown>) => boolean, count?: number, ms?: number): Promise<Record<string, unknown>[]>;
  closed: Promise<{ code: number; reason: string }>;
}

/** A backend: records every event; refuses connects that carry x-refuse; answers messages with an ack. */
async function startBackend() {
  const received: { headers: IncomingHttpHeaders; url: string; body: Record<string, unknown> }[] = [];
  const origin = await listenOnLoopback((req, res) => {
    let body = "";
    req.on("data", (chunk) => { body += chunk; });
    req.on("end", () => {
      const event = JSON.parse(body) as Record<string, unknown>;
      received.push({ headers: req.headers, url: req.url!, body: event });
      if (event.event === "connect" && req.headers["x-refuse"]) { res.writeHead(403).end(); return; }
      if (event.event === "message") { res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ type: "ack", of: event.payload })); return; }
      res.writeHead(204).end();
    });
  });
  return { ...origin, received };
}

const e2e = useGateway({ events: startBackend }, ({ events }) => ({
  bindings: { ADMIN_TOKEN: TOKEN },
  routes: {
    origins: { backend: { url: events.url } },
    admin: { pathPrefix: "/_gateway", token: { env: "ADMIN_TOKEN" } },
    routes: [
      { id: "big", path: "/v1/big/:room", auth: "none",
        room: { name: ":room", maxConnections: 1000, messagesPerSecond: 1000, presence: false } },
      { id: "small", path: "/v1/small/:room", auth: "none", room: { name: ":room", maxMessageBytes: 1024 } },
      { id: "chat", path: "/v1/chat/:room", auth: "none", requestHeaders: { set: { "x-room-secret": "s3cret" }, remove: ["x-drop-me"] },
        room: { name: ":room", allowedOrigins: ["https://app.example.com"],
                backend: { origin: "backend", path: "/hooks/room", events: ["connect", "message", "disconnect"] } } },
    ],
  },
}));

function open(path: string, options: WebSocket.ClientOptions = {}): Promise<Client> {
  const ws = new WebSocket(e2e.gateway.url.replace(/^http/, "ws") + path, options);
  const frames: unknown[] = [];
  const waiters: (() => void)[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.on("message", (data, binary) => {
    frames.push(binary ? data : JSON.parse(data.toString()));
    for (const w of waiters.splice(0)) w();
  });
  const client: Client = {
    ws, id: "", frames, closed,
    waitFor(filter, count = 1, ms = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${count} frames`)), ms);
        const check = () => {
          const hits = (frames as Record<string, unknown>[]).filter(filter);
          if (hits.length >= count) { clearTimeout(timer); resolve(hits); } else waiters.push(check);
        };
        check();
      });
    },
  };
  return new Promise((resolve, reject) => {
    ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once("error", reject);
    ws.once("open", async () => {
      const [welcome] = await client.waitFor((f) => f.type === "welcome");
      client.id = welcome!.id as string;
      resolve(client);
    });
  });
}

/** The status an upgrade was refused with. */
function refusal(path: string, options: WebSocket.ClientOptions = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(e2e.gateway.url.replace(/^http/, "ws") + path, options);
    ws.once("unexpected-response", (_req, res) => { resolve(res.statusCode!); res.resume(); ws.terminate(); });
    ws.once("open", () => { ws.close(); reject(new Error("the upgrade was accepted")); });
    ws.once("error", () => { /* reported through unexpected-response */ });
  });
}

async function push(path: string, body?: unknown, method = "POST"): Promise<Response> {
  return fetch(`${e2e.gateway.url}/_gateway/rooms${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

describe("a room with 500 clients", () => {
  const CLIENTS = 500, SENDERS = 5, MESSAGES = 20;
  let clients: Client[] = [];

  beforeAll(async () => {
    for (let i = 0; i < CLIENTS; i += 50) clients.push(...await Promise.all(Array.from({ length: 50 }, () => open("/v1/big/lobby"))));
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.ws.close();
    await Promise.all(clients.map((c) => c.closed));
  });

  it("delivers every broadcast to every client exactly once, in order per sender", async () => {
    expect(new Set(clients.map((c) => c.id)).size).toBe(CLIENTS);
    const senders = clients.slice(0, SENDERS);
    for (let n = 0; n < MESSAGES; n++) for (const s of senders) s.ws.send(JSON.stringify({ type: "broadcast", data: { n } }));
    await Promise.all(clients.map((c) => c.waitFor((f) => f.type === "message", SENDERS * MESSAGES)));
    await new Promise((resolve) => setTimeout(resolve, 200)); // a duplicate would arrive by now
    for (const client of clients) {
      const messages = client.frames as { type: string; from: string; data: { n: number } }[];
      expect(messages.filter((f) => f.type === "message")).toHaveLength(SENDERS * MESSAGES);
      for (const sender of senders) {
        expect(messages.filter((f) => f.type === "message" && f.from === sender.id).map((f) => f.data.n)).toEqual(Array.from({ length: MESSAGES }, (_, i) => i));
      }
    }
  }, 60_000);

  it("reaches every client through the push API, and one client by its connection id", async () => {
    const response = await push("/lobby/broadcast", { data: "from the backend" });
    expect(await response.json()).toEqual({ delivered: CLIENTS });
    await Promise.all(clients.map((c) => c.waitFor((f) => f.type === "message" && f.from === null && f.data === "from the backend")));

    const target = clients[123]!;
    expect((await push(`/lobby/connections/${target.id}/messages`, { data: "just you" })).status).toBe(200);
    const [direct] = await target.waitFor((f) => f.data === "just you");
    expect(direct).toMatchObject({ type: "message", from: null, to: target.id });
    const list = await (await push("/lobby/connections", undefined, "GET")).json() as { count: number };
    expect(list.count).toBe(CLIENTS);
  }, 60_000);
});

describe("backend events", () => {
  const origin = { origin: "https://app.example.com" };

  it("POSTs connect, message and disconnect to a real origin, and relays its answer to the sender", async () => {
    const client = await open("/v1/chat/team", { ...origin, headers: { cookie: "sid=1", "x-forwarded-for": "6.6.6.6", "x-drop-me": "1" } });
    client.ws.send(JSON.stringify({ type: "broadcast", data: "hello" }));
    const [ack] = await client.waitFor((f) => f.type === "ack");
    expect(ack).toEqual({ type: "ack", of: { type: "broadcast", data: "hello" } });
    client.ws.close(4000, "leaving");
    await client.closed;
    await waitUntil(() => e2e.events.received.some((e) => e.body.event === "disconnect" && e.body.connectionId === client.id));

    const mine = e2e.events.received.filter((e) => e.body.connectionId === client.id);
    expect(mine.map((e) => e.body.event)).toEqual(["connect", "message", "disconnect"]);
    for (const e of mine) {
      expect(e.url).toBe("/hooks/room");
      expect(e.body).toMatchObject({ room: "team", identity: { sub: null, claims: {} } });
      expect(e.headers["x-room-secret"]).toBe("s3cret");
      expect(e.headers["x-gateway-event"]).toBe(e.body.event);
    }
    const connectHeaders = mine[0]!.headers;
    expect(connectHeaders.cookie).toBe("sid=1");
    expect(connectHeaders).not.toHaveProperty("x-drop-me");
    // The client's X-Forwarded-For is replaced by what the gateway knows (CF-Connecting-IP, if any).
    expect([undefined, "127.0.0.1"]).toContain(connectHeaders["x-forwarded-for"]);
    expect(connectHeaders["x-forwarded-host"]).toBe(new URL(e2e.gateway.url).host);
    expect(connectHeaders).not.toHaveProperty("sec-websocket-key");
    expect(connectHeaders).not.toHaveProperty("x-gateway-room-connect");
    expect(mine[1]!.body.payload).toEqual({ type: "broadcast", data: "hello" });
    expect(mine[2]!.body.payload).toEqual({ code: 4000, reason: "leaving" });
  });

  it("refuses the upgrade when the origin answers connect with a non-2xx", async () => {
    expect(await refusal("/v1/chat/team", { ...origin, headers: { "x-refuse": "1" } })).toBe(403);
  });

  it("refuses a browser Origin that is not allowed", async () => {
    expect(await refusal("/v1/chat/team", { origin: "https://evil.example" })).toBe(403);
  });
});

describe("the TCP connection after a server-initiated close (issue 8, item 5)", () => {
  /** ms from `start` until the client's TCP connection ends ('close' on the underlying socket); Infinity after 15 s. */
  function tcpClosedAfter(client: Client, start: () => number): Promise<number> {
    const socket = (client.ws as unknown as { _socket: import("node:net").Socket })._socket;
    const ended = new Promise<number>((resolve) => socket.once("close", () => resolve(Date.now() - start())));
    return Promise.race([ended, new Promise<number>((resolve) => setTimeout(() => resolve(Infinity), 15_000))]);
  }

  // KNOWN BUG in the runtime, not fixed (no fix reachable from the Worker or the object; what was
  // tried: bench/FINDINGS.md, "Half-open close"). Measured 10.0 s every run: the TCP connection
  // ends only when the idle object is evicted (and, in a room that stays busy, only when the
  // client gives up). Two workerd behaviours combine, see RoomObject.webSocketClose: kj's
  // WebSocket pipe keeps pumping after it handed the client's Close to a hibernating socket that
  // never received a frame before, and workerd's WebSocket keeps its end of that pipe because its
  // own close went out first. `it.fails` keeps the measurement honest: it fails once fixed.
  it.fails("ends within 1 s of the push API's DELETE while another client stays in the room", async () => {
    const stays = await open("/v1/small/half-open");
    const leaves = await open("/v1/small/half-open");
    let start = 0;
    const elapsed = tcpClosedAfter(leaves, () => start);
    start = Date.now();
    expect((await push(`/half-open/connections/${leaves.id}`, { code: 4001, reason: "bye" }, "DELETE")).status).toBe(200);
    expect(await elapsed).toBeLessThan(1000);
    expect(stays.ws.readyState).toBe(WebSocket.OPEN);
    stays.ws.close();
  }, 30_000);

  it("keeps the other client connected and receiving broadcasts after the push API's DELETE", async () => {
    const stays = await open("/v1/small/stays");
    const leaves = await open("/v1/small/stays");
    expect((await push(`/stays/connections/${leaves.id}`, { code: 4001, reason: "bye" }, "DELETE")).status).toBe(200);
    const [leave] = await stays.waitFor((f) => f.type === "leave", 1, 5000);
    expect(leave).toMatchObject({ id: leaves.id, count: 1 });

    expect(await (await push("/stays/broadcast", { data: "after the DELETE" })).json()).toEqual({ delivered: 1 });
    const [broadcast] = await stays.waitFor((f) => f.data === "after the DELETE", 1, 5000);
    expect(broadcast).toMatchObject({ type: "message", from: null });
    stays.ws.send(JSON.stringify({ type: "count" }));
    expect((await stays.waitFor((f) => f.type === "count", 1, 5000))[0]).toEqual({ type: "count", count: 1 });
    expect(stays.ws.readyState).toBe(WebSocket.OPEN);
    expect(leaves.frames.filter((f) => (f as { data?: unknown }).data === "after the DELETE")).toEqual([]);

    stays.ws.close();
    await stays.closed;
    leaves.ws.terminate(); // its TCP connection would otherwise outlive the test (the known bug above)
  }, 30_000);

  // The boundary of the bug: once the client has sent any frame (here a command; the
  // runtime-answered "ping" does as well), the client's Close no longer reaches the hibernating
  // socket through the pipe's first hand-over, and the connection ends at once.
  it("ends within 1 s of the push API's DELETE when the leaving client had sent a frame before", async () => {
    const stays = await open("/v1/small/spoke");
    const leaves = await open("/v1/small/spoke");
    leaves.ws.send(JSON.stringify({ type: "count" }));
    await leaves.waitFor((f) => f.type === "count", 1, 5000);
    let start = 0;
    const elapsed = tcpClosedAfter(leaves, () => start);
    start = Date.now();
    expect((await push(`/spoke/connections/${leaves.id}`, { code: 4001, reason: "bye" }, "DELETE")).status).toBe(200);
    expect(await leaves.closed).toEqual({ code: 4001, reason: "bye" });
    expect(await elapsed).toBeLessThan(1000);
    expect(stays.ws.readyState).toBe(WebSocket.OPEN);
    stays.ws.close();
    await stays.closed;
  }, 30_000);

  it("ends within 1 s of a too-big close while another client stays (the path that works)", async () => {
    const stays = await open("/v1/small/too-big");
    const leaves = await open("/v1/small/too-big");
    let start = 0;
    const elapsed = tcpClosedAfter(leaves, () => start);
    start = Date.now();
    leaves.ws.send("x".repeat(2048));
    expect((await leaves.closed).code).toBe(1009);
    expect(await elapsed).toBeLessThan(1000);
    stays.ws.close();
    await stays.closed;
  }, 30_000);
});

async function waitUntil(condition: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
