/**
 * Where a request carries its token. Sources are tried in the authorizer's order; the first one
 * present is used. A source present twice (two Authorization headers, two cookies or query
 * parameters of the name) is refused rather than guessed at.
 *
 * - `{ header }`: `Bearer <token>`, scheme case-insensitive (RFC 6750 2.1). A header with another
 *   scheme is treated as absent. Workers join repeated headers with ", ", and a token never
 *   contains a comma, so a comma means the header came twice.
 * - `{ cookie }`: the named cookie's value.
 * - `{ query }`: the named query parameter (opt-in: URLs end up in logs).
 * - `{ webSocketProtocol }`: the `Sec-WebSocket-Protocol` entry starting with the prefix, e.g.
 *   `new WebSocket(url, ["chat", "bearer." + token])` with prefix `bearer.` (opt-in).
 */
import { invalidToken, type JwtRejection } from "./errors.ts";
import type { TokenSource } from "./schema.ts";

export const DEFAULT_TOKEN_SOURCES: readonly TokenSource[] = [{ header: "authorization" }];

export interface FoundToken {
  token: string;
  source: TokenSource;
}

// Anything after the scheme is the token candidate; the strict compact pattern judges it.
const BEARER = /^bearer +(.+)$/i;

/** The token and where it was found, undefined when no source has one; throws on duplicates. */
export function findToken(request: Request, sources: readonly TokenSource[], realm: string): FoundToken | undefined {
  let url: URL | undefined;
  for (const source of sources) {
    let token: string | undefined;
    if ("header" in source) {
      const value = request.headers.get(source.header);
      if (value === null) continue;
      if (value.includes(",")) throw duplicate(realm, `The ${source.header} header was sent more than once.`);
      token = BEARER.exec(value.trim())?.[1];
    } else if ("cookie" in source) {
      const values = cookieValues(request.headers.get("cookie"), source.cookie);
      if (values.length > 1) throw duplicate(realm, "The token cookie was sent more than once.");
      token = values[0];
    } else if ("query" in source) {
      url ??= new URL(request.url);
      const values = url.searchParams.getAll(source.query);
      if (values.length > 1) throw duplicate(realm, "The token query parameter was sent more than once.");
      token = values[0];
    } else {
      const entries = protocolEntries(request.headers.get("sec-websocket-protocol")).filter((p) => p.startsWith(source.webSocketProtocol));
      if (entries.length > 1) throw duplicate(realm, "More than one token was offered in Sec-WebSocket-Protocol.");
      token = entries[0]?.slice(source.webSocketProtocol.length);
    }
    if (token !== undefined && token !== "") return { token, source };
  }
  return undefined;
}

function duplicate(realm: string, message: string): JwtRejection {
  return invalidToken(realm, "token_malformed", "duplicate", message);
}

export function cookieValues(header: string | null, name: string): string[] {
  if (!header) return [];
  const values: string[] = [];
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    values.push(part.slice(eq + 1).trim());
  }
  return values;
}

/** The Cookie header without the named cookie (undefined when nothing is left). */
export function cookieHeaderWithout(header: string, name: string): string | undefined {
  const kept = header.split(";").map((p) => p.trim()).filter((p) => p !== "" && p.slice(0, Math.max(0, p.indexOf("="))).trim() !== name);
  return kept.length > 0 ? kept.join("; ") : undefined;
}

export function protocolEntries(header: string | null): string[] {
  return header ? header.split(",").map((p) => p.trim()).filter((p) => p !== "") : [];
}
