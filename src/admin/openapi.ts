/**
 * `GET <admin prefix>/openapi.json`: the route table as an OpenAPI 3.1 document (src/openapi/),
 * behind the admin token like every admin endpoint. The document describes the gateway's routes,
 * not the admin API. It is built on the first call and kept for the isolate's life: the table
 * cannot change under a running isolate, and most isolates are never asked, so building it at
 * startup would cost every isolate for nothing. `servers` is the origin the caller used.
 */
import { Hono } from "hono";
import type { GatewayEnv } from "../context.ts";
import { exportOpenApi, type ExportableTable } from "../openapi/export.ts";

export function createOpenApiApi(table: ExportableTable) {
  const api = new Hono<GatewayEnv>();
  const documents = new Map<string, string>(); // server URL -> the document's JSON text
  api.get("/", (c) => {
    const serverUrl = new URL(c.req.url).origin;
    let text = documents.get(serverUrl);
    if (text === undefined) {
      // One entry per host the admin API is called on; a handful at most, but bound it anyway:
      // 1,000 routes make a 2.1 MB document (docs/openapi.md).
      if (documents.size >= 4) documents.clear();
      documents.set(serverUrl, (text = JSON.stringify(exportOpenApi(table, { serverUrl }))));
    }
    return c.body(text, 200, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
  });
  return api;
}
