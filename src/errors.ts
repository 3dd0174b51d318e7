/**
 * One error type, one catalogue of codes and one JSON envelope for every error the gateway answers:
 * `{ "error": { "code", "message", "requestId" } }`. Codes are stable; clients switch on them.
 * Nothing internal (stack, origin address, exception text) ever reaches the body.
 *
 * The catalogue is closed: each capability declares its codes with `defineErrors` (code, status,
 * meaning) when its module loads, and a code can only be thrown once declared. Each code has one
 * owner, which declares it once; a capability that refuses with another's code imports the owner's
 * factory (a service's codes come through its index.ts), so a code has one status and one meaning
 * everywhere. `docs/errors.md` is generated from the catalogue (`npm run docs`).
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";

export interface ErrorSpec {
  status: ContentfulStatusCode;
  /** When a client sees this code, in a sentence (for docs/errors.md). */
  meaning: string;
}

export interface CatalogueEntry extends ErrorSpec {
  code: string;
  /** The capability that declared it ("core", "jwt", "api-key", ...). */
  owner: string;
}

const catalogue = new Map<string, CatalogueEntry>();

export class GatewayError extends HTTPException {
  readonly code: string;
  readonly headers: Record<string, string>;
  /**
   * Extra members of the envelope's `error` object, after code, message and requestId, for the few
   * codes that carry structured detail (`validation_failed`: `problems`). Absent on every other error.
   */
  readonly details: Readonly<Record<string, unknown>> | undefined;
  /** `code` must be in the catalogue; its status comes from there. */
  constructor(code: string, message: string, headers: Record<string, string> = {}, details?: Readonly<Record<string, unknown>>) {
    const entry = catalogue.get(code);
    if (!entry) throw new TypeError(`GatewayError: "${code}" is not in the error catalogue (declare it with defineErrors)`);
    super(entry.status, { message });
    this.name = "GatewayError";
    this.code = code;
    this.headers = headers;
    this.details = details;
  }
}

export type ErrorFactories<T> = { readonly [K in keyof T]: (message: string, headers?: Record<string, string>, details?: Readonly<Record<string, unknown>>) => GatewayError };

/**
 * Declares a capability's error codes and returns a factory per code:
 * `const errors = defineErrors("api-key", { api_key_missing: { status: 401, meaning } })`, then
 * `throw errors.api_key_missing("...")`. A typo in a code is a type error, not a runtime surprise.
 */
export function defineErrors<const T extends Record<string, ErrorSpec>>(owner: string, specs: T): ErrorFactories<T> {
  const factories: Record<string, (message: string, headers?: Record<string, string>, details?: Readonly<Record<string, unknown>>) => GatewayError> = {};
  for (const [code, spec] of Object.entries(specs)) {
    if (!/^[a-z][a-z0-9_]*$/.test(code)) throw new TypeError(`error code "${code}" must be snake_case`);
    const known = catalogue.get(code);
    if (known && known.owner !== owner)
      throw new TypeError(`error code "${code}" is declared by ${known.owner} and again by ${owner}: one code, one owner (import ${known.owner}'s instead)`);
    // The same owner again is its module evaluated again (a test runner's fresh module graph); its
    // status cannot change under the clients.
    if (known && known.status !== spec.status)
      throw new TypeError(`error code "${code}" is ${known.status} and ${spec.status} in ${owner}: one code, one status`);
    if (!known) catalogue.set(code, { code, owner, ...spec });
    factories[code] = (message, headers, details) => new GatewayError(code, message, headers, details);
  }
  return factories as ErrorFactories<T>;
}

/** Every declared code, in declaration order (the modules that declare them must be loaded). */
export function errorCatalogue(): readonly CatalogueEntry[] {
  return [...catalogue.values()];
}

