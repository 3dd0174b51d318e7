/**
 * A WebSocket client process for the room fan-out scenario (`ws` from Node), driven by the harness
 * over IPC (lib/fanout.ts). The harness runs two of these so that parsing 1,000 clients' frames is
 * split over two event loops. Each holds groups of sockets (one group per target room), and on
 * `run`, makes some of a group's sockets senders:
 *
 * - `paced`: each sender sends at a fixed rate, evenly spaced; a message carries its scheduled
 *   send time, so a sender that runs late still counts its lateness (no coordinated omission).
 * - `saturate`: each sender keeps `window` messages in flight: it sends the next when its own
 *   message comes back (the room echoes to the sender too).
 *
 * Frames sent: `{"type":"broadcast","data":{"t":<send time, epoch ms>,"s":<sender id>}}`; every
 * `{"type":"message","data":{"t":...}}` received counts as one delivery, timed against the clock
 * (performance.timeOrigin + performance.now(), the same epoch clock in both processes).
 * Exits when the harness goes away (IPC disconnect or stdin closed).
 */
import WebSocket from "ws";

export type Command =
  | { cmd: "connect"; group: string; url: string; count: number }
  | { cmd: "run"; group: string; mode: "paced" | "saturate"; senders: number; rate: number; window: number; warmupAt: number; startAt: number; endAt: number; drainMs: number }
  | { cmd: "close"; group: string };

export type Reply =
  | { event: "connected"; group: string; count: number; ms: number }
  | { event: "result"; group: string; deliveries: number; sentInWindow: number; sent: number; latencies: Float64Array; unexpectedCloses: number; sendErrors: number }
  | { event: "closed"; group: string }
  | { event: "error"; message: string };

const now = (): number => performance.timeOrigin + performance.now();
const child = process.env.FANOUT_CHILD ?? "0";

interface Group {
  sockets: WebSocket[];
  unexpectedCloses: number;
  closing: boolean;
}

interface Measurement {
  group: Group;
  mode: "paced" | "saturate";
  startAt: number;
  endAt: number;
  /** paced: deliveries are those of messages sent in [startAt, endAt); saturate: received in it. */
  deliveries: number;
  latencies: Float64Array;
  count: number;
  /** sender id -> socket, for the saturating echo loop. */
  senders: Map<string, WebSocket>;
  sentInWindow: number;
  sent: number;
  sendErrors: number;
  sending: boolean;
}

const groups = new Map<string, Group>();
let active: Measurement | undefined;

function reply(message: Reply): void {
  process.send?.(message);
}

function record(m: Measurement, t: number, at: number): void {
  const inWindow = m.mode === "paced" ? t >= m.startAt && t < m.endAt : at >= m.startAt && at < m.endAt;
  if (!inWindow) return;
  m.deliveries++;
  if (m.count === m.latencies.length) {
    const grown = new Float64Array(m.latencies.length * 2);
    grown.set(m.latencies);
    m.latencies = grown;
  }
  m.latencies[m.count++] = at - t;
}

function send(m: Measurement, ws: WebSocket, id: string, t: number): void {
  try {
    ws.send(`{"type":"broadcast","data":{"t":${t},"s":"${id}"}}`);
    m.sent++;
    if (t >= m.startAt && t < m.endAt) m.sentInWindow++;
  } catch {
    m.sendErrors++;
  }
}

function onFrame(group: Group, socket: WebSocket, data: WebSocket.RawData): void {
  const m = active;
  if (m === undefined || m.group !== group) return;
  const at = now();
  let frame: { type?: string; data?: { t?: unknown; s?: unknown } };
  try {
    frame = JSON.parse(data.toString());
  } catch {
    return;
  }
  if (frame.type !== "message" || typeof frame.data?.t !== "number") return;
  record(m, frame.data.t, at);
  if (m.mode === "saturate" && m.sending && typeof frame.data.s === "string") {
    // Only the sender's own copy of its message releases the next one.
    if (m.senders.get(frame.data.s) === socket) {
      if (at < m.endAt) send(m, socket, frame.data.s, at);
      else m.sending = false;
    }
  }
}

