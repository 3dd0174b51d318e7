/**
 * The health-check service: the TargetHealth Durable Object (the board), its client with the
 * isolate's cached view that forwarding reads, and the checker the Worker's `scheduled` handler runs.
 */
// The Durable Object class is exported by the Worker entry from ./durable_object.ts; only types here.
export type { ProbeResult, StateChange, TargetHealth, TargetHealthState } from "./durable_object.ts";
export { forgetHealthView, HEALTH_BOARD_NAME, HEALTH_REFRESH_MS, healthStates, recordProbes, unhealthyTargets, type HealthBoardNamespace } from "./client.ts";
export { checkedTargets, healthCheckHandler, probe, probeOffsets, runHealthChecks, SERVICE_PROBE_HOST, type CheckedTarget, type HealthCheckOptions } from "./checker.ts";
export { healthKey } from "./keys.ts";
