/**
 * The management API under `admin.pathPrefix` (default /_gateway), for operators and backends.
 * Every call needs `Authorization: Bearer <token>` where the token is the Worker secret named by
 * `admin.token`; it is compared in constant time. With the secret unset the API is off (404).
 */
import { Hono } from "hono";
import type { SecretRef } from "../config/common.ts";
import type { GatewayEnv } from "../context.ts";
import { coreErrors, defineErrors } from "../errors.ts";
import type { PlanConfig } from "../quota/index.ts";
import type { ExportableTable } from "../openapi/export.ts";
import { createKeysApi } from "./keys.ts";
import { createOpenApiApi } from "./openapi.ts";
import { createRoomsApi } from "./rooms.ts";

const adminErrors = defineErrors("admin", {
  admin_unauthorized: { status: 401, meaning: "The admin API needs `Authorization: Bearer <token>` with the admin token." },
});

/** What the admin API reads of the route table (the OpenAPI export reads all of it). */
export interface AdminTable extends ExportableTable { plans?: Record<string, PlanConfig> }

export function createAdminApi(table: AdminTable, admin: { token: SecretRef }) {
  const api = new Hono<GatewayEnv>();
  api.use(async function adminAuth(c, next) {
    const expected = c.env?.[admin.token.env];
    if (typeof expected !== "string" || expected.length === 0) throw coreErrors.not_found("No route matches this request.");
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer ([\x21-\x7e]+)$/i.exec(header);
    if (!match || !(await constantTimeEqual(match[1]!, expected))) {
      throw adminErrors.admin_unauthorized("A valid admin token is required.", { "www-authenticate": `Bearer realm="gateway-admin"` });
    }
    await next();
  });
  // Capabilities mount their endpoints here (keys and usage: issue 4; rooms push API: issue 5;
  // the OpenAPI export: issue 13).
  api.route("/keys", createKeysApi({ plans: table.plans ?? {} }));
  api.route("/rooms", createRoomsApi());
  api.route("/openapi.json", createOpenApiApi(table));
  api.all("*", () => { throw coreErrors.not_found("No admin endpoint here."); });
  return api;
}

/** Compares digests, so neither length nor content leaks through timing. */
export async function constantTimeEqual(a: string, b: string): Promise<boolean> {
  const enc = new TextEncoder();
  const [da, db] = await Promise.all([crypto.subtle.digest("SHA-256", enc.encode(a)), crypto.subtle.digest("SHA-256", enc.encode(b))]);
  return crypto.subtle.timingSafeEqual(da, db);
}
