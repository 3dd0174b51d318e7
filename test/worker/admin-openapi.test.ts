/** `GET /_gateway/openapi.json`: the OpenAPI export served by the Worker, behind the admin token. */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { loadRouteTable } from "../../src/config/index.ts";
import { exportOpenApi } from "../../src/openapi/export.ts";
import { ADMIN_HEADERS, errorOf, gatewayFor, route } from "../support/worker-gateway.ts";

const table = {
  authorizers: { main: { type: "jwt", issuer: "https://auth.example.com/", audience: "api", algorithms: ["RS256"], jwksUrl: "https://auth.example.com/.well-known/jwks.json" } },
  plans: { free: { rate: { limit: 10, per: "1s" } } },
  admin: { token: { env: "ADMIN_TOKEN" } },
  routes: [
    route("users.get", "/v1/users/:id", { methods: ["GET"], auth: { authorizer: "main", scopes: ["users:read"] }, rateLimit: { plan: "free", by: "jwt:sub" } }),
    route("files", "/files/*", { auth: { apiKey: true } }),
  ],
};
const call = gatewayFor(table);

describe("GET /_gateway/openapi.json", () => {
  it("needs the admin token", async () => {
    for (const headers of [{}, { authorization: "Bearer wrong" }] as Record<string, string>[]) {
      const response = await call("/_gateway/openapi.json", { headers });
      expect(response.status).toBe(401);
      expect((await errorOf(response)).code).toBe("admin_unauthorized");
    }
  });

  it("answers the table's OpenAPI 3.1 document, built in the Worker, with the caller's origin as its server", async () => {
    const response = await call("/_gateway/openapi.json", { headers: ADMIN_HEADERS, host: "api.example.com" });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/json; charset=utf-8");
    const doc = await response.json<Record<string, any>>();
    const expected = exportOpenApi(loadRouteTable({ ...table, origins: { echo: { url: env.ECHO_ORIGIN } } }), { serverUrl: "http://api.example.com" });
    expect(doc).toEqual(expected);
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.paths["/v1/users/{id}"].get.security).toEqual([{ "jwt-main": ["users:read"] }]);
    expect(Object.keys(doc.paths["/v1/users/{id}"].get.responses)).toContain("429");
    // The echo origin's address is the operator's, not the client's.
    expect(JSON.stringify(doc)).not.toContain(env.ECHO_ORIGIN);
  });

  it("answers the same document on a second call, and per host", async () => {
    const first = await (await call("/_gateway/openapi.json", { headers: ADMIN_HEADERS })).text();
    const second = await (await call("/_gateway/openapi.json", { headers: ADMIN_HEADERS })).text();
    expect(second).toBe(first);
    const other = await (await call("/_gateway/openapi.json", { headers: ADMIN_HEADERS, host: "other.example.com" })).json<{ servers: unknown }>();
    expect(other.servers).toEqual([{ url: "http://other.example.com" }]);
  });

  it("is only GET: other methods find no admin endpoint", async () => {
    const response = await call("/_gateway/openapi.json", { method: "POST", headers: ADMIN_HEADERS, body: "{}" });
    expect(response.status).toBe(404);
  });
});
