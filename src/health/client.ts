/**
 * Calling the health board (TargetHealth) from the Worker, and the isolate's cached view of it.
 *
 * Forwarding never waits for the board: a request reads the view the isolate already has (a map of
 * the targets that are out), and when that view is older than HEALTH_REFRESH_MS the request starts
 * one read in `waitUntil`, which later requests see. So an isolate reads the board at most once per
 * HEALTH_REFRESH_MS and only while it serves traffic to a health-checked origin; no request pays
 * for it. A new isolate trusts every target until its first read lands (milliseconds; the circuit
 * breaker covers that gap). A read that fails keeps the previous view and is tried again after the
 * same period. Only plain data is shared between requests (never a promise: see PLATFORM.md on
 * request contexts); a read that never finishes is given up after REFRESH_GIVE_UP_MS.
 */
import { withTimeout } from "../durable.ts";
import { errorText, logEvent } from "../errors.ts";
import type { ProbeResult, StateChange, TargetHealth, TargetHealthState } from "./durable_object.ts";

/** An isolate reads the board at most this often. */
export const HEALTH_REFRESH_MS = 5_000;
const REFRESH_GIVE_UP_MS = 10_000;
const BOARD_TIMEOUT_MS = 2_000;
/** The one board object's name. */
export const HEALTH_BOARD_NAME = "health-board";

export type HealthBoardNamespace = DurableObjectNamespace<TargetHealth>;

const board = (ns: HealthBoardNamespace) => ns.get(ns.idFromName(HEALTH_BOARD_NAME));

interface HealthView {
  /** Target key -> until when it is out (ms since the epoch). */
  down: ReadonlyMap<string, number>;
  fetchedAt: number;
  /** When the read in flight started; 0 when none is. */
  readingSince: number;
}

const view: HealthView = { down: new Map(), fetchedAt: -Infinity, readingSince: 0 };
let missingReported = false;

/**
 * The targets that are out, as this isolate last read them; starts a read in the background when
 * that view is stale. Never waits. `ns` undefined (the UPSTREAM_HEALTH binding is missing from this
 * environment of wrangler.toml): nothing is out, and the operator is told once per isolate.
 */
export function unhealthyTargets(ns: HealthBoardNamespace | undefined, waitUntil: ((p: Promise<unknown>) => void) | undefined, now: number): ReadonlyMap<string, number> {
  if (ns === undefined && !missingReported) {
    missingReported = true;
    logEvent("error", "health_board_missing", { binding: "UPSTREAM_HEALTH", effect: "health checks are not applied to forwarding" });
  }
  if (ns !== undefined && now - view.fetchedAt >= HEALTH_REFRESH_MS && (view.readingSince === 0 || now - view.readingSince > REFRESH_GIVE_UP_MS)) {
    view.readingSince = now;
    const read = withTimeout(board(ns).unhealthy() as Promise<{ key: string; until: number }[]>, BOARD_TIMEOUT_MS).then(
      (entries) => { view.down = new Map(entries.map((e) => [e.key, e.until])); },
      (err) => { logEvent("warn", "health_board_unavailable", { error: errorText(err) }); },
    ).finally(() => {
      view.fetchedAt = Date.now();
      view.readingSince = 0;
    });
    waitUntil?.(read);
  }
  return view.down;
}

/** Empties the isolate's view (tests; a new table). */
export function forgetHealthView(): void {
  view.down = new Map();
  view.fetchedAt = -Infinity;
  view.readingSince = 0;
}

/** Records a round of probes; no retry (a repeated round would count its probes twice). */
export async function recordProbes(ns: HealthBoardNamespace, results: ProbeResult[], known: string[]): Promise<StateChange[]> {
  return (await withTimeout(board(ns).record(results, known) as Promise<StateChange[]>, BOARD_TIMEOUT_MS)) as StateChange[];
}

/** Every target's state on the board. */
export async function healthStates(ns: HealthBoardNamespace): Promise<TargetHealthState[]> {
  return (await withTimeout(board(ns).states() as Promise<TargetHealthState[]>, BOARD_TIMEOUT_MS)) as TargetHealthState[];
}
