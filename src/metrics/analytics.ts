/**
 * Workers Analytics Engine: when the Worker has a dataset bound as GATEWAY_ANALYTICS
 * (`[[analytics_engine_datasets]]` in wrangler.toml; off by default), one data point per request,
 * written without waiting (writeDataPoint returns at once; the runtime sends it after the response).
 * The schema (which blob and double is what) is documented with example SQL in docs/metrics.md;
 * changing an order here breaks the operators' saved queries, so new fields are only appended.
 */
import { errorText, logEvent } from "../errors.ts";
import type { RequestLog } from "../log.ts";
import { UNROUTED } from "./schema.ts";

/** Analytics Engine's limit on the index (the sampling key). Route ids are ASCII, so characters are bytes. */
const INDEX_MAX_BYTES = 96;
const CLASSES = ["", "1xx", "2xx", "3xx", "4xx", "5xx"];
let failures = 0;

export function writeRequestPoint(dataset: AnalyticsEngineDataset, e: RequestLog): void {
  const route = e.routeId ?? UNROUTED;
  try {
    dataset.writeDataPoint({
      indexes: [route.slice(0, INDEX_MAX_BYTES)],
      blobs: [
        route, e.method, e.path, CLASSES[(e.status / 100) | 0] ?? "", e.code ?? "", e.keyId ?? "", e.sub ?? "",
        e.colo ?? "", e.cache ?? "", e.origin ?? "", e.traceId, e.requestId,
      ],
      doubles: [
        e.status, e.totalMs, e.originMs ?? -1, e.bytesIn ?? -1, e.bytesOut ?? -1,
        e.code !== undefined && e.status === 429 ? 1 : 0, e.code !== undefined ? 1 : 0,
      ],
    });
  } catch (err) {
    // Never fails the request; said once per 1,000 failures so a broken binding cannot flood the log.
    if (failures++ % 1000 === 0) logEvent("error", "analytics_write_failed", { error: errorText(err), failures });
  }
}
