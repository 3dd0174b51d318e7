/**
 * One WebSocket room: a Durable Object that knows exactly who is connected.
 *
 * Sockets use the hibernation API, so an idle room costs nothing: each socket's identity lives in
 * its attachment (read back with a shape check), the room's settings live in storage, and "ping" is
 * answered by the runtime without waking the object. In-memory state (the connection map, rate
 * buckets) is a cache rebuilt from those after a wake.
 *
 * The gateway opens connections with `fetch` (the upgrade must come back as a 101 Response) carrying
 * an internal header it sets itself after the route's auth; backends reach the room through the
 * push API, which calls the RPC methods at the bottom.
 */
import { DurableObject } from "cloudflare:workers";
import type { GatewayBindings } from "../context.ts";
import { errorBody, errorText, logEvent } from "../errors.ts";
import { sendableCode } from "../upstream/websocket.ts";
import { postEvent, type BackendEvent } from "./backend.ts";
import { reportRoomCount } from "./index_client.ts";
import {
  CLOSE, CONNECT_HEADER, attachmentOf, exceedsBytes, frames, parseClientMessage, readConnectRequest,
  readConnectionRecord, readRoomSettings, type ConnectionRecord, type Identity, type RoomSettings,
} from "./protocol.ts";
import type { RoomEvent } from "./schema.ts";

/** A client may send this many refused (over-rate) frames in a row, each answered with an error, before 1008. */
export const RATE_GRACE_FRAMES = 10;
/** The rate bucket holds this many seconds of `messagesPerSecond`. */
export const RATE_BURST_SECONDS = 2;
/** `seen` in the attachment is rewritten at most this often (idle timeouts are in whole seconds). */
const SEEN_WRITE_MS = 1000;
const STATE_KEY = "room";

interface Connection {
  ws: WebSocket;
  record: ConnectionRecord;
  tokens: number;
  refilledAt: number;
  overage: number;
}

/** What the push API and the README call a connection's info. */
/** Claims came in as JSON (a verified JWT) and live as JSON (the attachment): plain values. */
export type ClaimValue = string | number | boolean | null | object;

export interface ConnectionInfo {
  id: string;
  sub: string | null;
  claims: Record<string, ClaimValue>;
  joinedAt: string;
  lastSeenAt: string;
  expiresAt: string | null;
}

interface StoredState {
  room: string;
  settings: RoomSettings;
}

export class RoomObject extends DurableObject<GatewayBindings> {
  /** Open connections by id; null until first needed after a (re)start. */
  #connections: Map<string, Connection> | null = null;
  #bySocket = new WeakMap<WebSocket, Connection>();
  /** Sockets already reported as gone in this instance (the attachment flag covers restarts). */
  #forgotten = new WeakSet<WebSocket>();
  #state: StoredState | null = null;
  #stateText: string | undefined;
  /** Connections admitted but still waiting for the backend's answer to `connect`. */
  #pending = 0;
  /** The scheduled alarm (ms), null for none, undefined before it was read. */
  #alarmAt: number | null | undefined;
  /** A count report to the RoomsIndex is in flight; `#reportAgain` asks for one more after it. */
  #reporting = false;
  #reportAgain = false;

