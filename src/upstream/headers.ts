/**
 * Header hygiene on the way to the origin and back.
 *
 * To the origin: hop-by-hop headers and every header the client names in `Connection` are dropped;
 * the client's forwarding and identity headers (`X-Forwarded-*`, `Forwarded`, `X-Real-IP`,
 * Cloudflare's `CF-*`) are dropped and the gateway writes its own from what it knows; headers that
 * let a client re-route or re-method a request inside some origins (`X-Original-URL`,
 * `X-Rewrite-URL`, `X-HTTP-Method-Override`, ...) are dropped too, because the path and method the
 * gateway authorized must be the ones the origin acts on.
 *
 * The gateway's W3C `traceparent` (and a continued `tracestate`) replaces the client's (src/trace.ts).
 *
 * Gateway-owned names (the fixed list below, every identity header in the table, and the headers the
 * gateway writes for origins, such as `x-gateway-event`) are removed from the client's request on
 * every route, so a public route cannot carry a forged identity to an origin another route trusts.
 * Underscores: many origins (Rack/Rails, PHP/CGI, some WSGI servers) read `_` as `-`, so a client
 * header whose name, with `_` read as `-`, equals a dropped name is dropped too; and, as nginx and
 * Apache do, a header with `_` in its name is dropped unless the route sets `forwardUnderscoreHeaders`.
 */
import type { GatewayContext } from "../context.ts";
import { coreErrors } from "../errors.ts";
import { traceparentOf, type TraceContext } from "../trace.ts";

declare module "hono" {
  interface ContextVariableMap {
    /** Headers policies write for the origin (identity from a verified token); see setOriginHeader. */
    originHeaders: Headers | undefined;
    /** Client headers a policy withholds on this request only; see withholdClientHeader. */
    withheldHeaders: Set<string> | undefined;
  }
}

/**
 * Sets a header on what the gateway sends the origin for this request (forwarding, WebSocket
 * pass-through, a room's connect event). It replaces any client copy. A policy that writes a header
 * declares its name in its definition's `originHeaders`, which makes the name gateway-owned on every
 * route of the table, so a client can never pose as the gateway where this policy does not run.
 */
export function setOriginHeader(c: GatewayContext, name: string, value: string): void {
  let headers = c.get("originHeaders");
  if (!headers) {
    headers = new Headers();
    c.set("originHeaders", headers);
  }
  headers.set(name, value);
}

/** Keeps a client header from the origin on this request (a Cookie holding only the token). */
export function withholdClientHeader(c: GatewayContext, name: string): void {
  let withheld = c.get("withheldHeaders");
  if (!withheld) {
    withheld = new Set();
    c.set("withheldHeaders", withheld);
  }
  withheld.add(name);
}

/** What a policy set for the origin on this request (the subprotocol a token entry was taken out of). */
export function originHeader(c: GatewayContext, name: string): string | null | undefined {
  if (c.get("withheldHeaders")?.has(name)) return null;
  return c.get("originHeaders")?.get(name) ?? undefined;
}

/** Hop-by-hop headers (RFC 9110 7.6.1, plus the legacy Keep-Alive and Proxy-Connection): never relayed either way. */
export const HOP_BY_HOP = ["connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"];
const CLIENT_DROPPED = new Set([
  ...HOP_BY_HOP,
  "host", "content-length",
  "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-forwarded-port", "x-forwarded-prefix", "x-forwarded-server",
  "forwarded", "x-real-ip", "true-client-ip", "x-client-ip", "x-cluster-client-ip",
  // Client-IP aliases some origins and frameworks trust: the gateway's X-Forwarded-For and Forwarded are the one source.
  "client-ip", "x-originating-ip", "x-remote-ip", "x-remote-addr", "cluster-client-ip", "fastly-client-ip", "x-host",
  "x-original-url", "x-rewrite-url", "x-original-host", "x-original-method",
  "x-http-method-override", "x-http-method", "x-method-override",
  "x-request-id",
  // W3C Trace Context: the gateway writes its own (src/trace.ts), so the origin's parent span is the gateway's.
  "traceparent", "tracestate",
]);
/** Prefixes of names the gateway owns: Cloudflare's, and the gateway's own (`x-gateway-event`, `x-gateway-room-*`, future ones). */
const OWNED_PREFIXES = ["cf-", "x-gateway-"];
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Header names listed in a `Connection` header; a malformed list is a 400. */
export function connectionTokens(value: string | null): Set<string> {
  const names = new Set<string>();
  if (!value) return names;
  for (const part of value.split(",")) {
    const name = part.trim().toLowerCase();
    if (name === "") continue;
    if (!TOKEN.test(name)) throw coreErrors.bad_request("Malformed Connection header.");
    names.add(name);
  }
  return names;
}

