/**
 * Worker entry. The route table is bundled at build time: wrangler's [build] step validates the
 * chosen file and writes the parsed table to .gateway/routes.json (aliased as @edge-gateway/routes),
 * and it is compiled here once per isolate with the policy list. A table that did not come through
 * the build step is validated here; an invalid one throws at startup, so the Worker refuses to run
 * rather than serve a half-understood table. The console's browser code comes the same way, built
 * by the [build] step into .gateway/console.js (@edge-gateway/console; tools/console.ts).
 */
import * as consoleAssets from "@edge-gateway/console";
import table from "@edge-gateway/routes";
import { createGateway } from "./app.ts";
import { bundledRouteTable } from "./config/index.ts";
import { POLICIES } from "./policies/index.ts";

const app = createGateway(bundledRouteTable(table), { policies: POLICIES, console: consoleAssets });

export default app;

export { CachePurges } from "./cache/durable_object.ts";
export { KeyStore } from "./keys/durable_object.ts";
export { QuotaCounter } from "./quota/durable_object.ts";
export { RoomObject } from "./rooms/durable_object.ts";
export { RoomsIndex } from "./rooms/rooms_index.ts";
