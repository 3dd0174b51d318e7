/**
 * Every call the console makes to the admin API: same origin, the token as `Authorization: Bearer`,
 * JSON in and out, and the gateway's error envelope turned into an ApiError that carries its code,
 * message and request id (the page shows those, never a blank screen).
 */
import { session } from "./session.ts";

/** Dispatched on window when the gateway refuses the stored token: the app goes back to sign-in. */
export const UNAUTHORIZED = "gateway-console-unauthorized";

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly requestId: string | null;
  constructor(status: number, code: string, message: string, requestId: string | null) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }
}

/** The admin prefix, from the page's <meta name="gateway-admin"> (set by the Worker). */
export function adminBase(): string {
  const meta = document.querySelector<HTMLMetaElement>('meta[name="gateway-admin"]');
  return meta?.content || "/_gateway";
}

export interface CallOptions {
  method?: string;
  body?: unknown;
  /** A token to try instead of the stored one (signing in). */
  token?: string;
}

/**
 * Checks a successful answer's JSON and returns what the caller uses of it, or null when the
 * answer is not a shape the console reads: `api` then throws `unreadable_answer` with the
 * answer's request id, as it does for an error envelope.
 */
export type Reader<T> = (json: unknown) => T | null;

export async function api<T>(path: string, options: CallOptions & { read?: Reader<T> } = {}): Promise<T> {
  const token = options.token ?? session.token() ?? "";
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: "application/json" };
  if (options.body !== undefined) headers["content-type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(adminBase() + path, {
      method: options.method ?? "GET",
      headers,
      body: options.body === undefined ? null : JSON.stringify(options.body),
      cache: "no-store",
      credentials: "omit",
    });
  } catch {
    throw new ApiError(0, "network_error", "The gateway could not be reached.", null);
  }
  const text = await response.text();
  let json: unknown = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON: below */ }
  if (!response.ok) {
    if (response.status === 401 && options.token === undefined) window.dispatchEvent(new Event(UNAUTHORIZED));
    const error = (json as { error?: { code?: unknown; message?: unknown; requestId?: unknown } } | null)?.error;
    const requestId = typeof error?.requestId === "string" ? error.requestId : response.headers.get("x-request-id");
    if (typeof error?.code === "string" && typeof error.message === "string") throw new ApiError(response.status, error.code, error.message, requestId);
    throw new ApiError(response.status, "http_error", `The gateway answered ${response.status}.`, requestId);
  }
  if (options.read) {
    const value = options.read(json);
    if (value === null) throw new ApiError(response.status, "unreadable_answer", `The gateway's answer to ${path.split("?")[0]} is not in a shape this console reads (a console and a gateway of different versions?).`, response.headers.get("x-request-id"));
    return value;
  }
  return json as T;
}

/** `?a=1&b=2` from the defined members of `query`. */
export function queryString(query: Record<string, string | number | undefined | null>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value !== undefined && value !== null && value !== "") params.set(name, String(value));
  const text = params.toString();
  return text ? `?${text}` : "";
}
