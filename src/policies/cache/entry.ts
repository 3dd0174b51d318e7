/**
 * What the edge cache stores and serves, and how it says so.
 *
 * Stored: the origin's response as the client got it from the route (response header edits
 * applied), minus the per-request `x-request-id`, with three gateway headers the cache needs:
 * `x-gateway-cache-stored-at` (ms; the age is counted from it), and the origin's own Cache-Control
 * and Age moved aside (`x-gateway-cache-control`, `x-gateway-cache-age`) because the Cache API reads
 * Cache-Control to decide how long to keep the entry: it is given `public, max-age=<ttl + stale>`.
 * Served: the stored response with the origin's headers put back, `Age`, and `Cache-Status`.
 * Clients never see the gateway headers (the `x-gateway-` prefix is gateway-owned both ways).
 */

/** Statuses whose responses may be stored (the list; RFC 9110 heuristically cacheable minus 300, 405, 414, 501, 206). */
export const STORABLE_STATUSES = new Set([200, 203, 204, 301, 404, 410]);

const STORED_AT = "x-gateway-cache-stored-at";
const ORIGIN_CACHE_CONTROL = "x-gateway-cache-control";
const ORIGIN_AGE = "x-gateway-cache-age";
/**
 * A 204 is stored as a 200 with an empty body and its status here: the local Cache API (miniflare)
 * fails to rebuild a stored null-body status ("Response with null body status cannot have a body").
 */
const STORED_STATUS = "x-gateway-cache-status";

/** The cache's name in Cache-Status (RFC 9211). */
export const CACHE_NAME = "edge-gateway";

/** Directive names of a Cache-Control value, lowercased (values ignored). */
function directives(value: string | null): Set<string> {
  const names = new Set<string>();
  if (!value) return names;
  for (const part of value.split(",")) {
    const name = part.split("=", 1)[0]!.trim().toLowerCase();
    if (name) names.add(name);
  }
  return names;
}

export interface RequestDirectives {
  /** Client `no-cache` (or `max-age=0`, or `Pragma: no-cache` without Cache-Control): go to the origin. */
  revalidate: boolean;
  /** Client `no-store`: the response to this request is not stored. */
  noStore: boolean;
}

export function requestDirectives(headers: Headers): RequestDirectives {
  const value = headers.get("cache-control");
  if (value === null) return { revalidate: /(^|,)\s*no-cache\s*(,|$)/i.test(headers.get("pragma") ?? ""), noStore: false };
  const names = directives(value);
  return { revalidate: names.has("no-cache") || /(^|,)\s*max-age\s*=\s*"?0+"?\s*(,|$)/i.test(value), noStore: names.has("no-store") };
}

/**
 * Why `response` may not be stored, or undefined when it may. `keyHeaders`: the request headers in
 * the key; a `Vary` on anything else (Accept-Encoding aside, which the runtime handles) could give
 * one client's representation to another.
 */
export function notStorable(response: Response, keyHeaders: ReadonlySet<string>, maxBodyBytes: number): string | undefined {
  if (!STORABLE_STATUSES.has(response.status)) return "status";
  if (response.webSocket) return "websocket";
  const headers = response.headers;
  if (headers.has("set-cookie")) return "set-cookie";
  const control = directives(headers.get("cache-control"));
  if (control.has("private")) return "private";
  if (control.has("no-store")) return "no-store";
  if (control.has("no-cache")) return "no-cache";
  const vary = headers.get("vary");
  if (vary !== null) {
    for (const part of vary.split(",")) {
      const name = part.trim().toLowerCase();
      if (name === "*") return "vary";
      if (name !== "" && name !== "accept-encoding" && !keyHeaders.has(name)) return "vary";
    }
  }
  const length = headers.get("content-length");
  if (length !== null && Number(length) > maxBodyBytes) return "size";
  return undefined;
}

/**
 * The response to put in the Cache API, kept there `lifetimeSec`, or undefined when its body turned
 * out larger than `maxBodyBytes`. A body of declared length streams into the cache (the runtime holds
 * it to that length); one of unknown length is collected first, up to the cap, because a stream cut
 * off midway could be stored truncated by the cache.
 */
