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
