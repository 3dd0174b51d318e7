/** The read-only views of the route table in the admin API: plans with their limits, routes with their policy chains. */
import { describe, expect, it } from "vitest";
import { ADMIN_HEADERS, gatewayFor, route } from "../support/worker-gateway.ts";

const table = {
  plans: {
    free: { rate: { limit: 10, per: "1s", burst: 20 }, quota: { limit: 1000, per: "day" } },
    burst: { rate: { limit: 5, per: "1m" }, onLimiterError: "open" },
  },
  authorizers: { main: { type: "jwt", secret: { env: "TEST_JWT_SECRET" }, algorithms: ["HS256"], issuer: "https://issuer.test", audience: "api" } },
  admin: { pathPrefix: "/_gateway", token: { env: "ADMIN_TOKEN" } },
  routes: [
    route("public", "/public"),
    route("orders", "/v1/orders/*", { methods: ["GET", "POST"], auth: { apiKey: { scopes: ["orders:read"] } }, rateLimit: { plan: "burst", by: "ip" }, cost: 2 }),
    route("me", "/v1/me", { auth: { authorizer: "main", scopes: ["profile"] }, cache: { ttlSec: 60 } }),
    { id: "chat", path: "/v1/chat/:room", auth: "none", room: { name: ":room" } },
  ],
};
const call = gatewayFor(table);
const get = async (path: string, headers: Record<string, string> = ADMIN_HEADERS) => {
  const response = await call(`/_gateway${path}`, { headers });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
};

describe("GET /plans", () => {
  it("lists every plan with its limits, defaults filled in", async () => {
    expect(await get("/plans")).toEqual({
      status: 200,
      json: {
        plans: [
          { name: "free", rate: { limit: 10, per: "1s", burst: 20 }, quota: { limit: 1000, per: "day" }, onLimiterError: "closed" },
          { name: "burst", rate: { limit: 5, per: "1m", burst: 5 }, quota: null, onLimiterError: "open" },
        ],
      },
    });
  });

  it("needs the admin token", async () => {
    expect((await get("/plans", {})).status).toBe(401);
  });
});

describe("GET /routes", () => {
  it("shows each route as configured, its origin's settings, and the policies that run on it in order", async () => {
    const { status, json } = await get("/routes");
    expect(status).toBe(200);
    const routes = json.routes as Record<string, unknown>[];
    expect(routes.map((r) => r.id)).toEqual(["public", "orders", "me", "chat"]);
    expect(routes[0]).toMatchObject({ path: "/public", auth: "none", policies: [], origin: { name: "echo", url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/), timeoutMs: 30000 } });
    expect(routes[1]).toMatchObject({
      methods: ["GET", "POST"], auth: { apiKey: { scopes: ["orders:read"] } }, rateLimit: { plan: "burst", by: "ip" }, cost: 2,
      policies: ["api-key", "rate-limit"],
    });
    expect(routes[2]).toMatchObject({ auth: { authorizer: "main", scopes: ["profile"] }, cache: { ttlSec: 60 }, policies: ["jwt", "cache"] });
    expect(routes[3]).toMatchObject({ origin: null, room: { name: ":room", maxConnections: 1000 }, policies: ["room"] });
  });

});