  constructor(ctx: DurableObjectState, env: GatewayBindings) {
    super(ctx, env);
    // The runtime answers these itself, even while the object hibernates.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
    // Works on either storage backend; one read per start, so a woken room knows its limits at once.
    void ctx.blockConcurrencyWhile(() => this.#read());
  }

  // ---- Opening a connection ---------------------------------------------------------------

  override async fetch(request: Request): Promise<Response> {
    const connect = readConnectRequest(request.headers.get(CONNECT_HEADER));
    if (!connect) return refusal(400, "bad_request", "Not a room connect request.");
    this.#remember({ room: connect.room, settings: connect.settings });
    const { settings } = connect;
    const connections = this.#all();
    if (connections.size + this.#pending >= settings.maxConnections) return roomFull(connect.protocol);

    const identity = connect.identity;
    const backend = settings.backend;
    if (backend?.events.includes("connect")) {
      // Input gates open during the fetch; counting it as pending keeps maxConnections exact.
      this.#pending++;
      let answer;
      try {
        // The gateway's upgrade headers already had forwarding's hygiene; only its own remain to drop.
        const headers = new Headers(request.headers);
        for (const name of [CONNECT_HEADER, "upgrade", "connection"]) headers.delete(name);
        answer = await postEvent(backend, event("connect", connect.connectionId, connect.room, identity, null), headers);
      } finally {
        this.#pending--;
      }
      if (!answer.ok) {
        const id = connect.requestId;
        if (answer.failure === "status") return refusal(403, "connect_refused", "The room's backend refused the connection.", id);
        if (answer.failure === "timeout") return refusal(504, "origin_timeout", "The room's backend did not answer the connect event in time.", id);
        return refusal(502, "origin_unreachable", "The room's backend could not be reached.", id);
      }
    }

    const pair = new WebSocketPair();
    const client = pair[0], server = pair[1];
    const now = Date.now();
    const record: ConnectionRecord = {
      id: connect.connectionId, sub: identity.sub, claims: identity.claims,
      exp: connect.exp === null ? null : connect.exp * 1000, joinedAt: now, seen: now,
    };
    this.ctx.acceptWebSocket(server, [connect.connectionId]);
    server.serializeAttachment(attachmentOf(record));
    const connection = this.#track(server, record, settings, now);
    server.send(frames.welcome(record.id, connect.room, connections.size, now));
    if (settings.presence) this.#broadcast(frames.join(record.id, record.sub, record.claims, connections.size, now), record.id);
    await this.#scheduleAlarm(this.#deadlineOf(connection, settings));
    this.#reportCount();

    const headers = connect.protocol ? { "sec-websocket-protocol": connect.protocol } : undefined;
    return new Response(null, { status: 101, webSocket: client, headers });
  }

  // ---- Hibernation handlers ----------------------------------------------------------------

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const state = this.#load();
    const connection = this.#connectionOf(ws);
    if (!state || !connection) {
      closeQuietly(ws, CLOSE.internal, "connection state lost");
      return;
    }
    const { settings, room } = state;
    const now = Date.now();
    const { record } = connection;
    if (record.exp !== null && now >= record.exp) return this.#close(connection, CLOSE.policy, "token expired");
    if (exceedsBytes(message, settings.maxMessageBytes)) return this.#close(connection, CLOSE.tooBig, "message too big");
    if (!takeToken(connection, settings, now)) {
      if (++connection.overage > RATE_GRACE_FRAMES) return this.#close(connection, CLOSE.policy, "rate limit exceeded");
      send(connection, frames.error("rate_limited", `Over ${settings.messagesPerSecond} messages per second; this frame was dropped.`));
      return;
    }
    connection.overage = 0;
    this.#touch(connection, now);

    if (typeof message !== "string") {
      send(connection, frames.error("unsupported_data", "The room accepts text frames only."));
      return;
    }
    const backend = settings.backend?.events.includes("message") ? settings.backend : null;
    const command = parseClientMessage(message);
    if (command?.type === "broadcast") {
      this.#broadcast(frames.message(record.id, command.data, now));
    } else if (command?.type === "send") {
      const target = this.#all().get(command.to);
      if (!target || !this.#deliver(target, frames.message(record.id, command.data, now, command.to)))
        send(connection, frames.error("connection_gone", `No connection ${JSON.stringify(command.to.slice(0, 64))} in this room.`));
    } else if (command?.type === "count") {
      send(connection, frames.count(this.#all().size));
    } else if (!backend) {
      send(connection, frames.error("bad_message", `Expected {"type":"broadcast"|"send"|"count", ...}.`));
      return;
    }
    if (!backend) return;
    const answer = await postEvent(backend, event("message", record.id, room, identityOf(record), command ?? parsePayload(message)), undefined, true);
    if (answer.ok && answer.body) {
      const current = this.#all().get(record.id);
      if (current) this.#deliver(current, answer.body);
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    // Answers a close the client started. Needed: workerd (1.20261102/1.20261117) neither answers
    // it for a hibernatable socket nor releases the connection without this call (measured: the
    // client gets no close frame, and TCP ends when the idle object is evicted, 10 s later).
    //
    // KNOWN GAP (issue 8, item 5; test/e2e/rooms.e2e.test.ts; bench/FINDINGS.md "Half-open
    // close"): when the room closed first (push API DELETE, idle timeout, token expiry) and the
    // client had never sent a frame, its TCP connection outlives the handshake until this object
    // is evicted (10.0 s once the room is idle; while it stays busy, until the client gives up).
    // Two runtime behaviours combine, and nothing the object can call reaches either:
    // - kj's WebSocketPipe (the WebSocketPair): the pump carrying client frames into the pair
    //   starts while the hibernation manager already waits for a frame; it hands the first frame
    //   over, then pumps again without checking for a Close. If that first frame is the client's
    //   Close, the pump then waits for a reader that never comes, so the proxy never ends. After
    //   any earlier frame (even the runtime-answered "ping") the Close ends the pump: ~10 ms.
    // - workerd's WebSocket holds its end of the pair (freeing it would abort that pump) until a
    //   send completes after both closes, or close() runs before its own close went out. Here
    //   the room's close went out first, so this close() returns at once, and only eviction frees it.
    closeQuietly(ws, sendableCode(code), reason);
    this.#gone(ws, code, reason);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.#gone(ws, 1006, "connection error");
  }

  /** Closes connections whose token expired or that went idle, then schedules the next check. */
  override async alarm(): Promise<void> {
    this.#alarmAt = null;
    const state = this.#load();
    if (!state) return;
    const now = Date.now();
    let next = Infinity;
    for (const connection of [...this.#all().values()]) {
      const { record } = connection;
      if (record.exp !== null && record.exp <= now) {
        this.#close(connection, CLOSE.policy, "token expired");
        continue;
      }
      const deadline = this.#deadlineOf(connection, state.settings);
      if (deadline <= now) {
        this.#close(connection, CLOSE.normal, "idle timeout");
        continue;
      }
      next = Math.min(next, deadline);
    }
    if (next !== Infinity) await this.#scheduleAlarm(next);
  }

  // ---- Push API (RPC from the gateway's admin API) ------------------------------------------

  /** Sends `data` to every connection as a message from the backend; returns how many got it. */
  broadcast(data: unknown): { delivered: number } {
    return { delivered: this.#broadcast(frames.message(null, data, Date.now())) };
  }

  /** False when the connection is gone (the room forgets it at once). */
  sendTo(connectionId: string, data: unknown): { delivered: boolean } {
    const connection = this.#all().get(connectionId);
    return { delivered: connection ? this.#deliver(connection, frames.message(null, data, Date.now(), connectionId)) : false };
  }

  /** Closes one connection; a client that never sent a frame keeps its TCP connection until eviction (webSocketClose says why). */
  disconnect(connectionId: string, code: number, reason: string): { closed: boolean } {
    const connection = this.#all().get(connectionId);
    if (!connection) return { closed: false };
    this.#close(connection, code, reason);
    return { closed: true };
  }

  connection(connectionId: string): ConnectionInfo | null {
    const connection = this.#all().get(connectionId);
    return connection && this.#isOpen(connection) ? this.#info(connection) : null;
  }

  connections(): { count: number; connections: ConnectionInfo[] } {
    const list = [...this.#all().values()].filter((c) => this.#isOpen(c)).map((c) => this.#info(c));
    return { count: list.length, connections: list };
  }

  count(): { count: number } {
    return { count: this.#all().size };
  }

  // ---- Connection bookkeeping ----------------------------------------------------------------

  #all(): Map<string, Connection> {
    if (this.#connections) return this.#connections;
    const map = new Map<string, Connection>();
    this.#connections = map;
    const settings = this.#load()?.settings;
    const now = Date.now();
    for (const ws of this.ctx.getWebSockets()) {
      const record = readConnectionRecord(ws.deserializeAttachment());
      if (!record || !settings) {
        // A socket whose identity cannot be read must not stay in the room anonymously.
        closeQuietly(ws, CLOSE.internal, "connection state lost");
        continue;
      }
      if (record.closing || ws.readyState !== WebSocket.READY_STATE_OPEN) continue;
      this.#track(ws, record, settings, now);
    }
    return map;
  }

  #track(ws: WebSocket, record: ConnectionRecord, settings: RoomSettings, now: number): Connection {
    const connection: Connection = { ws, record, tokens: burstOf(settings), refilledAt: now, overage: 0 };
    this.#all().set(record.id, connection);
    this.#bySocket.set(ws, connection);
    return connection;
  }

  #connectionOf(ws: WebSocket): Connection | null {
    const known = this.#bySocket.get(ws);
    if (known) return this.#connections?.get(known.record.id) === known ? known : null;
    this.#all();
    return this.#bySocket.get(ws) ?? null;
  }

  #isOpen(connection: Connection): boolean {
    if (connection.ws.readyState === WebSocket.READY_STATE_OPEN) return true;
    this.#gone(connection.ws, 1006, "connection lost");
    return false;
  }

  /** Sends to one connection; a connection that cannot take it is forgotten. */
  #deliver(connection: Connection, text: string): boolean {
    try {
      connection.ws.send(text);
      return true;
    } catch {
      this.#close(connection, CLOSE.internal, "connection lost");
      return false;
    }
  }

  #broadcast(text: string, except?: string): number {
    let delivered = 0;
    for (const connection of this.#all().values()) {
      if (connection.record.id === except) continue;
      if (this.#deliver(connection, text)) delivered++;
    }
    return delivered;
  }

  /** The room closes a socket itself: flag it first, so the close event that follows is not reported twice. */
  #close(connection: Connection, code: number, reason: string): void {
    this.#gone(connection.ws, code, reason, connection.record);
    closeQuietly(connection.ws, code, reason);
  }

  /** Reports a connection as gone exactly once: leave event, disconnect event, forgotten. */
  #gone(ws: WebSocket, code: number, reason: string, known?: ConnectionRecord): void {
    if (this.#forgotten.has(ws)) return;
    this.#forgotten.add(ws);
    const record = known ?? this.#bySocket.get(ws)?.record ?? readConnectionRecord(ws.deserializeAttachment());
    if (!record || record.closing) return;
    record.closing = true;
    try { ws.serializeAttachment(attachmentOf(record)); } catch { /* the socket is already closed */ }
    const connections = this.#all();
    if (connections.get(record.id)?.ws === ws) connections.delete(record.id);
    const state = this.#load();
    if (!state) return;
    this.#reportCount();
    const now = Date.now();
    if (state.settings.presence) this.#broadcast(frames.leave(record.id, connections.size, now));
    const backend = state.settings.backend;
    if (backend?.events.includes("disconnect")) {
      this.ctx.waitUntil(postEvent(backend, event("disconnect", record.id, state.room, identityOf(record), { code, reason })));
    }
  }

  /** Records activity; the attachment is rewritten at most once a second so it survives hibernation. */
  #touch(connection: Connection, now: number): void {
    if (now - connection.record.seen < SEEN_WRITE_MS) return;
    connection.record.seen = now;
    try { connection.ws.serializeAttachment(attachmentOf(connection.record)); } catch { /* closing */ }
  }

  #info(connection: Connection): ConnectionInfo {
    const { record } = connection;
    return {
      id: record.id, sub: record.sub, claims: record.claims as Record<string, ClaimValue>,
      joinedAt: new Date(record.joinedAt).toISOString(),
      lastSeenAt: new Date(this.#lastSeen(connection)).toISOString(),
      expiresAt: record.exp === null ? null : new Date(record.exp).toISOString(),
    };
  }

  /** The later of the last client frame and the last "ping" the runtime answered for it. */
  #lastSeen(connection: Connection): number {
    const pinged = this.ctx.getWebSocketAutoResponseTimestamp(connection.ws)?.getTime() ?? 0;
    return Math.max(connection.record.seen, pinged);
  }

  #deadlineOf(connection: Connection, settings: RoomSettings): number {
    const idle = this.#lastSeen(connection) + settings.idleTimeoutSec * 1000;
    return connection.record.exp === null ? idle : Math.min(idle, connection.record.exp);
  }

  async #scheduleAlarm(at: number): Promise<void> {
    if (this.#alarmAt === undefined) this.#alarmAt = await this.ctx.storage.getAlarm();
    if (this.#alarmAt !== null && this.#alarmAt <= at) return;
    this.#alarmAt = at;
    await this.ctx.storage.setAlarm(at);
  }

  /**
   * Tells the RoomsIndex this room's count after a change, in waitUntil: nothing waits for it. At
   * most one report is in flight; changes meanwhile become one more report of the latest count.
   * A failed report is logged and left: the next change reports again, and the admin list checks
   * each room's live count (src/rooms/rooms_index.ts).
   */
  #reportCount(): void {
    if (this.#reporting) { this.#reportAgain = true; return; }
    this.#reporting = true;
    this.ctx.waitUntil((async () => {
      try {
        do {
          this.#reportAgain = false;
          const room = this.#load()?.room;
          if (room === undefined) return;
          await reportRoomCount(this.env.ROOMS_INDEX, room, this.#all().size, Date.now());
        } while (this.#reportAgain);
      } catch (err) {
        logEvent("warn", "rooms_index_unavailable", { room: this.#load()?.room, error: errorText(err) });
      } finally {
        this.#reporting = false;
      }
    })());
  }

  // ---- Settings, persisted so a restarted object still knows its limits and backend ----------

  #remember(state: StoredState): void {
    const text = JSON.stringify(state);
    if (text === this.#stateText) return;
    // Not awaited: the output gate holds the 101 until the write is durable.
    void this.ctx.storage.put(STATE_KEY, state);
    this.#state = state;
    this.#stateText = text;
  }

  /** The stored state, read once per start in the constructor (before any event is delivered). */
  #load(): StoredState | null {
    return this.#state ?? null;
  }

  async #read(): Promise<void> {
    const stored = await this.ctx.storage.get<StoredState>(STATE_KEY);
    const settings = readRoomSettings(stored?.settings);
    this.#state = settings && typeof stored?.room === "string" ? { room: stored.room, settings } : null;
    this.#stateText = this.#state ? JSON.stringify(this.#state) : undefined;
  }
}

function event(name: RoomEvent, connectionId: string, room: string, identity: Identity, payload: unknown): BackendEvent {
  return { event: name, connectionId, room, identity, payload, at: Date.now() };
}

function identityOf(record: ConnectionRecord): Identity {
  return { sub: record.sub, claims: record.claims };
}

function parsePayload(text: string): unknown {
  try { return JSON.parse(text); } catch { return text; }
}

function burstOf(settings: RoomSettings): number {
  return Math.max(1, settings.messagesPerSecond * RATE_BURST_SECONDS);
}

/** Token bucket in memory: after a hibernation it starts full, as it would have refilled anyway. */
function takeToken(connection: Connection, settings: RoomSettings, now: number): boolean {
  const burst = burstOf(settings);
  connection.tokens = Math.min(burst, connection.tokens + ((now - connection.refilledAt) / 1000) * settings.messagesPerSecond);
  connection.refilledAt = now;
  if (connection.tokens < 1) return false;
  connection.tokens -= 1;
  return true;
}

function send(connection: Connection, text: string): void {
  try { connection.ws.send(text); } catch { /* closing; its close event reports it */ }
}

function closeQuietly(ws: WebSocket, code: number, reason: string): void {
  try { ws.close(code, reason); } catch { /* already closed */ }
}


/** The gateway's error envelope; the gateway relays code and message (src/rooms/client.ts). */
function refusal(status: number, code: string, message: string, requestId?: string): Response {
  return new Response(errorBody(code, message, requestId), { status, headers: { "content-type": "application/json; charset=utf-8" } });
}

/** Over maxConnections: the client gets a WebSocket that closes at once, so browsers can read why. */
function roomFull(protocol: string | null): Response {
  const pair = new WebSocketPair();
  pair[1].accept();
  pair[1].close(CLOSE.tryAgainLater, "room full");
  return new Response(null, { status: 101, webSocket: pair[0], headers: protocol ? { "sec-websocket-protocol": protocol } : undefined });
}
