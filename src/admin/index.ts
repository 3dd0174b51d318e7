/**
 * The management API under `admin.pathPrefix` (default /_gateway), for operators and backends.
 * Every call needs `Authorization: Bearer <token>` where the token is the Worker secret named by
 * `admin.token`; it is compared in constant time. With the secret unset the API is off (404).
 * The console's page and assets under `/ui` are the exception: public, so the page can ask for
 * the token (src/admin/ui/index.ts).
 */
import { Hono } from "hono";
import type { SecretRef } from "../config/common.ts";
import type { GatewayEnv } from "../context.ts";
import type { RequiredSecret } from "../policy.ts";
import { coreErrors, defineErrors } from "../errors.ts";
import type { PlanConfig } from "../quota/index.ts";
import type { ExportableTable } from "../openapi/export.ts";
import type { RequestRecorder } from "../observe.ts";
import type { CompiledOrigin } from "../upstream/index.ts";
import { createCacheApi, type CachedRouteInfo } from "./cache.ts";
import { createKeysApi } from "./keys.ts";
import { createMetricsApi } from "./metrics.ts";
import { createOpenApiApi } from "./openapi.ts";
import { createRoomsApi } from "./rooms.ts";
import { createConsoleUi, type ConsoleAssets } from "./ui/index.ts";
import { createPlansApi, createRoutesApi, type CompiledRouteInfo, type TableViewSource } from "./table.ts";
import { createUpstreamsApi } from "./upstreams.ts";

const adminErrors = defineErrors("admin", {
  admin_unauthorized: { status: 401, meaning: "The admin API needs `Authorization: Bearer <token>` with the admin token." },
});

/** What the admin API reads of the route table (the OpenAPI export reads all of it). */
export interface AdminTable extends ExportableTable { plans?: Record<string, PlanConfig>; routes: readonly CachedRouteInfo[] & ExportableTable["routes"] & TableViewSource["routes"] }

/** The admin token, as the startup check reports it when it is not set. */
export function adminSecrets(admin: { token: SecretRef } | undefined): RequiredSecret[] {
  return admin ? [{ name: admin.token.env, consequence: "the admin API is off (its paths answer 404)" }] : [];
}

export type { ConsoleAssets };

export interface AdminOptions {
  /** The gateway's metrics recorder: the metrics endpoints flush it before they read. */
  recorder?: RequestRecorder | undefined;
  /** Each route's policy chain, in order, as the router compiled it (the routes view shows it). */
  compiled?: readonly CompiledRouteInfo[];
  /** Every origin as the router compiled it, with its targets' live circuit breakers (the upstreams view reads them). */
  origins?: ReadonlyMap<string, CompiledOrigin>;
  /** The console's built browser code; without them there is no console page. */
  console?: ConsoleAssets | undefined;
}

export function createAdminApi(table: AdminTable & Pick<TableViewSource, "origins">, admin: { token: SecretRef; pathPrefix: string }, options: AdminOptions = {}) {
  const consoleAssets = options.console;
  const api = new Hono<GatewayEnv>();
  // The console's page and assets, registered before the token check so they answer without it
  // (the page is the sign-in form; its API calls carry the token). Everything after is behind it.
  if (consoleAssets) {
    // With a trailing slash: the page's one address, so bookmarks and relative links agree.
    api.get("/ui/", (c) => c.redirect(`${admin.pathPrefix}/ui`, 308));
    api.route("/ui", createConsoleUi(admin.pathPrefix, admin, consoleAssets));
  }
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
  // the OpenAPI export and metrics: issue 13; upstream health: after issue 11).
  api.route("/keys", createKeysApi({ plans: table.plans ?? {} }));
  api.route("/rooms", createRoomsApi());
  api.route("/openapi.json", createOpenApiApi(table));
  api.route("/cache", createCacheApi(table.routes));
  api.route("/metrics", createMetricsApi(options.recorder));
  api.route("/plans", createPlansApi(table.plans ?? {}));
  api.route("/routes", createRoutesApi(table, options.compiled ?? []));
  api.route("/upstreams", createUpstreamsApi(table.origins, options.origins ?? new Map()));
  api.all("*", () => { throw coreErrors.not_found("No admin endpoint here."); });
  return api;
}

/** Compares digests, so neither length nor content leaks through timing. */
export async function constantTimeEqual(a: string, b: string): Promise<boolean> {
  const enc = new TextEncoder();
  const [da, db] = await Promise.all([crypto.subtle.digest("SHA-256", enc.encode(a)), crypto.subtle.digest("SHA-256", enc.encode(b))]);
  return crypto.subtle.timingSafeEqual(da, db);
}