export const coreErrors = defineErrors("core", {
  bad_request: { status: 400, meaning: "The request is malformed (a bad header such as a malformed Connection list)." },
  bad_path: { status: 400, meaning: "The path was refused before matching: an encoded slash or backslash, a control character, `;`, a malformed escape, climbing above the root, or over 4 KiB." },
  body_not_allowed: { status: 400, meaning: "A GET or HEAD request carried a body; the gateway does not forward it." },
  invalid_json: { status: 400, meaning: "The body is not valid JSON." },
  invalid_request: { status: 400, meaning: "The body or query does not have the expected shape; the message lists every problem." },
  not_found: { status: 404, meaning: "No route matches the request's host, path and method (or no admin endpoint at that path)." },
  method_not_allowed: { status: 405, meaning: "A route matches the path but not the method; `Allow` lists the methods." },
  payload_too_large: { status: 413, meaning: "The body is larger than the endpoint accepts." },
  unsupported_media_type: { status: 415, meaning: "The body's Content-Type is not one the endpoint accepts." },
  // Shared by the two authorizers (jwt, api-key), neither of which may own the other's refusal:
  // a client switches on one code whatever the credential.
  insufficient_scope: { status: 403, meaning: "The token or API key is valid but lacks a scope the route requires." },
  upgrade_required: { status: 426, meaning: "The route is a WebSocket endpoint and the request is not a WebSocket upgrade." },
  internal_error: { status: 500, meaning: "The gateway failed; the operator's log has the details under the request id." },
  origin_unreachable: { status: 502, meaning: "The origin could not be connected to, or reset the connection." },
  origin_bad_upgrade: { status: 502, meaning: "The origin accepted a WebSocket upgrade but the handshake failed." },
  origin_timeout: { status: 504, meaning: "The origin sent no response headers within its timeout." },
});

export function errorBody(code: string, message: string, requestId: string | undefined, details?: Readonly<Record<string, unknown>>): string {
  const error: Record<string, unknown> = { code, message, requestId: requestId ?? null };
  // Details follow the three fixed members and can never replace one of them.
  for (const [name, value] of Object.entries(details ?? {})) if (!Object.hasOwn(error, name)) error[name] = value;
  return JSON.stringify({ error });
}

export function errorResponse(c: Context, error: GatewayError): Response {
  const headers = new Headers(error.headers);
  headers.set("content-type", "application/json; charset=utf-8");
  headers.set("cache-control", "no-store");
  return new Response(c.req.method === "HEAD" ? null : errorBody(error.code, error.message, c.get("requestId"), error.details), {
    status: error.status,
    headers,
  });
}

/**
 * Any thrown value as the envelope: a GatewayError as itself, Hono's own 4xx (a body too large, a
 * validator refusal) as `bad_request`, anything else as a logged 500 that leaks nothing.
 */
export function toErrorResponse(err: unknown, c: Context): Response {
  let error: GatewayError;
  if (err instanceof GatewayError) error = err;
  else if (err instanceof HTTPException && err.status === 413) error = coreErrors.payload_too_large(err.message || "The body is too large.");
  else if (err instanceof HTTPException && err.status < 500) error = coreErrors.bad_request(err.message || "Bad request.");
  else {
    logEvent("error", "internal_error", { requestId: c.get("requestId"), error: err instanceof Error ? err.stack ?? err.message : String(err) });
    error = coreErrors.internal_error("The gateway failed to handle the request.");
  }
  c.set("errorCode", error.code);
  return errorResponse(c, error);
}

/**
 * One structured line for the operator (Workers Logs, `wrangler tail`) about something that is not
 * a request's access line: a store or counter that could not answer, an unexpected exception.
 * Callers pass error messages and ids only, never keys, tokens or client addresses.
 */
export function logEvent(level: "error" | "warn" | "info", code: string, fields: Record<string, unknown> = {}): void {
  const line = JSON.stringify({ level, code, ...fields });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}

/** `err` as a short string for logEvent (the message, never the whole object). */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