export interface ForwardingFacts {
  clientIp: string | null;
  host: string;
  proto: "http" | "https";
  requestId: string;
  /** The request's trace: the origin receives its traceparent (and a continued, valid tracestate). */
  trace?: TraceContext | undefined;
}

export interface HeaderEdits {
  set: [string, string][];
  remove: string[];
  /**
   * Request edits of a compiled route: every client header name never forwarded on it (the fixed
   * list, the table's gateway-owned names, `remove`), each also with `_` read as `-`. Precomputed
   * so forwarding does one lookup per header; without it, the fixed list plus `remove` is used.
   */
  drop?: ReadonlySet<string>;
  /** The route's `forwardUnderscoreHeaders`: keep client headers with `_` that fold onto no dropped name. */
  forwardUnderscores?: boolean;
}

export const NO_EDITS: HeaderEdits = { set: [], remove: [] };

function forwardedNode(ip: string): string {
  return ip.includes(":") ? `"[${ip}]"` : ip;
}

const fold = (name: string): string => name.replaceAll("_", "-");

/** The set a route drops from the client's request: the fixed list plus `names`, each also folded (`_` read as `-`). */
export function clientDropSet(names: Iterable<string>): ReadonlySet<string> {
  const drop = new Set<string>();
  for (const name of [...CLIENT_DROPPED, ...names]) drop.add(name.toLowerCase()).add(fold(name.toLowerCase()));
  return drop;
}

const ownedPrefix = (name: string): boolean => OWNED_PREFIXES.some((prefix) => name.startsWith(prefix));

/**
 * The origin request's headers, in this order: the client's headers minus everything dropped
 * (hygiene above, plus the route's `remove` list, which also names the credentials and identity
 * headers a client may not pass through); then the gateway's forwarding headers; then headers
 * policies add (identity from a verified token); then the route's `set`.
 * `removed`: client headers a policy withholds on this request only (a shared header whose only
 * content was a credential, such as a Cookie holding just the token).
 */
export function originRequestHeaders(incoming: Headers, facts: ForwardingFacts, edits: HeaderEdits, extra?: Headers, removed?: ReadonlySet<string>): Headers {
  const named = connectionTokens(incoming.get("connection"));
  const drop = edits.drop ?? clientDropSet(edits.remove);
  const out = new Headers();
  for (const [name, value] of incoming) {
    if (drop.has(name) || named.has(name) || removed?.has(name) || ownedPrefix(name)) continue;
    if (name.includes("_")) {
      if (!edits.forwardUnderscores) continue;
      const folded = fold(name);
      if (drop.has(folded) || named.has(folded) || removed?.has(folded) || ownedPrefix(folded)) continue;
    }
    out.append(name, value);
  }
  if (facts.clientIp) out.set("x-forwarded-for", facts.clientIp);
  out.set("x-forwarded-host", facts.host);
  out.set("x-forwarded-proto", facts.proto);
  out.set("forwarded", `${facts.clientIp ? `for=${forwardedNode(facts.clientIp)};` : ""}host="${facts.host}";proto=${facts.proto}`);
  out.set("x-request-id", facts.requestId);
  if (facts.trace) {
    out.set("traceparent", traceparentOf(facts.trace));
    if (facts.trace.state !== undefined) out.set("tracestate", facts.trace.state);
  }
  if (extra) for (const [name, value] of extra) out.set(name, value);
  for (const [name, value] of edits.set) out.set(name, value);
  return out;
}

/**
 * The headers for anything the gateway sends on a client's behalf (forwarding, WebSocket
 * pass-through, a room's connect event): the client's, filtered, with what this request's policies
 * set or withheld. One place, so no path can forget a credential removal.
 */
export function forwardingHeaders(c: GatewayContext, url: URL, edits: HeaderEdits): Headers {
  return originRequestHeaders(c.req.raw.headers, {
    clientIp: c.req.header("cf-connecting-ip") ?? null,
    host: url.host,
    proto: url.protocol === "https:" ? "https" : "http",
    requestId: c.get("requestId"),
    trace: c.get("trace"),
  }, edits, c.get("originHeaders"), c.get("withheldHeaders"));
}

/** Applied to the origin's response (forwardToOrigin already removed hop-by-hop headers). */
export function applyResponseEdits(headers: Headers, edits: HeaderEdits, requestId: string): void {
  for (const name of edits.remove) headers.delete(name);
  for (const [name, value] of edits.set) headers.set(name, value);
  headers.set("x-request-id", requestId);
}
