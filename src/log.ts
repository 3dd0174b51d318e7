/**
 * One structured JSON line per request on stdout, which `wrangler tail` and Workers Logs show as-is.
 * Never logs headers, query strings or bodies (tokens and keys travel there): only what the gateway
 * established itself. The same entry goes to the metrics recorder (src/observe.ts).
 */
import type { GatewayContext } from "./context.ts";
import { sha256Hex } from "./hex.ts";

export interface RequestLog {
  time: string;
  requestId: string;
  /** The W3C trace id the origin received (continued from the caller's traceparent, or new). */
  traceId: string;
  routeId: string | null;
  method: string;
  path: string;
  status: number;
  /** The gateway's error code, on an error the gateway answered. */
  code: string | undefined;
  origin: string | null;
  originMs: number | null;
  /** Origins with targets: the target that answered; each retry (target and outcome); a retry not made and why. */
  target?: string;
  retries?: { target: string; outcome: number | string }[];
  retryDenied?: string;
  totalMs: number;
  /** The verified API key's id (never the key). */
  keyId: string | undefined;
  /** The verified JWT's `sub`, as the table's `logging.sub` says: plain, hashed, or absent. */
  sub: string | undefined;
  /** The Cloudflare data center that served the request (`request.cf.colo`). */
  colo: string | undefined;
  /** The request body's size from its Content-Length; null when it streams without one. */
  bytesIn: number | null;
  /** The response body's size from its Content-Length; null when it streams without one. */
  bytesOut: number | null;
  /** What the gateway's edge cache did, from the last Cache-Status member (RFC 9211). */
  cache: CacheResult | undefined;
}

export type CacheResult = "hit" | "stale" | "miss";
export type SubjectMode = "plain" | "hash" | "off";

/** Prints the line. Members that are undefined (no code, no key, ...) are left out by JSON.stringify. */
export function logRequest(line: RequestLog): void {
  console.log(JSON.stringify(line));
}

/**
 * The access entry of a request whose response is final. `hashedSubject` is the subject as the
 * table's `logging.sub` shows it (see subjectForLog).
 */
export function accessEntry(c: GatewayContext, started: number, now: number, hashedSubject: string | undefined): RequestLog {
  const route = c.get("route");
  const res = c.res;
  const request = c.req.raw;
  const upstream = c.get("upstream");
  const entry: RequestLog = {
    time: new Date(started).toISOString(),
    requestId: c.get("requestId"),
    traceId: c.get("trace").traceId,
    routeId: route?.id ?? null,
    method: request.method,
    // Hono's path slice of request.url, which the runtime already serialized with the URL parser:
    // the same as new URL(...).pathname without a second parse (about 0.7 us in workerd).
    path: c.req.path,
    status: res.status,
    code: c.get("errorCode"),
    origin: route?.plan?.origin.name ?? null,
    originMs: c.get("originMs") ?? null,
    totalMs: now - started,
    keyId: c.get("keyId"),
    sub: hashedSubject,
    colo: typeof request.cf?.colo === "string" ? request.cf.colo : undefined,
    bytesIn: lengthOf(request.headers),
    bytesOut: request.method === "HEAD" || res.status === 101 || res.status === 204 || res.status === 304 ? 0 : lengthOf(res.headers),
    cache: cacheResultOf(res.headers.get("cache-status")),
  };
  // Origins with targets only (a plain url origin leaves these out, at no cost).
  if (upstream !== undefined) {
    entry.target = upstream.target;
    if (upstream.retries !== undefined) entry.retries = upstream.retries;
    if (upstream.retryDenied !== undefined) entry.retryDenied = upstream.retryDenied;
  }
  return entry;
}

function lengthOf(headers: Headers): number | null {
  const value = headers.get("content-length");
  if (value === null || !/^\d{1,15}$/.test(value)) return null;
  return Number(value);
}

/**
 * The gateway cache's outcome from a Cache-Status header (RFC 9211): its last member is the cache
 * nearest the client, the gateway's own when it has one. `hit` is a hit; `fwd=stale` a stale
 * response served while it is refreshed; `fwd=miss|request|uri-miss|vary-miss` a miss. A bypass or
 * a method the cache does not store is none of them.
 */
export function cacheResultOf(header: string | null): CacheResult | undefined {
  if (header === null) return undefined;
  const member = header.slice(header.lastIndexOf(",") + 1);
  const params = member.split(";");
  for (let i = 1; i < params.length; i++) {
    const param = params[i]!.trim();
    if (param === "hit") return "hit";
    if (param.startsWith("fwd=")) {
      const fwd = param.slice(4);
      if (fwd === "stale") return "stale";
      if (fwd === "miss" || fwd === "request" || fwd === "uri-miss" || fwd === "vary-miss") return "miss";
      return undefined;
    }
  }
  return undefined;
}

const SUBJECT_HASHES_KEPT = 1_000;
const subjectHashes = new Map<string, string>();

/**
 * A verified subject as the log shows it. "hash": the first 32 hex digits of SHA-256(sub), so lines
 * of one subject can be found (hash a known sub the same way) without the log holding the sub,
 * which is often an e-mail address. Hashes are kept per isolate (at most SUBJECT_HASHES_KEPT), so a
 * returning subject costs a map lookup, not a digest.
 */
export function subjectForLog(subject: string | undefined, mode: SubjectMode): string | undefined | Promise<string> {
  if (subject === undefined || mode === "off") return undefined;
  if (mode === "plain") return subject;
  const known = subjectHashes.get(subject);
  if (known !== undefined) return known;
  return sha256Hex(subject, 16).then((hashed) => {
    if (subjectHashes.size >= SUBJECT_HASHES_KEPT) subjectHashes.clear();
    subjectHashes.set(subject, hashed);
    return hashed;
  });
}
