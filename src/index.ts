/**
 * Worker entry. The route table is bundled at build time (wrangler's [build] step validates the
 * chosen file and writes it to .gateway/routes.json, aliased as @edge-gateway/routes) and compiled
 * here once per isolate. An invalid table throws at startup: the Worker refuses to run rather than
 * serve a half-understood table.
 */
import table from "@edge-gateway/routes";
import { createGateway } from "./app.ts";
import { loadRouteTable } from "./config/index.ts";

const app = createGateway(loadRouteTable(table));

export default app;

export { KeyStore } from "./policies/api-key/durable_object.ts";
export { QuotaCounter } from "./quota/durable_object.ts";
export { RoomObject } from "./rooms/durable_object.ts";