async function connect(name: string, url: string, count: number): Promise<void> {
  const started = now();
  const group: Group = { sockets: [], unexpectedCloses: 0, closing: false };
  groups.set(name, group);
  const open = (): Promise<void> => new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.on("message", (data) => onFrame(group, ws, data));
    ws.on("error", () => { /* a failed handshake rejects below; later errors end in "close" */ });
    ws.once("open", () => {
      group.sockets.push(ws);
      resolve();
    });
    ws.once("error", reject);
    ws.on("close", () => {
      if (!group.closing) group.unexpectedCloses++;
    });
  });
  // 25 handshakes at a time: enough to be quick, few enough not to time out on a busy machine.
  for (let i = 0; i < count; i += 25) await Promise.all(Array.from({ length: Math.min(25, count - i) }, open));
  reply({ event: "connected", group: name, count: group.sockets.length, ms: now() - started });
}

async function run(c: Extract<Command, { cmd: "run" }>): Promise<void> {
  const group = groups.get(c.group);
  if (!group) throw new Error(`no group ${c.group}`);
  const senders = group.sockets.slice(0, c.senders);
  const m: Measurement = {
    group, mode: c.mode, startAt: c.startAt, endAt: c.endAt, deliveries: 0, latencies: new Float64Array(1 << 16), count: 0,
    senders: new Map(senders.map((ws, i) => [`${child}.${i}`, ws])), sentInWindow: 0, sent: 0, sendErrors: 0, sending: true,
  };
  active = m;
  await new Promise((r) => setTimeout(r, Math.max(0, c.warmupAt - now())));
  if (c.mode === "saturate") {
    for (const [id, ws] of m.senders) for (let i = 0; i < c.window; i++) send(m, ws, id, now());
    await new Promise((r) => setTimeout(r, Math.max(0, c.endAt - now())));
    m.sending = false;
  } else {
    // Every sender at `rate` per second, phases spread evenly over the senders.
    const interval = 1000 / (c.rate * senders.length);
    const ids = [...m.senders.keys()];
    let next = 0;
    await new Promise<void>((resolve) => {
      const tick = () => {
        const t = now();
        while (c.warmupAt + next * interval <= t) {
          const scheduled = c.warmupAt + next * interval;
          if (scheduled >= c.endAt) return resolve();
          const id = ids[next % ids.length]!;
          send(m, m.senders.get(id)!, id, scheduled);
          next++;
        }
        setTimeout(tick, Math.min(5, Math.max(0, c.warmupAt + next * interval - t)));
      };
      tick();
    });
  }
  await new Promise((r) => setTimeout(r, Math.max(0, c.endAt + c.drainMs - now())));
  active = undefined;
  reply({
    event: "result", group: c.group, deliveries: m.deliveries, sentInWindow: m.sentInWindow, sent: m.sent,
    latencies: m.latencies.slice(0, m.count), unexpectedCloses: group.unexpectedCloses, sendErrors: m.sendErrors,
  });
}

async function close(name: string): Promise<void> {
  const group = groups.get(name);
  if (group) {
    group.closing = true;
    await Promise.all(group.sockets.map((ws) => new Promise<void>((resolve) => {
      if (ws.readyState === WebSocket.CLOSED) return resolve();
      const timer = setTimeout(() => { ws.terminate(); resolve(); }, 2000);
      ws.once("close", () => { clearTimeout(timer); resolve(); });
      ws.close(1000);
    })));
    groups.delete(name);
  }
  reply({ event: "closed", group: name });
}

process.on("message", (message: Command) => {
  const work = message.cmd === "connect" ? connect(message.group, message.url, message.count)
    : message.cmd === "run" ? run(message)
    : close(message.group);
  work.catch((err: unknown) => reply({ event: "error", message: String(err instanceof Error ? err.stack : err) }));
});
process.on("disconnect", () => process.exit(0));
process.stdin.on("end", () => process.exit(0));
process.stdin.on("error", () => process.exit(0));
process.stdin.resume();
