/**
 * The demo origins `npm start` runs in front of, matching the default routes.json:
 * "users" on 127.0.0.1:9001 and "orders" on 127.0.0.1:9002 (under /api); and, for the staging
 * table's canary (routes.staging.json), a second "users" on 127.0.0.1:9003 that names itself
 * "users-canary".
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { "content-type": "application/json", server: "demo-origin" });
  res.end(JSON.stringify(body, null, 2) + "\n");
};

/** What the gateway sent, so a person trying it can see the header hygiene at work. */
const seen = (req: IncomingMessage) => ({
  method: req.method,
  path: req.url,
  headers: Object.fromEntries(Object.entries(req.headers).filter(([name]) => /^(x-|forwarded|host)/.test(name))),
});

const users = (origin: string) => function users(req: IncomingMessage, res: ServerResponse): void {
  const path = new URL(req.url!, "http://x").pathname;
  if (path === "/health") return json(res, 200, { status: "ok", origin });
  const user = /^\/users\/([^/]+)$/.exec(path);
  if (user) return json(res, 200, { id: decodeURIComponent(user[1]!), name: `User ${decodeURIComponent(user[1]!)}`, origin, received: seen(req) });
  json(res, 404, { error: "no such user resource", received: seen(req) });
};

function orders(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  req.on("end", () => json(res, 200, { origin: "orders", received: seen(req) }));
}

export async function startDemoOrigins(host = "127.0.0.1"): Promise<Server[]> {
  const servers = [createServer(users("users")), createServer(orders), createServer(users("users-canary"))];
  await Promise.all(servers.map((server, i) => new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(9001 + i, host, resolve);
  })));
  return servers;
}

if (import.meta.main) {
  await startDemoOrigins();
  console.log("demo origins on http://127.0.0.1:9001 (users), http://127.0.0.1:9002 (orders) and http://127.0.0.1:9003 (users-canary)");
}
