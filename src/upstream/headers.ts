/**
 * Header hygiene on the way to the origin and back.
 *
 * To the origin: hop-by-hop headers and every header the client names in `Connection` are dropped;
 * the client's forwarding and identity headers (`X-Forwarded-*`, `Forwarded`, `X-Real-IP`,
 * Cloudflare's `CF-*`) are dropped and the gateway writes its own from what it knows; headers that
 * let a client re-route or re-method a request inside some origins (`X-Original-URL`,
 * `X-Rewrite-URL`, `X-HTTP-Method-Override`, ...) are dropped too, because the path and method the
 * gateway authorized must be the ones the origin acts on.
 */
import type { GatewayContext } from "../context.ts";
import { coreErrors } from "../errors.ts";

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
  "x-original-url", "x-rewrite-url", "x-original-host", "x-original-method",
  "x-http-method-override", "x-http-method", "x-method-override",
  "x-request-id",
]);
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
}

export interface HeaderEdits {
  set: [string, string][];
  remove: string[];
}

export const NO_EDITS: HeaderEdits = { set: [], remove: [] };

function forwardedNode(ip: string): string {
  return ip.includes(":") ? `"[${ip}]"` : ip;
}

/**
 * The origin request's headers, in this order: the client's headers minus everything dropped
 * (hygiene above, plus the route's `remove` list, which also names the credentials and identity
 * headers a client may not pass through); then the gateway's forwarding headers; then headers
 * policies add (identity from a verified token); then the route's `set`.
 * `removed`: client headers a policy withholds on this request only (a shared header whose only
 * content was a credential, such as a Cookie holding just the token).
 */
export function originRequestHeaders(incoming: Headers, facts: ForwardingFacts, edits: HeaderEdits, extra?: Headers, removed?: ReadonlySet<string>): Headers {
  const dropped = connectionTokens(incoming.get("connection"));
  for (const name of edits.remove) dropped.add(name);
  const out = new Headers();
  for (const [name, value] of incoming) {
    if (CLIENT_DROPPED.has(name) || dropped.has(name) || name.startsWith("cf-") || removed?.has(name)) continue;
    out.append(name, value);
  }
  if (facts.clientIp) out.set("x-forwarded-for", facts.clientIp);
  out.set("x-forwarded-host", facts.host);
  out.set("x-forwarded-proto", facts.proto);
  out.set("forwarded", `${facts.clientIp ? `for=${forwardedNode(facts.clientIp)};` : ""}host="${facts.host}";proto=${facts.proto}`);
  out.set("x-request-id", facts.requestId);
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
  }, edits, c.get("originHeaders"), c.get("withheldHeaders"));
}

/** Applied to the origin's response (forwardToOrigin already removed hop-by-hop headers). */
export function applyResponseEdits(headers: Headers, edits: HeaderEdits, requestId: string): void {
  for (const name of edits.remove) headers.delete(name);
  for (const [name, value] of edits.set) headers.set(name, value);
  headers.set("x-request-id", requestId);
}
