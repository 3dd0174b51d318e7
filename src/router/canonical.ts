/**
 * Canonical request paths. The gateway canonicalizes once; the canonical path is what routes match
 * and, after rewrite/stripPrefix, exactly what is forwarded. The rule (docs/forwarding.md, Path safety):
 *
 * 1. Refuse (400) an encoded slash (%2F), an encoded or raw backslash (%5C, \), NUL or any control
 *    character (raw or encoded), ';' (matrix parameters, which some origins treat as separators), a
 *    malformed percent-escape, and a path longer than 4,096 characters.
 * 2. Decode percent-escapes of unreserved characters (A-Z a-z 0-9 - . _ ~); write remaining escapes
 *    with uppercase hex; percent-encode any other character a path may not carry raw.
 * 3. Merge runs of slashes (`//a` is `/a`).
 * 4. Resolve `.` and `..` segments (RFC 3986 5.2.4). A `..` that would climb above the root is 400.
 *
 * The runtime's URL parser has already resolved dot segments it recognises (`/a/%2e%2e/b` arrives as
 * `/b`) and turned raw `\` into `/`; this step catches everything it leaves alone. The result is a
 * fixed point: canonicalizing it again, or parsing it with `new URL`, changes nothing.
 */

export type CanonicalResult = { ok: true; path: string } | { ok: false; reason: string };

const MAX_PATH_LENGTH = 4096;
const HEX = "0123456789ABCDEF";
// Characters a path segment may carry raw (RFC 3986 pchar minus ';' and '%').
const RAW_OK = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,=:@") RAW_OK[c.charCodeAt(0)] = 1;
const UNRESERVED = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~") UNRESERVED[c.charCodeAt(0)] = 1;

const hexValue = (code: number): number =>
  code >= 48 && code <= 57 ? code - 48 : code >= 65 && code <= 70 ? code - 55 : code >= 97 && code <= 102 ? code - 87 : -1;

/** Fast check: already canonical paths (the common case) are returned without rebuilding. */
function isPlainCanonical(raw: string): boolean {
  let prevSlash = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 47) {
      if (prevSlash) return false;
      prevSlash = true;
      continue;
    }
    if (c >= 128 || !RAW_OK[c]) return false;
    if (c === 46 && prevSlash) return false; // a segment starting with '.', maybe a dot segment
    prevSlash = false;
  }
  return true;
}

export function canonicalizePath(raw: string): CanonicalResult {
  if (raw.length > MAX_PATH_LENGTH) return { ok: false, reason: "path is too long" };
  if (!raw.startsWith("/")) return { ok: false, reason: "path must start with /" };
  if (isPlainCanonical(raw)) return { ok: true, path: raw };

  const segments: string[] = [];
  let segment = "";
  let sawDot = false; // whether the segment may be a dot segment ("." or "..")
  const endSegment = (): CanonicalResult | null => {
    if (segment === "" && !sawDot) return null; // empty segment: merged slash
    if (segment === ".") { /* drop */ }
    else if (segment === "..") {
      if (segments.length === 0) return { ok: false, reason: "path climbs above the root" };
      segments.pop();
    } else segments.push(segment);
    return null;
  };
  for (let i = 1; i <= raw.length; i++) {
    const c = i < raw.length ? raw.charCodeAt(i) : 47;
    if (c === 47) {
      const problem = endSegment();
      if (problem) return problem;
      segment = "";
      sawDot = false;
      continue;
    }
    if (c === 37) {
      const hi = hexValue(raw.charCodeAt(i + 1));
      const lo = hexValue(raw.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) return { ok: false, reason: "malformed percent-encoding in path" };
      const byte = hi * 16 + lo;
      i += 2;
      if (byte === 0x2f) return { ok: false, reason: "encoded slash (%2F) in path" };
      if (byte === 0x5c) return { ok: false, reason: "encoded backslash (%5C) in path" };
      if (byte < 0x20 || byte === 0x7f) return { ok: false, reason: "control character in path" };
      if (byte === 0x3b) return { ok: false, reason: "';' in path" };
      if (byte < 128 && UNRESERVED[byte]) {
        segment += String.fromCharCode(byte);
        if (byte === 46) sawDot = true;
      } else segment += "%" + HEX[hi] + HEX[lo];
      continue;
    }
    if (c === 92) return { ok: false, reason: "backslash in path" };
    if (c < 0x20 || c === 0x7f) return { ok: false, reason: "control character in path" };
    if (c === 59) return { ok: false, reason: "';' in path" };
    if (c < 128 && RAW_OK[c]) {
      segment += raw[i];
      if (c === 46) sawDot = true;
      continue;
    }
    // Anything else (space, quotes, non-ASCII...): percent-encode its UTF-8 bytes.
    const cp = raw.codePointAt(i)!;
    if (cp > 0xffff) i++;
    if (cp >= 0xd800 && cp <= 0xdfff) return { ok: false, reason: "invalid character in path" };
    for (const byte of new TextEncoder().encode(String.fromCodePoint(cp))) segment += "%" + HEX[byte >> 4] + HEX[byte & 15];
  }
  // A trailing slash is kept (some origins care), except on a path that ended in a dot segment.
  const trailing = raw.length > 1 && raw.endsWith("/") && segments.length > 0;
  return { ok: true, path: "/" + segments.join("/") + (trailing ? "/" : "") };
}
