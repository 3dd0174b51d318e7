/**
 * API keys and quotas over real HTTP: the bundled Worker served by workerd with real SQLite-backed
 * Durable Objects (on a temporary disk), a real Node origin, and fetch from Node.
 */
import { describe, expect, it } from "vitest";
import { startEchoOrigin } from "../support/echo-origin.ts";
import { useGateway } from "../support/e2e-gateway.ts";

const TOKEN = "e2e-admin-token-0123456789";
const e2e = useGateway({ echo: startEchoOrigin }, ({ echo }) => ({
  routes: {
    origins: { echo: { url: echo.url } },
    plans: { ten: { quota: { limit: 10, per: "month" } }, roomy: { quota: { limit: 1000, per: "day" } } },
    admin: { token: { env: "ADMIN_TOKEN" } },
    routes: [{ id: "orders", path: "/v1/orders/*", origin: "echo", auth: { apiKey: true } }],
  },
  bindings: { ADMIN_TOKEN: TOKEN },
}));

const admin = async (method: string, path: string, body?: unknown) => {
  const response = await fetch(`${e2e.gateway.url}/_gateway${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, text: await response.text() };
};
const use = async (key: string) => {
  const response = await fetch(`${e2e.gateway.url}/v1/orders/1`, { headers: { "x-api-key": key } });
  await response.arrayBuffer();
  return response.status;
};

describe("keys and quotas over HTTP", () => {
  it("refuses the admin API without the token", async () => {
    expect((await fetch(`${e2e.gateway.url}/_gateway/keys`)).status).toBe(401);
    expect((await fetch(`${e2e.gateway.url}/_gateway/keys`, { headers: { authorization: "Bearer nope" } })).status).toBe(401);
  });

  it("creates a key, counts it exactly, reports usage, re-plans, rotates and revokes it", async () => {
    const created = await admin("POST", "/keys", { name: "e2e", owner: "e2e-owner", plan: "ten" });
    expect(created.status).toBe(201);
    const { id, key } = JSON.parse(created.text) as { id: string; key: string };

    const statuses = await Promise.all(Array.from({ length: 30 }, () => use(key)));
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(20);

    const usage = JSON.parse((await admin("GET", `/keys/${id}/usage`)).text) as { quota: { used: number; remaining: number } };
    expect(usage.quota).toMatchObject({ used: 10, remaining: 0 });

    expect((await admin("PATCH", `/keys/${id}`, { plan: "roomy" })).status).toBe(200);
    expect(await use(key)).toBe(200);

    const rotated = JSON.parse((await admin("POST", `/keys/${id}/rotate`)).text) as { key: string };
    expect(await use(key)).toBe(401);
    expect(await use(rotated.key)).toBe(200);

    expect((await admin("POST", `/keys/${id}/revoke`)).status).toBe(200);
    expect(await use(rotated.key)).toBe(403);

    const listed = await admin("GET", "/keys?owner=e2e-owner");
    expect(listed.text).toContain(id);
    for (const secret of [key, rotated.key]) {
      expect(listed.text).not.toContain(secret.slice(3));
      expect(e2e.gateway.output()).not.toContain(secret.slice(3));
    }
    expect(e2e.gateway.output()).toContain(`"path":"/_gateway/keys/${id}/revoke"`); // the access log ran
  });
});
