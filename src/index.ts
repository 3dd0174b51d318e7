/**
 * Worker entry. The route table is bundled at build time: wrangler's [build] step validates the
 * chosen file and writes the parsed table to .gateway/routes.json (aliased as @edge-gateway/routes),
 * and it is compiled here once per isolate with the policy list. A table that did not come through
 * the build step is validated here; an invalid one throws at startup, so the Worker refuses to run
 * rather than serve a half-understood table.
 *
 * `fetch` serves requests (the Hono app); `scheduled` runs the upstream health checks the table
 * asks for from the Cron Trigger in wrangler.toml (src/health).
 * The console's browser code comes the same way as the table, built by the [build] step into
 * .gateway/console.js (@edge-gateway/console; tools/console.ts).
 */
import * as consoleAssets from "@edge-gateway/console";
import table from "@edge-gateway/routes";
import { createGateway } from "./app.ts";
import { bundledRouteTable } from "./config/index.ts";
import type { GatewayBindings } from "./context.ts";
import { healthCheckHandler } from "./health/index.ts";
import { MetricsRecorder } from "./metrics/index.ts";
import { POLICIES } from "./policies/index.ts";

// The recorder is the metrics service's, handed to the core like the policy list (src/observe.ts):
// one per isolate, counting in module memory.
const routes = bundledRouteTable(table);
const app = createGateway(routes, { policies: POLICIES, recorder: new MetricsRecorder(), console: consoleAssets });

export default {
  fetch: app.fetch,
  scheduled: healthCheckHandler(routes.origins),
} satisfies ExportedHandler<GatewayBindings>;

export { CachePurges } from "./cache/durable_object.ts";
export { KeyStore } from "./keys/durable_object.ts";
export { MetricsShard } from "./metrics/durable_object.ts";
export { QuotaCounter } from "./quota/durable_object.ts";
export { RoomObject } from "./rooms/durable_object.ts";
export { TargetHealth } from "./health/durable_object.ts";
export { RoomsIndex } from "./rooms/rooms_index.ts";