export async function entryToStore(response: Response, body: ReadableStream<Uint8Array> | null, lifetimeSec: number, maxBodyBytes: number, now: number): Promise<Response | undefined> {
  const headers = new Headers(response.headers);
  // The origin does not get to write the cache's own bookkeeping.
  for (const name of ["x-request-id", STORED_AT, ORIGIN_CACHE_CONTROL, ORIGIN_AGE, STORED_STATUS]) headers.delete(name);
  const control = headers.get("cache-control");
  if (control !== null) headers.set(ORIGIN_CACHE_CONTROL, control);
  const age = headers.get("age");
  if (age !== null) headers.set(ORIGIN_AGE, age);
  headers.delete("age");
  headers.set("cache-control", `public, max-age=${lifetimeSec}`);
  headers.set(STORED_AT, String(now));
  let stored: BodyInit | null = body;
  if (body !== null && headers.get("content-length") === null) {
    const bytes = await collect(body, maxBodyBytes);
    if (bytes === undefined) return undefined;
    stored = bytes;
  }
  if (response.status === 204) {
    headers.set(STORED_STATUS, "204");
    await body?.cancel().catch(() => {});
    return new Response(null, { status: 200, headers });
  }
  return new Response(stored, { status: response.status, statusText: response.statusText, headers });
}

/** The whole stream, or undefined (and the stream cancelled) once it passes `max` bytes. */
async function collect(stream: ReadableStream<Uint8Array>, max: number): Promise<Uint8Array | undefined> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) { out.set(chunk, offset); offset += chunk.byteLength; }
  return out;
}

export interface StoredEntry {
  response: Response;
  /** Seconds since the gateway stored it. */
  storedAgeSec: number;
  /** The Age the origin's response carried. */
  originAgeSec: number;
}

/** Reads a Cache API match back; undefined for something this cache did not store. */
export function readEntry(cached: Response, now: number): StoredEntry | undefined {
  const storedAt = Number(cached.headers.get(STORED_AT));
  if (!Number.isFinite(storedAt) || storedAt <= 0) return undefined;
  const originAge = Number(cached.headers.get(ORIGIN_AGE) ?? 0);
  return { response: cached, storedAgeSec: Math.max(0, (now - storedAt) / 1000), originAgeSec: Number.isFinite(originAge) && originAge > 0 ? Math.floor(originAge) : 0 };
}

/** The stored response as the client gets it: the origin's headers back, Age, Cache-Status. */
export function servedEntry(entry: StoredEntry, head: boolean, cacheStatus: string): Response {
  const cached = entry.response;
  const headers = new Headers(cached.headers);
  const control = headers.get(ORIGIN_CACHE_CONTROL);
  if (control === null) headers.delete("cache-control");
  else headers.set("cache-control", control);
  const noContent = headers.get(STORED_STATUS) === "204";
  for (const name of [STORED_AT, ORIGIN_CACHE_CONTROL, ORIGIN_AGE, STORED_STATUS, "cf-cache-status"]) headers.delete(name);
  headers.set("age", String(Math.floor(entry.storedAgeSec) + entry.originAgeSec));
  headers.append("cache-status", cacheStatus);
  if (head || noContent) {
    void cached.body?.cancel().catch(() => {});
    return new Response(null, { status: noContent ? 204 : cached.status, statusText: noContent ? "No Content" : cached.statusText, headers });
  }
  return new Response(cached.body, { status: cached.status, statusText: cached.statusText, headers });
}

/** A Cache-Status member (RFC 9211) for this cache. */
export function cacheStatus(params: { hit?: true; fwd?: "miss" | "stale" | "request" | "bypass" | "method"; fwdStatus?: number; ttl?: number; stored?: boolean; detail?: string }): string {
  let value = CACHE_NAME;
  if (params.hit) value += "; hit";
  if (params.fwd) value += `; fwd=${params.fwd}`;
  if (params.fwdStatus !== undefined) value += `; fwd-status=${params.fwdStatus}`;
  if (params.ttl !== undefined) value += `; ttl=${Math.floor(params.ttl)}`;
  if (params.stored) value += "; stored";
  if (params.detail) value += `; detail=${params.detail}`;
  return value;
}
