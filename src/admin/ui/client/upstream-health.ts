/**
 * What the Upstreams page shows, without the DOM (tested against the real answer of
 * `GET <admin>/upstreams` in workerd: test/worker/console-upstreams.test.ts):
 *
 * - `readUpstreams` checks the answer's shape (docs/upstreams.md, "Seeing upstream health") and
 *   answers null for anything else, so a console and a gateway of different versions show the
 *   error `unreadable_answer` with the request id rather than a table of blanks.
 * - The words for each state. An out state (unhealthy, circuit open) is said in words, not by
 *   colour alone; a stale verdict says that forwarding ignores it, since the board's own rule is
 *   that a verdict past its `validUntil` is not applied.
 */
import { dateTime, number } from "./format.ts";
import type { TargetHealth, UpstreamOrigin, UpstreamsAnswer, UpstreamTarget } from "./types.ts";

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const isStr = (v: unknown): v is string => typeof v === "string";
const isTime = (v: unknown): v is string => isStr(v) && !Number.isNaN(Date.parse(v));
const timeOrNull = (v: unknown): v is string | null => v === null || isTime(v);
const orNull = <T>(v: unknown, check: (v: Record<string, unknown>) => boolean): v is T | null => v === null || (isObject(v) && check(v));

function isHealth(v: unknown): v is TargetHealth {
  if (!isObject(v) || typeof v.checked !== "boolean") return false;
  if (!v.checked) return true;
  return typeof v.healthy === "boolean" && isNum(v.failures) && isNum(v.successes) && timeOrNull(v.checkedAt)
    && timeOrNull(v.validUntil) && (v.detail === null || isStr(v.detail)) && typeof v.stale === "boolean";
}

function isTarget(v: unknown): v is UpstreamTarget {
  return isObject(v) && isStr(v.label) && isNum(v.weight) && (v.url === undefined || isStr(v.url)) && (v.service === undefined || isStr(v.service))
    && isHealth(v.health)
    && orNull(v.breaker, (b) => (b.state === "closed" || b.state === "open" || b.state === "half-open") && timeOrNull(b.openUntil) && isNum(b.failures));
}

function isOrigin(v: unknown): v is UpstreamOrigin {
  return isObject(v) && isStr(v.name) && (v.kind === "targets" || v.kind === "url" || v.kind === "service")
    && (v.stickyBy === null || isStr(v.stickyBy))
    && orNull(v.retries, (r) => isNum(r.attempts) && Array.isArray(r.on) && isNum(r.budgetPercent))
    && orNull(v.circuitBreaker, (b) => isNum(b.consecutiveFailures) && isNum(b.openSec))
    && orNull(v.healthCheck, (h) => isStr(h.path) && isNum(h.intervalSec) && isNum(h.timeoutMs) && isNum(h.unhealthyAfter) && isNum(h.healthyAfter))
    && Array.isArray(v.targets) && v.targets.every(isTarget);
}

/** The answer of `GET /upstreams`, or null when it is not in the shape this console reads. */
export function readUpstreams(json: unknown): UpstreamsAnswer | null {
  if (!isObject(json) || !isTime(json.at) || !isStr(json.breakerScope) || !Array.isArray(json.origins) || !json.origins.every(isOrigin)) return null;
  return json as unknown as UpstreamsAnswer;
}

const plural = (n: number, one: string, many = `${one}s`) => `${number(n)} ${n === 1 ? one : many}`;

/** The origin's settings in one line: kind, stickiness, retries, breaker, health check. */
export function settingsLine(origin: UpstreamOrigin): string {
  const kind = origin.kind === "targets" ? `${plural(origin.targets.length, "target")} by weight` : origin.kind === "url" ? "one URL" : "one service binding";
  const { retries: r, circuitBreaker: b, healthCheck: h } = origin;
  return [
    kind,
    origin.stickyBy ? `sticky by ${origin.stickyBy}` : "not sticky",
    r ? `retries: ${plural(r.attempts, "attempt")} on ${r.on.join(", ")}, budget ${number(r.budgetPercent)} %` : "no retries",
    b ? `breaker: opens after ${plural(b.consecutiveFailures, "failure")} in a row, for ${number(b.openSec)} s` : "no circuit breaker",
    h ? `health check: GET ${h.path} every ${number(h.intervalSec)} s (timeout ${number(h.timeoutMs)} ms), unhealthy after ${h.unhealthyAfter}, healthy after ${h.healthyAfter}` : "no health check",
  ].join(" · ");
}

export type Tone = "ok" | "out" | "quiet";

/** The health cell: a word, whether it is an out state, and a note. */
export function healthWords(health: TargetHealth): { text: string; tone: Tone; note: string | null } {
  if (!health.checked) return { text: "Not checked", tone: "quiet", note: "the origin has no health check" };
  if (health.checkedAt === null) return { text: "Not probed yet", tone: "quiet", note: "counted healthy until the first probe" };
  const verdict = health.healthy ? "Healthy" : "Unhealthy";
  if (health.stale) return { text: `Stale: ${verdict.toLowerCase()}`, tone: "quiet", note: `last probe ${dateTime(health.checkedAt)}, valid until ${dateTime(health.validUntil)}: forwarding ignores this verdict` };
  return health.healthy
    ? { text: "Healthy", tone: "ok", note: `${plural(health.successes, "probe")} passed in a row` }
    : { text: "Unhealthy", tone: "out", note: `${plural(health.failures, "probe")} failed in a row; kept out of traffic (verdict valid until ${dateTime(health.validUntil)})` };
}

/** The last probe's result in words (its status, `connect`, `timeout` or `no_binding`). */
export function probeWords(health: TargetHealth): string {
  if (!health.checked || health.detail === null) return "—";
  const d = health.detail;
  if (/^\d{3}$/.test(d)) return `HTTP ${d}`;
  if (d === "connect") return "could not connect (connect)";
  if (d === "timeout") return "no answer in time (timeout)";
  if (d === "no_binding") return "service binding missing (no_binding)";
  return d;
}

/** The breaker cell: `null` breaker is an origin without one. */
export function breakerWords(breaker: UpstreamTarget["breaker"]): { text: string; tone: Tone; note: string | null } {
  if (breaker === null) return { text: "None", tone: "quiet", note: null };
  if (breaker.state === "open") return { text: "Open", tone: "out", note: `skipped until ${dateTime(breaker.openUntil)}` };
  if (breaker.state === "half-open") return { text: "Half-open", tone: "quiet", note: `open period ended ${dateTime(breaker.openUntil)}; the next request is the probe` };
  return { text: "Closed", tone: "ok", note: breaker.failures > 0 ? `${plural(breaker.failures, "failure")} in a row` : null };
}

/** Is the target out of rotation as this answer sees it: drained, fresh unhealthy verdict, or open circuit? */
export function isOut(target: UpstreamTarget): boolean {
  const unhealthy = target.health.checked && !target.health.healthy && !target.health.stale;
  return target.weight === 0 || unhealthy || target.breaker?.state === "open";
}
