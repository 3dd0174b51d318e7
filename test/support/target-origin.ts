/**
 * A Node origin for upstream tests whose behaviour can change while it runs: it answers (`ok`),
 * answers 503, resets the connection after reading the request, hangs (never answers), or is down
 * (its port closed: connections are refused) and comes back on the same port. Every request it
 * receives is recorded with the body bytes it read.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { ORIGIN_KEEP_ALIVE_MS } from "./echo-origin.ts";

export type TargetMode = "ok" | "503" | "reset" | "hang";

export interface Hit {
  method: string;
  url: string;
  bodyBytes: number;
  clientIp: string | undefined;
  mirror: boolean;
}

export interface TargetOrigin {
  name: string;
  url: string;
  port: number;
  hits: Hit[];
  mode: TargetMode;
  /** Requests whose path starts with this prefix only (others are ignored in `count`). */
  count(prefix?: string): number;
  /** Closes the port: new connections are refused, open ones are cut. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startTargetOrigin(name: string, mode: TargetMode = "ok", port = 0): Promise<TargetOrigin> {
  const sockets = new Set<Socket>();
  let server: Server;
  const origin: TargetOrigin = {
    name, url: "", port, hits: [], mode,
    count: (prefix = "/") => origin.hits.filter((h) => h.url.startsWith(prefix)).length,
    async down() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    async up() { await listen(); },
    async close() {
      for (const socket of sockets) socket.destroy();
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    let bytes = 0;
    req.on("data", (chunk: Buffer) => { bytes += chunk.length; });
    req.on("end", () => {
      origin.hits.push({
        method: req.method!, url: req.url!, bodyBytes: bytes,
        clientIp: req.headers["x-forwarded-for"] as string | undefined,
        mirror: req.headers["x-gateway-mirror"] === "1",
      });
      if (origin.mode === "hang") return;
      if (origin.mode === "reset") { req.socket.destroy(); return; }
      const status = origin.mode === "503" ? 503 : 200;
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify({ target: name, url: req.url, method: req.method, bodyBytes: bytes }));
    });
  };

  const listen = async () => {
    server = createServer(handler);
    server.keepAliveTimeout = ORIGIN_KEEP_ALIVE_MS;
    server.on("connection", (socket) => { sockets.add(socket); socket.on("close", () => sockets.delete(socket)); });
    await new Promise<void>((resolve, reject) => { server.once("error", reject); server.listen(origin.port, "127.0.0.1", () => resolve()); });
    origin.port = (server.address() as AddressInfo).port;
    origin.url = `http://127.0.0.1:${origin.port}`;
  };
  await listen();
  return origin;
}
