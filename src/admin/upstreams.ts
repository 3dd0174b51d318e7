/**
 * `GET <admin prefix>/upstreams` (behind the admin token): every origin of the table, in table
 * order, with its targets, each with its health-check verdict from the health board and its
 * circuit breaker's state in the isolate that answers. docs/upstreams.md, "Seeing upstream health",
 * describes every field.
 *
 * What can be known at startup (names, kinds, weights, settings, which breaker belongs to which
 * target) is laid out once, when the admin API is built. A request reads the board once (one
 * Durable Object call, and none when no origin has a healthCheck) and each breaker's plain numbers;
 * nothing here is on the forwarding path.
 *
 * Breakers are per isolate by design (src/upstream/breaker.ts): the answer shows the answering
 * isolate's, and says so in `breakerScope`. Fields are copied one by one from the origin's settings
 * rather than spread, so a field added to origins later is not shown until someone decides it is
 * safe to (origins hold URLs and binding names today, never secrets or header values).
 */
import { Hono } from "hono";
import type { Origin } from "../config/origins.ts";
import type { GatewayContext, GatewayEnv } from "../context.ts";
import { defineErrors, errorText, logEvent } from "../errors.ts";
import { healthKey, healthStates, type HealthBoardNamespace, type TargetHealthState } from "../health/index.ts";
import type { CircuitBreaker, CompiledOrigin } from "../upstream/index.ts";

const upstreamsAdminErrors = defineErrors("admin", {
  health_board_unavailable: { status: 503, meaning: "The upstreams view could not read the health board (the TargetHealth object did not answer in time, or its UPSTREAM_HEALTH binding is missing); `Retry-After` says when to retry." },
});

/** Where the breaker states in an answer come from. */
export const BREAKER_SCOPE = "this isolate";

interface TargetLayout {
  /** As the access log names the target: host[:port][/path], or service:NAME. */
  label: string;
  /** Its name on the health board. */
  key: string;
  address: { url: string } | { service: string };
  weight: number;
  breaker: CircuitBreaker | undefined;
}

interface OriginLayout {
  name: string;
  kind: "targets" | "url" | "service";
  stickyBy: string | null;
  retries: { attempts: number; on: (string | number)[]; budgetPercent: number } | null;
  circuitBreaker: { consecutiveFailures: number; openSec: number } | null;
  healthCheck: { path: string; intervalSec: number; timeoutMs: number; unhealthyAfter: number; healthyAfter: number } | null;
  targets: TargetLayout[];
}

/** The origins as the answer lays them out, with each target's live breaker (undefined: none). */
export function upstreamLayout(origins: Record<string, Origin>, compiled: ReadonlyMap<string, CompiledOrigin>): OriginLayout[] {
  return Object.entries(origins).map(([name, origin]): OriginLayout => {
    const built = compiled.get(name);
    const listed = origin.targets ?? [origin.service !== undefined ? { service: origin.service, weight: 1 } : { url: origin.url!, weight: 1 }];
    const { retries, circuitBreaker: breaker, healthCheck: check } = origin;
    return {
      name,
      kind: origin.targets !== undefined ? "targets" : origin.service !== undefined ? "service" : "url",
      stickyBy: origin.stickyBy ?? null,
      retries: retries ? { attempts: retries.attempts, on: [...retries.on], budgetPercent: retries.budgetPercent } : null,
      circuitBreaker: breaker ? { consecutiveFailures: breaker.consecutiveFailures, openSec: breaker.openSec } : null,
      healthCheck: check ? { path: check.path, intervalSec: check.intervalSec, timeoutMs: check.timeoutMs, unhealthyAfter: check.unhealthyAfter, healthyAfter: check.healthyAfter } : null,
      targets: listed.map((target, i): TargetLayout => {
        // The compiled target (same order as listed) for an origin beyond a plain url; a plain url
        // origin has no target list, no breaker, and its label is built the same way.
        const live = built?.upstream?.targets[i];
        const label = live?.label ?? (target.service !== undefined ? `service:${target.service}` : plainLabel(built, target.url!));
        return {
          label,
          key: healthKey(name, target),
          address: target.service !== undefined ? { service: target.service } : { url: target.url! },
          weight: target.weight,
          breaker: live?.breaker,
        };
      }),
    };
  });
}

function plainLabel(built: CompiledOrigin | undefined, url: string): string {
  if (built !== undefined && built.base !== "") return new URL(built.base).host + built.basePath;
  const parsed = new URL(url);
  return parsed.host + parsed.pathname.replace(/\/+$/, "");
}

const iso = (ms: number) => new Date(ms).toISOString();

function healthOf(checked: boolean, state: TargetHealthState | undefined, now: number) {
  if (!checked) return { checked: false };
  // A health-checked target the checker has not probed yet: the board starts every target healthy.
  if (state === undefined) return { checked: true, healthy: true, failures: 0, successes: 0, checkedAt: null, validUntil: null, detail: null, stale: false };
  return {
    checked: true,
    healthy: state.healthy,
    failures: state.failures,
    successes: state.successes,
    checkedAt: iso(state.checkedAt),
    validUntil: iso(state.validUntil),
    detail: state.detail,
    // The board's own rule (TargetHealth.unhealthy): a verdict past validUntil is not applied, so
    // an unhealthy target shown stale is getting traffic again.
    stale: state.validUntil <= now,
  };
}

function breakerOf(breaker: CircuitBreaker | undefined, now: number) {
  if (breaker === undefined) return null;
  return { state: breaker.stateAt(now), openUntil: breaker.openUntil === 0 ? null : iso(breaker.openUntil), failures: breaker.failures };
}

/** One read of the whole board: target key -> its state. A failure is the 503, never a 500. */
async function readBoard(c: GatewayContext): Promise<Map<string, TargetHealthState>> {
  const ns: HealthBoardNamespace | undefined = c.env.UPSTREAM_HEALTH;
  const unavailable = (error: string) => {
    logEvent("error", "health_board_unavailable", { requestId: c.get("requestId"), error });
    return upstreamsAdminErrors.health_board_unavailable("The health board cannot be read right now; try again shortly.", { "retry-after": "1" });
  };
  if (ns === undefined) throw unavailable("the UPSTREAM_HEALTH binding is missing");
  try {
    return new Map((await healthStates(ns)).map((state) => [state.key, state]));
  } catch (err) {
    throw unavailable(errorText(err));
  }
}

export function createUpstreamsApi(origins: Record<string, Origin>, compiled: ReadonlyMap<string, CompiledOrigin>) {
  const layout = upstreamLayout(origins, compiled);
  const anyChecked = layout.some((o) => o.healthCheck !== null);
  const api = new Hono<GatewayEnv>();
  api.get("/", async (c) => {
    const board = anyChecked ? await readBoard(c) : new Map<string, TargetHealthState>();
    const now = Date.now();
    return c.json({
      at: iso(now),
      breakerScope: BREAKER_SCOPE,
      origins: layout.map(({ targets, ...origin }) => ({
        ...origin,
        targets: targets.map((t) => ({
          label: t.label,
          ...t.address,
          weight: t.weight,
          health: healthOf(origin.healthCheck !== null, board.get(t.key), now),
          breaker: breakerOf(t.breaker, now),
        })),
      })),
    }, 200, { "cache-control": "no-store" });
  });
  return api;
}
