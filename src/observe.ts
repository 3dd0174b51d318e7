/**
 * What the core hands to an observer of traffic: once per request to the gateway's routes (not the
 * admin API), after the response is final, the access entry of src/log.ts. The Worker entry passes
 * the metrics service's recorder (src/metrics/) into createGateway, as it passes the policy list;
 * the core names no capability, and a gateway built without a recorder (most tests) records nothing.
 */
import type { GatewayContext } from "./context.ts";
import type { RequestLog } from "./log.ts";

export interface RequestRecorder {
  /**
   * Counts one request. Runs on the request's path, so it must be synchronous, do no I/O and
   * never throw; anything it sends later goes through the request's waitUntil.
   * `startedAt` is the request's start in ms since the epoch.
   */
  record(c: GatewayContext, entry: RequestLog, startedAt: number): void;
  /** Sends what this isolate holds now (the admin API calls it before it reads the metrics). */
  flush(c: GatewayContext): Promise<void>;
}
