// The smallest Worker + Durable Object that shows the half-open close of issue 8, item 5 (no
// gateway code): bench/investigations/half-open-close.ts drives it.
//
//   GET /ws?room=R&id=I[&accept=plain][&reply=0]   WebSocket upgrade into the object named R; the
//       socket is tagged I and accepted with the hibernation API (accept=plain: ws.accept(), the
//       object's own event listeners instead). reply=0: webSocketClose does not call close().
//   GET /close?room=R&id=I[&from=alarm]            the object closes socket I with 4001 "bye",
//       from this RPC or (from=alarm) from an alarm, as the room's idle and expiry closes do.
//
// Every socket is greeted with "welcome"; "ping" is answered "pong" by the runtime (as the room
// does); any other text is echoed.
import { DurableObject } from "cloudflare:workers";

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const stub = env.PROBES.get(env.PROBES.idFromName(url.searchParams.get("room") ?? "probe"));
    if (url.pathname === "/ws") return stub.fetch(request);
    if (url.pathname === "/close") {
      return Response.json(await stub.closeSocket(url.searchParams.get("id") ?? "", url.searchParams.get("from") === "alarm"));
    }
    return new Response("not found", { status: 404 });
  },
};

export class HalfOpenProbe extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
    /** Sockets accepted with accept=plain, by id (they are not in ctx.getWebSockets()). */
    this.plain = new Map();
  }

  async fetch(request) {
    const url = new URL(request.url);
    const id = url.searchParams.get("id") ?? "";
    const reply = url.searchParams.get("reply") !== "0";
    const pair = new WebSocketPair();
    const server = pair[1];
    if (url.searchParams.get("accept") === "plain") {
      server.accept();
      this.plain.set(id, server);
      server.addEventListener("message", (event) => server.send(event.data === "ping" ? "pong" : `echo ${event.data}`));
      server.addEventListener("close", (event) => {
        this.plain.delete(id);
        if (reply) closeQuietly(server, event.code);
      });
    } else {
      this.ctx.acceptWebSocket(server, [id]);
      server.serializeAttachment({ reply });
    }
    server.send("welcome");
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  webSocketMessage(ws, message) {
    ws.send(`echo ${message}`);
  }

  webSocketClose(ws, code) {
    if (ws.deserializeAttachment()?.reply) closeQuietly(ws, code);
  }

  closeSocket(id, fromAlarm) {
    if (fromAlarm) {
      this.alarmCloses = [...(this.alarmCloses ?? []), id];
      return this.ctx.storage.setAlarm(Date.now()).then(() => ({ closing: true }));
    }
    const ws = this.plain.get(id) ?? this.ctx.getWebSockets(id)[0];
    if (!ws) return { closing: false };
    ws.close(4001, "bye");
    return { closing: true };
  }

  alarm() {
    for (const id of this.alarmCloses ?? []) this.ctx.getWebSockets(id)[0]?.close(4001, "bye");
    this.alarmCloses = [];
  }
}

function closeQuietly(ws, code) {
  try { ws.close(code === 1005 ? 1000 : code, "bye"); } catch { /* already closed */ }
}
