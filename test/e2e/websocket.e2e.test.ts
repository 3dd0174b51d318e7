/**
 * WebSocket pass-through end to end: a real `ws` client, the gateway on a loopback port, and a
 * real `ws` server as the origin.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket, { WebSocketServer } from "ws";
import { startGateway, type GatewayProcess } from "../support/gateway-process.ts";

let gateway: GatewayProcess;
let origin: WebSocketServer;
const upgrades: { url: string; headers: IncomingHttpHeaders }[] = [];
const originCloses: { url: string; code: number; reason: string }[] = [];

beforeAll(async () => {
  // Echoes text with a prefix and binary reversed, so each direction is visible; "close:CODE:REASON" closes.
  origin = new WebSocketServer({ host: "127.0.0.1", port: 0, handleProtocols: (protocols) => [...protocols][0] ?? false });
  origin.on("connection", (ws, req) => {
    upgrades.push({ url: req.url!, headers: req.headers });
    ws.on("message", (data: Buffer, isBinary) => {
      if (isBinary) { ws.send(Buffer.from(data).reverse(), { binary: true }); return; }
      const text = data.toString();
      const close = /^close:(\d+):(.*)$/.exec(text);
      if (close) ws.close(Number(close[1]), close[2]);
      else ws.send(`echo:${text}`);
    });
    ws.on("close", (code, reason) => originCloses.push({ url: req.url!, code, reason: reason.toString() }));
  });
  await new Promise((resolve) => origin.once("listening", resolve));
  const port = (origin.address() as AddressInfo).port;
  gateway = await startGateway({
    routes: {
      origins: { live: { url: `http://127.0.0.1:${port}` } },
      routes: [{ id: "live", path: "/v1/live/*", origin: "live", websocket: true, auth: "none", rewrite: "/socket/*",
                 requestHeaders: { set: { "x-from-gateway": "1" } }, responseHeaders: { set: { "x-served-by": "edge-gateway" } } }],
    },
  });
}, 60_000);

afterAll(async () => {
  await gateway?.stop();
  for (const client of origin?.clients ?? []) client.terminate();
  await new Promise((resolve) => origin?.close(resolve));
});

interface Client { ws: WebSocket; next(): Promise<{ data: Buffer; binary: boolean }>; closed: Promise<{ code: number; reason: string }>; handshake: Record<string, string | string[] | undefined> }

function open(path: string, options: WebSocket.ClientOptions = {}, protocols?: string[]): Promise<Client> {
  const ws = new WebSocket(gateway.url.replace(/^http/, "ws") + path, protocols, options);
  const queue: { data: Buffer; binary: boolean }[] = [];
  const waiters: ((frame: { data: Buffer; binary: boolean }) => void)[] = [];
  ws.on("message", (data: Buffer, binary) => {
    const frame = { data, binary };
    const waiter = waiters.shift();
    if (waiter) waiter(frame); else queue.push(frame);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })));
  const next = () => new Promise<{ data: Buffer; binary: boolean }>((resolve) => { const f = queue.shift(); if (f) resolve(f); else waiters.push(resolve); });
  let handshake: Record<string, string | string[] | undefined> = {};
  ws.once("upgrade", (res) => { handshake = res.headers; });
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve({ ws, next, closed, handshake }));
    ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once("error", reject);
  });
}

async function waitUntil(condition: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("WebSocket pass-through to a real ws origin", () => {
  it("answers the upgrade with the route's response header edits and the request id", async () => {
    const client = await open("/v1/live/headers", { headers: { "x-request-id": "ws-req-1" } });
    expect(client.handshake["x-served-by"]).toBe("edge-gateway");
    expect(client.handshake["x-request-id"]).toBe("ws-req-1");
    client.ws.close();
    await client.closed;
  });

  it("relays text as text and binary as binary, both ways, in order", async () => {
    const client = await open("/v1/live/feed");
    client.ws.send("hello");
    const text = await client.next();
    expect([text.binary, text.data.toString()]).toEqual([false, "echo:hello"]);
    client.ws.send(Buffer.from([1, 2, 3, 255]));
    const binary = await client.next();
    expect([binary.binary, [...binary.data]]).toEqual([true, [255, 3, 2, 1]]);
    for (let i = 0; i < 500; i++) client.ws.send(`n${i}`);
    const got: string[] = [];
    for (let i = 0; i < 500; i++) got.push((await client.next()).data.toString());
    expect(got).toEqual(Array.from({ length: 500 }, (_, i) => `echo:n${i}`));
    client.ws.close();
    await client.closed;
  });

  it("sends the upgrade to the route's path with forwarding's header hygiene and the client's subprotocol", async () => {
    const client = await open("/v1/live/room-7?since=3", { headers: { "x-forwarded-for": "6.6.6.6", "x-original-url": "/admin" } }, ["chat.v1", "chat.v0"]);
    expect(client.ws.protocol).toBe("chat.v1");
    await waitUntil(() => upgrades.some((u) => u.url === "/socket/room-7?since=3"));
    const { headers } = upgrades.find((u) => u.url === "/socket/room-7?since=3")!;
    expect(headers["x-from-gateway"]).toBe("1");
    expect(headers["x-forwarded-for"]).not.toBe("6.6.6.6");
    expect(headers).not.toHaveProperty("x-original-url");
    expect(headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    client.ws.close();
    await client.closed;
  });

  it("closes the client with the origin's code and reason when the origin closes", async () => {
    const client = await open("/v1/live/feed");
    client.ws.send("close:4001:origin done");
    expect(await client.closed).toEqual({ code: 4001, reason: "origin done" });
  });

  it("closes the origin with the client's code and reason when the client closes", async () => {
    const client = await open("/v1/live/client-closes");
    client.ws.close(4002, "client done");
    await client.closed;
    await waitUntil(() => originCloses.some((c) => c.url === "/socket/client-closes"));
    expect(originCloses.filter((c) => c.url === "/socket/client-closes")).toEqual([{ url: "/socket/client-closes", code: 4002, reason: "client done" }]);
  });

  it("answers a plain HTTP request with 426", async () => {
    const response = await fetch(`${gateway.url}/v1/live/feed`);
    expect(response.status).toBe(426);
  });
});
