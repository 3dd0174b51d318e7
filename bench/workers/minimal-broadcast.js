// The baseline for the room fan-out benchmark: the least a Durable Object can do to broadcast.
// Any request with Upgrade: websocket to /<room> joins the object named by the path (binding ROOMS,
// class MinimalBroadcast, hibernation API); every text frame a client sends, `{"data":X}`, goes to
// every socket in the room, sender included, in the room's envelope
// `{"type":"message","from":ID,"data":X,"at":MS}`, so clients do the same work per delivery in
// both runs (with raw frames instead, the clients' parsing of the shorter frame dominates the
// comparison). No identity checks, limits, presence, or attachment beyond the id.
export default {
  async fetch(request, env) {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") return new Response("upgrade required", { status: 426 });
    const name = new URL(request.url).pathname.slice(1) || "bench";
    return env.ROOMS.get(env.ROOMS.idFromName(name)).fetch(request);
  },
};

export class MinimalBroadcast {
  constructor(ctx) {
    this.ctx = ctx;
  }

  async fetch() {
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1]);
    pair[1].serializeAttachment(crypto.randomUUID());
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  async webSocketMessage(ws, message) {
    let data;
    try { data = JSON.parse(message).data; } catch { return; }
    const frame = JSON.stringify({ type: "message", from: ws.deserializeAttachment(), data, at: Date.now() });
    for (const socket of this.ctx.getWebSockets()) {
      try { socket.send(frame); } catch { /* closing */ }
    }
  }

  async webSocketClose(ws, code, reason) {
    try { ws.close(code === 1005 || code === 1006 ? 1000 : code, reason); } catch { /* closed */ }
  }
}
