/**
 * A JWKS endpoint for the jwt scenario: serves one JWKS document at /jwks.json on 127.0.0.1
 * (ephemeral port) and counts how often it is fetched, so the scenario can assert that the gateway
 * stops fetching once its cache is warm. It runs in the harness process: it answers a handful of
 * requests per run, too few to disturb the load generator.
 */
import { createServer } from "node:http";
import { once } from "node:events";

export interface JwksServer {
  url: string;
  /** Sets the document to serve (until then: 503). */
  serve(jwks: unknown): void;
  /** GETs of the JWKS document so far. */
  fetches(): number;
  close(): Promise<void>;
}

export async function startJwksServer(cacheControl = "max-age=600"): Promise<JwksServer> {
  let body: string | undefined;
  let fetches = 0;
  const server = createServer((req, res) => {
    req.resume();
    if (req.method === "GET" && req.url === "/jwks.json") {
      fetches++;
      if (body === undefined) {
        res.writeHead(503).end();
        return;
      }
      res.writeHead(200, { "content-type": "application/json", "cache-control": cacheControl, "content-length": Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    res.writeHead(404).end();
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("JWKS server: no TCP address");
  return {
    url: `http://127.0.0.1:${address.port}/jwks.json`,
    serve: (jwks) => {
      body = JSON.stringify(jwks);
    },
    fetches: () => fetches,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
