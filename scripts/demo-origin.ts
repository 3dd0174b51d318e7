/**
 * The demo origins `npm start` runs in front of, where the default routes.json points: "users" on
 * 127.0.0.1:9001 and "orders" on 127.0.0.1:9002 (under /api). npm start starts them at the ports
 * routes.json gives its `users` and `orders` origins.
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

function users(req: IncomingMessage, res: ServerResponse): void {
  const path = new URL(req.url!, "http://x").pathname;
  if (path === "/health") return json(res, 200, { status: "ok" });
  // Behind a JWT route: the gateway sends the verified `sub` as x-user-id (a client's own is dropped).
  if (path === "/me") return json(res, 200, { user: req.headers["x-user-id"] ?? null, origin: "users", received: seen(req) });
  const user = /^\/users\/([^/]+)$/.exec(path);
  if (user) return json(res, 200, { id: decodeURIComponent(user[1]!), name: `User ${decodeURIComponent(user[1]!)}`, origin: "users", received: seen(req) });
  json(res, 404, { error: "no such user resource", received: seen(req) });
}

function orders(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  req.on("end", () => json(res, 200, { origin: "orders", received: seen(req) }));
}

export const DEMO_ORIGINS = { users, orders } as const;
export type DemoOrigin = keyof typeof DEMO_ORIGINS;

/** Starts each demo origin on its port of 127.0.0.1 (default: users 9001, orders 9002). */
export async function startDemoOrigins(ports: Partial<Record<DemoOrigin, number>> = { users: 9001, orders: 9002 }, host = "127.0.0.1"): Promise<Server[]> {
  const servers = (Object.entries(ports) as [DemoOrigin, number][]).map(([name, port]) => ({ server: createServer(DEMO_ORIGINS[name]), port }));
  await Promise.all(servers.map(({ server, port }) => new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  })));
  return servers.map(({ server }) => server);
}

/**
 * Where a table wants the demo origins: its `users` and `orders` origins, when they point at this
 * machine. `npm start` starts them there, so moving one to a free port is an edit of routes.json.
 */
export function demoPorts(origins: Record<string, { url: string }>): Partial<Record<DemoOrigin, number>> {
  const ports: Partial<Record<DemoOrigin, number>> = {};
  for (const name of Object.keys(DEMO_ORIGINS) as DemoOrigin[]) {
    const origin = Object.hasOwn(origins, name) ? origins[name] : undefined;
    if (!origin) continue;
    const url = new URL(origin.url);
    if ((url.hostname === "127.0.0.1" || url.hostname === "localhost") && url.port !== "") ports[name] = Number(url.port);
  }
  return ports;
}

if (import.meta.main) {
  await startDemoOrigins();
  console.log("demo origins on http://127.0.0.1:9001 (users) and http://127.0.0.1:9002 (orders)");
}
