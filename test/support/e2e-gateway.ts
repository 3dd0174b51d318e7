/**
 * The setup the end-to-end files share, as vitest hooks: before all, start the file's Node origins
 * on loopback (in parallel), then the real gateway (gateway-process.ts) with a route table that names
 * their URLs; after all, stop the gateway and close every origin with its open connections.
 *
 *   const e2e = useGateway({ echo: startEchoOrigin }, ({ echo }) => ({
 *     routes: { origins: { echo: { url: echo.url } }, routes: [...] },
 *   }));
 *   it("...", async () => { await fetch(`${e2e.gateway.url}/v1/x`); e2e.echo.url; });
 *
 * The returned object is filled in when the beforeAll hook has run: read its members inside hooks
 * and tests, never at the top level of the file.
 */
import { createServer, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll } from "vitest";
import { startGateway, startGatewayIsolates, type GatewayIsolates, type GatewayOptions, type GatewayProcess } from "./gateway-process.ts";
import { ORIGIN_KEEP_ALIVE_MS } from "./echo-origin.ts";

/** An origin a test starts: a Node HTTP server, or anything that closes itself. */
export type Origin = { server: Server } | { close(): Promise<void> };

type Starters = Record<string, () => Promise<Origin>>;
type Started<S extends Starters> = { [K in keyof S]: Awaited<ReturnType<S[K]>> };

/** A Node HTTP server on an ephemeral loopback port, for origins written in a test file. */
export async function listenOnLoopback(handler: RequestListener): Promise<{ server: Server; port: number; url: string }> {
  const server = createServer(handler);
  server.keepAliveTimeout = ORIGIN_KEEP_ALIVE_MS;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { server, port, url: `http://127.0.0.1:${port}` };
}

/** Closes an origin at once: keep-alive connections the gateway still holds would keep a server open. */
export async function closeOrigin(origin: Origin): Promise<void> {
  if ("close" in origin) return origin.close();
  origin.server.closeAllConnections();
  origin.server.close();
}

function useStarted<S extends Starters, G extends { stop(): Promise<void> }>(
  origins: S,
  start: (origins: Started<S>) => Promise<G>,
  timeoutMs: number,
): { readonly gateway: G } & Started<S> {
  const running = {} as { gateway: G } & Started<S>;
  beforeAll(async () => {
    const names = Object.keys(origins) as (keyof S)[];
    const started = await Promise.all(names.map((name) => origins[name]!()));
    names.forEach((name, i) => { (running as Started<S>)[name] = started[i] as Started<S>[keyof S]; });
    running.gateway = await start(running);
  }, timeoutMs);
  afterAll(async () => {
    // Whatever beforeAll got to start, even when it failed halfway.
    await running.gateway?.stop();
    for (const name of Object.keys(origins)) {
      const origin = (running as Record<string, Origin | undefined>)[name];
      if (origin) await closeOrigin(origin);
    }
  });
  return running;
}

/**
 * One gateway (startGateway) in front of `origins`, for the whole file. `options` may first prepare
 * what the table needs from the running origins (key sets on a JWKS server).
 */
export function useGateway<S extends Starters>(origins: S, options: (origins: Started<S>) => GatewayOptions | Promise<GatewayOptions>, timeoutMs = 60_000): { readonly gateway: GatewayProcess } & Started<S> {
  return useStarted(origins, async (started) => startGateway(await options(started)), timeoutMs);
}

/** Several gateway isolates sharing their Durable Objects (startGatewayIsolates) in front of `origins`. */
export function useGatewayIsolates<S extends Starters>(origins: S, options: (origins: Started<S>) => GatewayOptions & { isolates: number }, timeoutMs = 60_000): { readonly gateway: GatewayIsolates } & Started<S> {
  return useStarted(origins, (started) => startGatewayIsolates(options(started)), timeoutMs);
}
