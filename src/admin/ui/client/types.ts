/** The admin API's answers, as the console reads them (src/admin/). */

export interface KeyView {
  id: string;
  name: string;
  owner: string;
  plan: string;
  scopes: string[];
  status: "active" | "disabled" | "revoked";
  createdAt: string;
  updatedAt: string;
  expiresAt: string | null;
  /** Only in the answer to create and rotate. */
  key?: string;
}

export interface KeyPage { keys: KeyView[]; nextCursor: string | null }

export interface Usage {
  keyId: string;
  plan: string;
  rate: { limit: number; perMs: number; burst: number; used: number; remaining: number; fullAt: string } | null;
  quota: { limit: number; period: string; used: number; remaining: number; periodStart: string; periodEnd: string } | null;
}

export interface Plan {
  name: string;
  rate: { limit: number; per: string; burst: number } | null;
  quota: { limit: number; per: string } | null;
  onLimiterError: string;
}

export interface RouteView {
  id: string;
  path: string;
  host?: string;
  methods?: string[];
  auth: "none" | Record<string, unknown>;
  origin: ({ name: string; url?: string; [key: string]: unknown }) | null;
  policies: string[];
  [field: string]: unknown;
}

export interface RoomEntry { room: string; connections: number; updatedAt: string; live: boolean }

export interface ConnectionInfo {
  id: string;
  sub: string | null;
  claims: Record<string, unknown>;
  joinedAt: string;
  lastSeenAt: string;
  expiresAt: string | null;
}

/** `GET /upstreams` (src/admin/upstreams.ts; docs/upstreams.md, "Seeing upstream health"). */
export interface UpstreamsAnswer {
  /** When the answer was made: the breaker states are as of this moment. */
  at: string;
  /** Whose breakers these are: the isolate that answered ("this isolate"). */
  breakerScope: string;
  origins: UpstreamOrigin[];
}

export interface UpstreamOrigin {
  name: string;
  kind: "targets" | "url" | "service";
  stickyBy: string | null;
  retries: { attempts: number; on: (string | number)[]; budgetPercent: number } | null;
  circuitBreaker: { consecutiveFailures: number; openSec: number } | null;
  healthCheck: { path: string; intervalSec: number; timeoutMs: number; unhealthyAfter: number; healthyAfter: number } | null;
  targets: UpstreamTarget[];
}

export interface UpstreamTarget {
  /** As the access log names it: host[:port][/path], or service:NAME. */
  label: string;
  url?: string;
  service?: string;
  /** 0: drained. */
  weight: number;
  health: TargetHealth;
  /** null: the origin has no circuitBreaker. */
  breaker: { state: "closed" | "open" | "half-open"; openUntil: string | null; failures: number } | null;
}

/** `{ checked: false }` without a healthCheck; otherwise the board's verdict (times null: not probed yet). */
export type TargetHealth =
  | { checked: false }
  | { checked: true; healthy: boolean; failures: number; successes: number; checkedAt: string | null; validUntil: string | null; detail: string | null; stale: boolean };
