/**
 * The room's client: every call from the Worker to a RoomObject goes through here (the gateway's
 * connect, the push API's reads and pushes), with one failure rule: reads are retried once on a
 * fresh stub when the runtime marks the failure retryable (and not overloaded); a connect or a push
 * is not, as one that failed late may have taken effect. Then: 503 `room_unavailable`.
 */
import { errorText, GatewayError, logEvent } from "../errors.ts";
import type { RoomObject } from "./durable_object.ts";
import { roomErrors } from "./errors.ts";

export type RoomNamespace = DurableObjectNamespace<RoomObject>;

/** Hands a WebSocket upgrade (with the gateway's connect header) to the room; its answer as is. */
export async function connectToRoom(ns: RoomNamespace, room: string, headers: Headers, requestId: string): Promise<Response> {
  let response: Response;
  try {
    response = await ns.get(ns.idFromName(room)).fetch("https://room.internal/connect", { headers });
  } catch (err) {
    logEvent("error", "room_unavailable", { requestId, room, error: errorText(err) });
    throw roomErrors.room_unavailable("The room is unavailable; try again.");
  }
  if (response.status === 101 && response.webSocket) {
    // A fresh Response: the one from the stub has immutable headers, and the gateway adds its own.
    return new Response(null, { status: 101, webSocket: response.webSocket, headers: response.headers });
  }
  throw await refusalOf(response);
}

/** The room's refusal (the gateway's envelope) as a GatewayError with the same code. */
async function refusalOf(response: Response): Promise<GatewayError> {
  try {
    const body = (await response.json()) as { error?: { code?: unknown; message?: unknown } };
    const { code, message } = body.error ?? {};
    if (typeof code === "string" && typeof message === "string") return new GatewayError(code, message);
  } catch { /* not the envelope, or a code outside the catalogue: below */ }
  return roomErrors.room_refused("The room refused the connection.");
}

/**
 * Calls the room over RPC. The stub's methods used by the push API return plain
 * structured-cloneable data, which RPC hands back unchanged.
 */
export async function callRoom<F extends (stub: DurableObjectStub<RoomObject>) => Promise<unknown>>(ns: RoomNamespace, room: string, rpc: F, options: { read: boolean; requestId: string }): Promise<Awaited<ReturnType<F>>> {
  const id = ns.idFromName(room);
  for (let attempt = 1; ; attempt++) {
    try {
      return (await rpc(ns.get(id))) as Awaited<ReturnType<F>>;
    } catch (err) {
      const { retryable, overloaded } = (err ?? {}) as { retryable?: boolean; overloaded?: boolean };
      if (options.read && attempt === 1 && retryable === true && overloaded !== true) continue;
      logEvent("error", "room_unavailable", { requestId: options.requestId, room, error: errorText(err) });
      throw roomErrors.room_unavailable("The room is unavailable; try again.");
    }
  }
}
