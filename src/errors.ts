/**
 * One error type and one JSON envelope for every error the gateway answers:
 * `{ "error": { "code", "message", "requestId" } }`. Codes are stable; clients switch on them.
 * Nothing internal (stack, origin address, exception text) ever reaches the body.
 */
import type { Context } from "hono";

export type ErrorCode =
  | "bad_request" | "bad_path" | "not_found" | "method_not_allowed"
  | "origin_unreachable" | "origin_timeout" | "internal_error" | (string & {});

export class GatewayError extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  readonly headers: Record<string, string>;
  constructor(status: number, code: ErrorCode, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = "GatewayError";
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

export function errorBody(code: string, message: string, requestId: string | undefined): string {
  return JSON.stringify({ error: { code, message, requestId: requestId ?? null } });
}

export function errorResponse(c: Context, error: GatewayError): Response {
  const headers = new Headers(error.headers);
  headers.set("content-type", "application/json; charset=utf-8");
  headers.set("cache-control", "no-store");
  return new Response(c.req.method === "HEAD" ? null : errorBody(error.code, error.message, c.get("requestId")), {
    status: error.status,
    headers,
  });
}
