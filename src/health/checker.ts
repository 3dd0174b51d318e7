/**
 * The active health checker, run by the Worker's `scheduled` handler from a once-a-minute Cron
 * Trigger (wrangler.toml `[triggers] crons`). Each run probes, within its minute, every target of
 * every origin with a `healthCheck`: at offsets 0, i, 2i, ... seconds for an interval i under a
 * minute, or once in every i/60 minutes for longer ones. A probe is a GET of the check's path on
 * the target (through its service binding for a Worker target) with the check's timeout, through
 * the same fetch as forwarding (no redirects followed); 2xx and 3xx pass. Each round's results go
 * to the health board in one call, which decides (with the thresholds) which targets are out.
 * With a sub-minute interval a run waits between its rounds (up to 50 s, idle, no CPU spent). That
 * assumes a Cron Trigger invocation may last that long (not verified here: no deploy; see
 * docs/upstreams.md); intervals of a minute or more never wait.
 */
import type { CoreTable } from "../config/core.ts";
import type { GatewayBindings } from "../context.ts";
import { errorText, GatewayError, logEvent } from "../errors.ts";
import { fetchOrigin, isFetcher, type OriginFetcher } from "../upstream/fetch.ts";
import { recordProbes, type HealthBoardNamespace } from "./client.ts";
import type { ProbeResult } from "./durable_object.ts";
import { healthKey } from "./keys.ts";

export interface CheckedTarget {
  key: string;
  origin: string;
  /** The URL probed (for a service target, the URL handed to its binding). */
  url: string;
  service: string | undefined;
  hostHeader: string | undefined;
  timeoutMs: number;
  intervalSec: number;
  unhealthyAfter: number;
  healthyAfter: number;
}

/** Host of the URL a service target is probed at when its origin sets no hostHeader. */
export const SERVICE_PROBE_HOST = "health-check.gateway.internal";

/** Every target of every origin with a healthCheck. */
export function checkedTargets(origins: CoreTable["origins"]): CheckedTarget[] {
  const out: CheckedTarget[] = [];
  for (const [name, origin] of Object.entries(origins)) {
    const check = origin.healthCheck;
    if (check === undefined) continue;
    const targets = origin.targets ?? [origin.service !== undefined ? { service: origin.service } : { url: origin.url }];
    for (const target of targets) {
      const url = target.service !== undefined
        ? `https://${origin.hostHeader ?? SERVICE_PROBE_HOST}${check.path}`
        : target.url!.replace(/\/+$/, "") + check.path;
      out.push({
        key: healthKey(name, target), origin: name, url, service: target.service, hostHeader: origin.hostHeader,
        timeoutMs: check.timeoutMs, intervalSec: check.intervalSec, unhealthyAfter: check.unhealthyAfter, healthyAfter: check.healthyAfter,
      });
    }
  }
  return out;
}

/** Seconds into the minute that starts at `minuteStart` (ms) at which a check every `intervalSec` probes. */
export function probeOffsets(intervalSec: number, minuteStart: number): number[] {
  if (intervalSec >= 60) return Math.floor(minuteStart / 60_000) % (intervalSec / 60) === 0 ? [0] : [];
  const offsets: number[] = [];
  for (let s = 0; s < 60; s += intervalSec) offsets.push(s);
  return offsets;
}

/**
 * An out verdict stands for three intervals (and at least three minutes) after its probe: long
 * enough to survive a late or skipped cron run, short enough that a stopped checker does not keep
 * a target out for long.
 */
const validForMs = (intervalSec: number) => Math.max(3 * intervalSec, 180) * 1000;

export async function probe(target: CheckedTarget, env: GatewayBindings): Promise<ProbeResult> {
  const result = (ok: boolean, detail: string): ProbeResult => ({
    key: target.key, ok, detail, unhealthyAfter: target.unhealthyAfter, healthyAfter: target.healthyAfter, validForMs: validForMs(target.intervalSec),
  });
  const headers = new Headers({ "user-agent": "edge-gateway-health-check" });
  if (target.hostHeader !== undefined && target.service === undefined) headers.set("host", target.hostHeader);
  let via: OriginFetcher | undefined;
  if (target.service !== undefined) {
    const binding: unknown = env[target.service];
    if (!isFetcher(binding)) return result(false, "no_binding");
    via = binding;
  }
  try {
    const response = await fetchOrigin(target.url, { method: "GET", headers }, target.timeoutMs, { via });
    response.body?.cancel().catch(() => {});
    return result(response.status >= 200 && response.status < 400, String(response.status));
  } catch (err) {
    return result(false, err instanceof GatewayError && err.code === "origin_timeout" ? "timeout" : "connect");
  }
}

export interface HealthCheckOptions {
  /** Waits until a round's time (tests pass their own clock). */
  sleep?: (ms: number) => Promise<void>;
}

const sleepFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One cron run: every round of probes due in the minute of `scheduledTime`, each recorded on the board. */
export async function runHealthChecks(targets: readonly CheckedTarget[], env: GatewayBindings, scheduledTime: number, options: HealthCheckOptions = {}): Promise<ProbeResult[][]> {
  const ns: HealthBoardNamespace | undefined = env.UPSTREAM_HEALTH;
  if (targets.length === 0 || ns === undefined) return [];
  const sleep = options.sleep ?? sleepFor;
  const minuteStart = Math.floor(scheduledTime / 60_000) * 60_000;
  const rounds = new Map<number, CheckedTarget[]>();
  for (const target of targets) for (const offset of probeOffsets(target.intervalSec, minuteStart)) {
    const round = rounds.get(offset);
    if (round) round.push(target);
    else rounds.set(offset, [target]);
  }
  const known = targets.map((t) => t.key);
  const done: ProbeResult[][] = [];
  for (const offset of [...rounds.keys()].sort((a, b) => a - b)) {
    const wait = minuteStart + offset * 1000 - Date.now();
    if (wait > 0) await sleep(wait);
    const results = await Promise.all(rounds.get(offset)!.map((target) => probe(target, env)));
    done.push(results);
    try {
      for (const change of await recordProbes(ns, results, known)) {
        logEvent(change.healthy ? "info" : "warn", change.healthy ? "target_healthy" : "target_unhealthy", { target: change.key, probe: change.detail });
      }
    } catch (err) {
      logEvent("error", "health_board_unavailable", { error: errorText(err) });
    }
  }
  return done;
}

/** The Worker's `scheduled` handler for a route table: runs the health checks the table asks for. */
export function healthCheckHandler(origins: CoreTable["origins"], options: HealthCheckOptions = {}): ExportedHandlerScheduledHandler<GatewayBindings> {
  const targets = checkedTargets(origins);
  return async function scheduled(controller, env) {
    await runHealthChecks(targets, env, controller.scheduledTime, options);
  };
}
