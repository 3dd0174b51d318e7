/**
 * A route the gateway answers with a redirect (`redirect: { to, status, preserveQuery }`). `:name`
 * in `to` takes the path parameter's value, percent-encoded so that no value can add a path
 * separator, a query, a fragment or anything else that changes where the target points; the host
 * of an absolute `to` is fixed in the table (the schema refuses parameters there).
 */
import type { GatewayMiddleware } from "../../context.ts";
import { ABSOLUTE_HEAD, PARAM_TOKEN, type RedirectConfig } from "./schema.ts";

type Part = string | { param: string };

// A canonical path segment holds unreserved characters, %XX escapes and the sub-delims, ':' and '@';
// everything but unreserved characters and escapes is encoded, so the value is inert anywhere in a URL.
const UNSAFE = /[^A-Za-z0-9\-._~%]/g;
const encodeParam = (value: string): string =>
  value.replace(UNSAFE, (ch) => "%" + ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0"));

/** `to` split into literal text and parameters (after the scheme and host, where parameters may go). */
export function compileTarget(to: string): Part[] {
  const head = to.startsWith("/") ? "" : ABSOLUTE_HEAD.exec(to)?.[0] ?? "";
  const parts: Part[] = head ? [head] : [];
  const tail = to.slice(head.length);
  let at = 0;
  for (const token of tail.matchAll(PARAM_TOKEN)) {
    if (token.index > at) parts.push(tail.slice(at, token.index));
    parts.push({ param: token[1]! });
    at = token.index + token[0].length;
  }
  if (at < tail.length) parts.push(tail.slice(at));
  return parts;
}

export function redirectTo(redirect: RedirectConfig, pathParams: readonly string[]): GatewayMiddleware {
  const parts = compileTarget(redirect.to);
  for (const part of parts) {
    if (typeof part !== "string" && !pathParams.includes(part.param)) throw new TypeError(`redirect: parameter ":${part.param}" is not in the path`);
  }
  const { status, preserveQuery } = redirect;
  const hash = redirect.to.indexOf("#");

  return async function redirect(c) {
    const params = c.get("match").params;
    let location = "";
    for (const part of parts) location += typeof part === "string" ? part : encodeParam(params[part.param] ?? "");
    if (preserveQuery) {
      const search = new URL(c.req.url).search;
      if (search.length > 1) {
        // Before a fragment, joined to a query the target already has.
        const cut = hash < 0 ? location.length : location.indexOf("#");
        const before = location.slice(0, cut);
        location = before + (before.includes("?") ? "&" + search.slice(1) : search) + location.slice(cut);
      }
    }
    return new Response(null, { status, headers: { location } });
  };
}
