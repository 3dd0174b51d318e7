/**
 * The management API under `admin.pathPrefix` (default /_gateway), for operators and backends.
 * Every call needs `Authorization: Bearer <token>` where the token is the Worker secret named by
 * `admin.token`; it is compared in constant time. With the secret unset the API is off (404).
 */
import { Hono } from "hono";
import type { SecretRef } from "../config/common.ts";
import type { RouteTable } from "../config/index.ts";
import { GatewayError } from "../errors.ts";
import type { GatewayEnv } from "../types.ts";
import { createKeysApi } from "./keys.ts";
import { createRoomsApi } from "./rooms.ts";

export function createAdminApi(table: RouteTable, admin: { token: SecretRef }) {
  const api = new Hono<GatewayEnv>();
  api.use(async function adminAuth(c, next) {
    const expected = c.env?.[admin.token.env];
    if (typeof expected !== "string" || expected.length === 0) throw new GatewayError(404, "not_found", "No route matches this request.");
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer ([\x21-\x7e]+)$/i.exec(header);
    if (!match || !(await constantTimeEqual(match[1]!, expected))) {
      throw new GatewayError(401, "admin_unauthorized", "A valid admin token is required.", { "www-authenticate": `Bearer realm="gateway-admin"` });
    }
    await next();
  });
  // Capabilities mount their endpoints here (keys and usage: issue 4; rooms push API: issue 5).
  api.route("/keys", createKeysApi(table));
  void table;
  api.route("/rooms", createRoomsApi());
  api.all("*", () => { throw new GatewayError(404, "not_found", "No admin endpoint here."); });
  return api;
}

/** Compares digests, so neither length nor content leaks through timing. */
export async function constantTimeEqual(a: string, b: string): Promise<boolean> {
  const enc = new TextEncoder();
  const [da, db] = await Promise.all([crypto.subtle.digest("SHA-256", enc.encode(a)), crypto.subtle.digest("SHA-256", enc.encode(b))]);
  return crypto.subtle.timingSafeEqual(da, db);
}
