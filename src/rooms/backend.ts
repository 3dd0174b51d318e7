/**
 * Backend events, the room's counterpart of AWS `$connect` / `$default` / `$disconnect`: a JSON
 * POST per event to the route's backend origin, with the same header hygiene as forwarding (the
 * connect event carries the client's upgrade headers as `originRequestHeaders` left them, with the
 * route's edits; every event gets the route's `set` headers, a request id and the origin's Host).
 */
import type { BackendSettings, Identity } from "./protocol.ts";
import type { RoomEvent } from "./schema.ts";

export interface BackendEvent {
  event: RoomEvent;
  connectionId: string;
  room: string;
  identity: Identity;
  payload: unknown;
  at: number;
}

export type BackendAnswer =
  | { ok: true; status: number; body: string | null }
  | { ok: false; status: number | null; failure: "status" | "timeout" | "unreachable" | "too_large" };

/** Names the event for the backend; gateway-owned, so a client's copy never reaches any origin. */
export const EVENT_HEADER = "x-gateway-event";

/** Replies larger than this are not relayed to the connection (the event still counts as delivered). */
export const MAX_REPLY_BYTES = 1_048_576;

export async function postEvent(backend: BackendSettings, event: BackendEvent, base?: Headers, readBody = false): Promise<BackendAnswer> {
  const headers = new Headers(base);
  headers.set("content-type", "application/json");
  headers.set(EVENT_HEADER, event.event);
  if (!headers.has("x-request-id")) headers.set("x-request-id", crypto.randomUUID());
  for (const [name, value] of backend.set) headers.set(name, value);
  if (backend.hostHeader) headers.set("host", backend.hostHeader);

  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), backend.timeoutMs);
  let response: Response;
  try {
    response = await fetch(backend.url, { method: "POST", headers, body: JSON.stringify(event), signal: controller.signal, redirect: "manual" });
  } catch {
    clearTimeout(timer);
    return { ok: false, status: null, failure: controller.signal.aborted ? "timeout" : "unreachable" };
  }
  clearTimeout(timer);
  if (response.status < 200 || response.status > 299) {
    await response.body?.cancel();
    return { ok: false, status: response.status, failure: "status" };
  }
  if (!readBody || !response.body) {
    await response.body?.cancel();
    return { ok: true, status: response.status, body: null };
  }
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > MAX_REPLY_BYTES) {
    await response.body.cancel();
    return { ok: false, status: response.status, failure: "too_large" };
  }
  const body = await readLimited(response.body, MAX_REPLY_BYTES);
  return body === null ? { ok: false, status: response.status, failure: "too_large" } : { ok: true, status: response.status, body };
}

async function readLimited(stream: ReadableStream<Uint8Array>, limit: number): Promise<string | null> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) { await reader.cancel(); return null; }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) { bytes.set(chunk, at); at += chunk.byteLength; }
  return new TextDecoder().decode(bytes);
}
