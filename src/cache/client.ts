/**
 * The edge cache's view of purges, per isolate: the CachePurges snapshot, read at most once per
 * PURGE_CHECK_MS (the first cacheable request after that waits for one Durable Object call; every
 * other request reads module memory). A purge therefore reaches every isolate within
 * PURGE_CHECK_MS plus one call. When the object cannot be read, `purgeView` answers undefined
 * and the caller bypasses the cache (serves from the origin, stores nothing) until it can: a purge
 * the isolate might not know of is never served around. Failed reads are retried at most once per
 * RETRY_MS, so an outage does not put a call on every request.
 *
 * Only plain data is shared between requests (the platform forbids sharing I/O objects and warns
 * that a promise awaited across requests can hang), so concurrent requests in the refresh window
 * may each make the call; the snapshot they get is the same.
 */
import { callWithOneRetry } from "../durable.ts";
import { errorText, logEvent } from "../errors.ts";
import type { CachePurges, PurgeResult, PurgeSnapshot } from "./durable_object.ts";
import { PURGE_CHECK_MS } from "./limits.ts";

export type PurgeNamespace = DurableObjectNamespace<CachePurges>;

const CALL_TIMEOUT_MS = 1_000;
const RETRY_MS = 1_000;
const OBJECT_NAME = "purges";

export interface PurgeView {
  route(route: string): number;
  path(route: string, path: string): number;
}

class SnapshotView implements PurgeView {
  readonly version: number;
  readonly #routes: Map<string, number>;
  readonly #paths: Map<string, number>;
  constructor(snapshot: PurgeSnapshot) {
    this.version = snapshot.version;
    this.#routes = new Map(Object.entries(snapshot.routes));
    this.#paths = new Map(snapshot.paths.map(([route, path, generation]) => [`${route}\n${path}`, generation]));
  }
  route(route: string): number { return this.#routes.get(route) ?? 0; }
  path(route: string, path: string): number { return this.#paths.size === 0 ? 0 : this.#paths.get(`${route}\n${path}`) ?? 0; }
}

const EMPTY = new SnapshotView({ version: 0, routes: {}, paths: [] });
let current: { view: SnapshotView; checkedAt: number } | undefined;
let failedAt = -Infinity;

const stub = (ns: PurgeNamespace) => ns.get(ns.idFromName(OBJECT_NAME));

/** The purge generations, at most PURGE_CHECK_MS old; undefined when they cannot be known now. */
export async function purgeView(ns: PurgeNamespace, now = Date.now()): Promise<PurgeView | undefined> {
  if (current && now - current.checkedAt < PURGE_CHECK_MS) return current.view;
  if (now - failedAt < RETRY_MS) return undefined;
  const known = current?.view ?? EMPTY;
  try {
    const snapshot = await callWithOneRetry(() => stub(ns).snapshot(known.version) as Promise<PurgeSnapshot | null>, CALL_TIMEOUT_MS);
    const view = snapshot ? new SnapshotView(snapshot) : known;
    current = { view, checkedAt: now };
    return view;
  } catch (err) {
    failedAt = now;
    logEvent("error", "cache_purges_unavailable", { error: errorText(err) });
    return undefined;
  }
}

/** Forgets this isolate's view, so its next request reads the object (after a purge made here, and in tests). */
export function forgetPurgeView(): void {
  current = undefined;
  failedAt = -Infinity;
}

export async function purgeRoute(ns: PurgeNamespace, route: string): Promise<PurgeResult> {
  const result = await callWithOneRetry(() => stub(ns).purgeRoute(route) as Promise<PurgeResult>, CALL_TIMEOUT_MS * 2);
  forgetPurgeView();
  return result;
}

export async function purgePath(ns: PurgeNamespace, route: string, path: string, keepUntil: number): Promise<PurgeResult> {
  const result = await callWithOneRetry(() => stub(ns).purgePath(route, path, keepUntil) as Promise<PurgeResult>, CALL_TIMEOUT_MS * 2);
  forgetPurgeView();
  return result;
}
