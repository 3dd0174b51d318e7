/**
 * Cache keys. A key is a URL under the request's own host (the Cache API keeps entries per zone, and
 * keys under the zone's own host are what it documents), below `/.edge-gateway-cache/`. The Cache
 * API is only ever asked with keys built here, never with a client's URL, so no request can name
 * or collide with another route's entry:
 *
 *   https://<host>/.edge-gateway-cache/<route id>/<config>/<route gen>.<path gen>/<vary>/<canonical path>?<keyed query>
 *
 * - route id, and `config`: a fingerprint of the route's definition and its origin, so a deploy that
 *   changes the route (origin, rewrite, headers, cache settings) never serves entries of the old one;
 * - the purge generations (src/cache/): a purge changes them, so old entries are never read again;
 * - `vary`: "-" on a shared entry, else the SHA-256 of the caller's identity (API key id, or JWT
 *   issuer and subject) and the keyed request headers' values: no key id, subject or header value
 *   appears in a key;
 * - the host and the canonical path (the path that matched, the one forwarded);
 * - the keyed query parameters, sorted by name (values of one name keep their order).
 */
import { sha256Hex } from "../../hex.ts";
const KEY_PREFIX = "/.edge-gateway-cache/";

/** A 64-bit FNV-1a of `text` in hex: a fingerprint, not a security boundary. */
export function fingerprint(text: string): string {
  let h1 = 0x811c9dc5, h2 = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x01000193) ^ (h1 >>> 15);
  }
  return (h1 >>> 0).toString(16).padStart(8, "0") + (h2 >>> 0).toString(16).padStart(8, "0");
}

/** The `vary` segment: "-" when nothing varies, else a SHA-256 of the parts (length-prefixed, so parts cannot run together). */
export async function varySegment(parts: readonly string[]): Promise<string> {
  if (parts.length === 0) return "-";
  const text = parts.map((p) => `${p.length}:${p}`).join("\n");
  return sha256Hex(text);
}

/** The keyed query string: the named parameters (every one when `names` is undefined), sorted by name. */
export function keyedQuery(params: URLSearchParams, names: ReadonlySet<string> | undefined): string {
  const kept: [string, string][] = [];
  for (const [name, value] of params) if (names === undefined || names.has(name)) kept.push([name, value]);
  if (kept.length === 0) return "";
  // A stable sort by name keeps the order of one name's values (`a=2&a=1` differs from `a=1&a=2`).
  kept.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return new URLSearchParams(kept).toString();
}

export interface KeyParts {
  host: string;
  routeId: string;
  config: string;
  routeGeneration: number;
  pathGeneration: number;
  vary: string;
  canonicalPath: string;
  query: string;
}

export function cacheKeyUrl(k: KeyParts): string {
  return `https://${k.host}${KEY_PREFIX}${encodeURIComponent(k.routeId)}/${k.config}/${k.routeGeneration}.${k.pathGeneration}/${k.vary}${k.canonicalPath}${k.query ? `?${k.query}` : ""}`;
}
