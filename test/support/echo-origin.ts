/**
 * A real Node origin for tests: it echoes what it received as JSON, and behaves as request headers
 * ask (all `x-origin-*`, so tests choose behaviour without reserving paths):
 *   x-origin-delay: ms        wait before sending headers
 *   x-origin-status: code     answer with this status
 *   x-origin-headers: JSON    extra response headers
 *   x-origin-redirect: url    answer 302 to this location
 *   x-origin-bytes: n         stream n bytes of body instead of the echo
 * It counts the requests it received per URL: `GET /__echo/hits?url=<url>` answers `{ "hits": n }`
 * (tests of caches prove a hit never reached it).
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

import type { Echo } from "./echo-types.ts";

export type { Echo };

const hitsByUrl = new Map<string, number>();

export function echoHandler(req: IncomingMessage, res: ServerResponse): void {
  if (req.url?.startsWith("/__echo/hits?")) {
    const url = new URLSearchParams(req.url.slice("/__echo/hits?".length)).get("url") ?? "";
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ hits: hitsByUrl.get(url) ?? 0 }));
    return;
  }
  hitsByUrl.set(req.url!, (hitsByUrl.get(req.url!) ?? 0) + 1);
  const hash = createHash("sha256");
  let bytes = 0;
  req.on("data", (chunk: Buffer) => { bytes += chunk.length; hash.update(chunk); });
  req.on("end", () => {
    const delay = Number(req.headers["x-origin-delay"] ?? 0);
    setTimeout(() => {
      if (res.destroyed) return;
      const extra = req.headers["x-origin-headers"] ? JSON.parse(String(req.headers["x-origin-headers"])) as Record<string, string> : {};
      if (req.headers["x-origin-redirect"]) {
        res.writeHead(302, { location: String(req.headers["x-origin-redirect"]), ...extra });
        res.end();
        return;
      }
      const status = Number(req.headers["x-origin-status"] ?? 200);
      if (req.headers["x-origin-bytes"]) {
        const total = Number(req.headers["x-origin-bytes"]);
        res.writeHead(status, { "content-type": "application/octet-stream", ...extra });
        streamBytes(res, total);
        return;
      }
      const echo: Echo = { method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, bodyBytes: bytes, bodySha256: hash.digest("hex") };
      res.writeHead(status, { "content-type": "application/json", server: "echo-origin", ...extra });
      res.end(JSON.stringify(echo));
    }, delay);
  });
}

/** Writes `total` bytes in 64 KiB chunks, honouring backpressure. */
export function streamBytes(res: ServerResponse, total: number): void {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let left = total;
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      left -= n;
      if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) { res.once("drain", pump); return; }
    }
    res.end();
  };
  pump();
}

/**
 * The gateway's connection pool should close an idle connection before the origin does: when the
 * origin closes one first, a request sent on it at that instant is reset, and the gateway rightly
 * answers 502. With 1 s (the old value), two of six runs of the key-feed tests got a 502 on an echo
 * request (a deliberate 1 s-idle loop of 40 requests did not reproduce it); none in ten runs since.
 * Teardown closes every connection, so a long timeout keeps nothing open.
 */
export const ORIGIN_KEEP_ALIVE_MS = 60_000;

export async function startEchoOrigin(port = 0, host = "127.0.0.1"): Promise<{ server: Server; port: number; url: string }> {
  const server = createServer(echoHandler);
  server.keepAliveTimeout = ORIGIN_KEEP_ALIVE_MS;
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  const actual = (server.address() as AddressInfo).port;
  return { server, port: actual, url: `http://${host}:${actual}` };
}
