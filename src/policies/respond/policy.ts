/**
 * A route the gateway answers itself with a fixed response (`respond`), like an AWS mock
 * integration: health checks, maintenance pages, stubs. Runs last in the chain, so the route's
 * auth, body limit and rate limit still apply, and CORS still decorates the answer.
 */
import type { GatewayMiddleware } from "../../context.ts";
import type { RespondConfig } from "./schema.ts";

export function staticResponse(respond: RespondConfig): GatewayMiddleware {
  // Everything but the Headers object is computed once, at startup.
  const headers: [string, string][] = Object.entries(respond.headers ?? {});
  let body: string | null = null;
  if (respond.json !== undefined) body = JSON.stringify(respond.json);
  else if (respond.body !== undefined) body = respond.body;
  if (body !== null && !headers.some(([name]) => name === "content-type"))
    headers.push(["content-type", respond.json !== undefined ? "application/json; charset=utf-8" : "text/plain; charset=utf-8"]);
  if (body !== null && [204, 205, 304].includes(respond.status)) throw new TypeError(`respond: status ${respond.status} has no body`);
  const { status } = respond;

  return async function respond(c) {
    return new Response(c.req.method === "HEAD" ? null : body, { status, headers });
  };
}
