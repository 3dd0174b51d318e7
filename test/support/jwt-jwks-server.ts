/**
 * A real JWKS server for the JWT tests (Node, loopback, ephemeral port). Each test uses its own
 * named key set, so tests never share state:
 *   GET  /sets/:name/jwks.json   the set's JWKS (503 while "down"); every request is counted
 *   PUT  /sets/:name             JSON { keys?, down?, cacheControl?, delayMs? } replaces those fields
 *   GET  /sets/:name/stats       { fetches, requests }: JWKS fetches, and every request to the set
 *                                (any other path under /sets/:name counts as a request too: tests
 *                                point `jku`/`x5u` headers there to prove nothing fetches them)
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ORIGIN_KEEP_ALIVE_MS } from "./echo-origin.ts";

interface KeySetState {
  keys: unknown[];
  down: boolean;
  cacheControl: string;
  delayMs: number;
  fetches: number;
  requests: number;
}

export function createJwksServer(): Server {
  const sets = new Map<string, KeySetState>();
  const stateOf = (name: string) => {
    let state = sets.get(name);
    if (!state) {
      state = { keys: [], down: false, cacheControl: "public, max-age=600", delayMs: 0, fetches: 0, requests: 0 };
      sets.set(name, state);
    }
    return state;
  };
  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  };
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://jwks.test");
    const match = /^\/sets\/([A-Za-z0-9_.-]+)(\/.*)?$/.exec(url.pathname);
    if (!match) return json(res, 404, { error: "not found" });
    const state = stateOf(match[1]!);
    const rest = match[2] ?? "";
    let body = "";
    req.on("data", (chunk: Buffer) => { body += chunk.toString(); });
    req.on("end", () => {
      if (req.method === "PUT" && rest === "") {
        const update = JSON.parse(body || "{}") as Partial<KeySetState>;
        if (update.keys !== undefined) state.keys = update.keys;
        if (update.down !== undefined) state.down = update.down;
        if (update.cacheControl !== undefined) state.cacheControl = update.cacheControl;
        if (update.delayMs !== undefined) state.delayMs = update.delayMs;
        return json(res, 200, { fetches: state.fetches, requests: state.requests });
      }
      if (req.method === "GET" && rest === "/stats") return json(res, 200, { fetches: state.fetches, requests: state.requests });
      state.requests++;
      if (req.method === "GET" && rest === "/jwks.json") {
        state.fetches++;
        setTimeout(() => {
          if (state.down) return json(res, 503, { error: "down" });
          json(res, 200, { keys: state.keys }, { "cache-control": state.cacheControl });
        }, state.delayMs);
        return;
      }
      json(res, 404, { error: "not found" });
    });
  });
}

export async function startJwksServer(): Promise<{ server: Server; port: number }> {
  const server = createJwksServer();
  server.keepAliveTimeout = ORIGIN_KEEP_ALIVE_MS;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port };
}
