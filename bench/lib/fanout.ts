/**
 * The harness side of the WebSocket fan-out load: client processes (lib/ws-clients.ts) started as
 * tracked children with an IPC channel, sockets spread evenly over them, runs started at the same
 * instant in every process and their results merged (exact latency percentiles over every delivery).
 */
import { fileURLToPath } from "node:url";
import { cpuMs } from "./cpu.ts";
import { startChild, whileAlive, type Child } from "../../tools/processes.ts";
import type { Command, Reply } from "./ws-clients.ts";

export interface FanoutResult {
  label: string;
  clients: number;
  mode: "paced" | "saturate";
  /** Messages offered per second (paced), over all senders. */
  messageRate?: number;
  /** Deliveries (messages received by clients) per second in the measured window. */
  deliveriesPerSecond: number;
  /** paced: deliveries / (messages sent in the window x clients). */
  deliveredShare?: number;
  p50: number;
  p99: number;
  max: number;
  /** workerd CPU (us) per delivery in the window. */
  cpuUsPerDelivery?: number;
  seconds: number;
  unexpectedCloses: number;
  sendErrors: number;
}

export interface RunOptions {
  mode: "paced" | "saturate";
  /** Senders in each client process. */
  sendersPerProcess: number;
  /** paced: messages per second per sender. */
  rate?: number;
  /** saturate: messages in flight per sender. */
  window?: number;
  warmupSeconds: number;
  seconds: number;
  drainMs: number;
  cpuPid?: number | undefined;
}

class ClientProcess {
  private waiters: ((reply: Reply) => boolean)[] = [];
  readonly child: Child;
  constructor(child: Child) {
    this.child = child;
    child.process.on("message", (reply: Reply) => {
      if (reply.event === "error") throw new Error(`ws client: ${reply.message}`);
      this.waiters = this.waiters.filter((w) => !w(reply));
    });
  }
  request<E extends Reply["event"]>(command: Command, event: E, ms = 60_000): Promise<Extract<Reply, { event: E }>> {
    const answer = new Promise<Extract<Reply, { event: E }>>((resolve) => {
      this.waiters.push((reply) => {
        if (reply.event !== event || (reply as { group?: string }).group !== command.group) return false;
        resolve(reply as Extract<Reply, { event: E }>);
        return true;
      });
    });
    this.child.process.send(command);
    return whileAlive(this.child, `ws client (${command.cmd} ${command.group})`, answer, ms);
  }
}

const percentile = (sorted: Float64Array, q: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

export interface FanoutClients {
  connect(group: string, url: string, clients: number): Promise<number>;
  run(label: string, group: string, clients: number, options: RunOptions): Promise<FanoutResult>;
  close(group: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startFanoutClients(processes: number): Promise<FanoutClients> {
  const script = fileURLToPath(new URL("./ws-clients.ts", import.meta.url));
  const children = Array.from({ length: processes }, (_, i) => new ClientProcess(startChild(process.execPath, [script], {
    stdio: ["pipe", "pipe", "pipe", "ipc"],
    serialization: "advanced",
    env: { ...process.env, FANOUT_CHILD: String(i) },
  })));
  const share = (total: number, i: number) => Math.floor(total / processes) + (i < total % processes ? 1 : 0);
  return {
    async connect(group, url, clients) {
      const replies = await Promise.all(children.map((c, i) => c.request({ cmd: "connect", group, url, count: share(clients, i) }, "connected")));
      return replies.reduce((n, r) => n + r.count, 0);
    },
    async run(label, group, clients, o) {
      const epoch = performance.timeOrigin + performance.now();
      const warmupAt = epoch + 200;
      const startAt = warmupAt + o.warmupSeconds * 1000;
      const endAt = startAt + o.seconds * 1000;
      let cpuStart: number | undefined;
      let cpuEnd: number | undefined;
      const at = (t: number, f: () => void) => setTimeout(f, Math.max(0, t - (performance.timeOrigin + performance.now())));
      at(startAt, () => { cpuStart = cpuMs(o.cpuPid); });
      at(endAt, () => { cpuEnd = cpuMs(o.cpuPid); });
      const replies = await Promise.all(children.map((c) => c.request({
        cmd: "run", group, mode: o.mode, senders: o.sendersPerProcess, rate: o.rate ?? 0, window: o.window ?? 1,
        warmupAt, startAt, endAt, drainMs: o.drainMs,
      }, "result", (endAt - epoch) + o.drainMs + 30_000)));
      const deliveries = replies.reduce((n, r) => n + r.deliveries, 0);
      const sentInWindow = replies.reduce((n, r) => n + r.sentInWindow, 0);
      const all = new Float64Array(replies.reduce((n, r) => n + r.latencies.length, 0));
      let offset = 0;
      for (const r of replies) {
        all.set(r.latencies, offset);
        offset += r.latencies.length;
      }
      all.sort();
      const result: FanoutResult = {
        label, clients, mode: o.mode,
        deliveriesPerSecond: deliveries / o.seconds,
        p50: percentile(all, 0.5), p99: percentile(all, 0.99), max: all.length > 0 ? all[all.length - 1]! : NaN,
        seconds: o.seconds,
        unexpectedCloses: replies.reduce((n, r) => n + r.unexpectedCloses, 0),
        sendErrors: replies.reduce((n, r) => n + r.sendErrors, 0),
      };
      if (o.mode === "paced") {
        result.messageRate = (o.rate ?? 0) * o.sendersPerProcess * processes;
        result.deliveredShare = sentInWindow > 0 ? deliveries / (sentInWindow * clients) : NaN;
      }
      if (cpuStart !== undefined && cpuEnd !== undefined && deliveries > 0) result.cpuUsPerDelivery = ((cpuEnd - cpuStart) * 1000) / deliveries;
      return result;
    },
    async close(group) {
      await Promise.all(children.map((c) => c.request({ cmd: "close", group }, "closed")));
    },
    async stop() {
      for (const c of children) c.child.process.disconnect?.();
      await Promise.all(children.map((c) => c.child.stop()));
    },
  };
}
