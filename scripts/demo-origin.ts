/**
 * The demo origins `npm start` runs in front of, where the default routes.json points: "users" on
 * 127.0.0.1:9001 and "orders" on 127.0.0.1:9002 (under /api); and, for the staging table's canary
 * (routes.staging.json), a second "users" that names itself "users-canary". npm start starts each
 * at the port the table gives it: an origin's url, or for an origin with targets, its first target
 * as "users" and the others as "users-canary".
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
  // Behind a JWT route: the gateway sends the verified `sub` as x-user-id (a client's own is dropped).
  if (path === "/me") return json(res, 200, { user: req.headers["x-user-id"] ?? null, origin, received: seen(req) });
  const user = /^\/users\/([^/]+)$/.exec(path);
  if (user) return json(res, 200, { id: decodeURIComponent(user[1]!), name: `User ${decodeURIComponent(user[1]!)}`, origin, received: seen(req) });
  json(res, 404, { error: "no such user resource", received: seen(req) });
}

function orders(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  req.on("end", () => json(res, 200, { origin: "orders", received: seen(req) }));
}

export const DEMO_ORIGINS = { users: users("users"), orders, "users-canary": users("users-canary") } as const;
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
export function demoPorts(origins: Record<string, { url?: string | undefined; targets?: { url?: string | undefined }[] | undefined }>): Partial<Record<DemoOrigin, number>> {
  const ports: Partial<Record<DemoOrigin, number>> = {};
  const localPort = (text: string): number | undefined => {
    const url = new URL(text);
    return (url.hostname === "127.0.0.1" || url.hostname === "localhost") && url.port !== "" ? Number(url.port) : undefined;
  };
  for (const name of ["users", "orders"] as const) {
    const origin = Object.hasOwn(origins, name) ? origins[name] : undefined;
    const urls = origin?.url !== undefined ? [origin.url] : (origin?.targets ?? []).flatMap((t) => (t.url === undefined ? [] : [t.url]));
    urls.forEach((url, i) => {
      const port = localPort(url);
      const demo: DemoOrigin = i === 0 ? name : "users-canary";
      if (port !== undefined && (i === 0 || name === "users")) ports[demo] = port;
    });
  }
  return ports;
}

if (import.meta.main) {
  await startDemoOrigins();
  console.log("demo origins on http://127.0.0.1:9001 (users) and http://127.0.0.1:9002 (orders)");
}
