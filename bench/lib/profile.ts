/**
 * CPU profiles of a Worker isolate through workerd's V8 inspector (Chrome DevTools protocol over
 * a WebSocket): start the sampling profiler, run some load, stop, and sum the samples up by
 * function, self time and inclusive time. Native work outside JavaScript (workerd's HTTP stack,
 * its streams) shows up as "(program)" or is not sampled at all; workerd CPU per request
 * (lib/cpu.ts) covers it.
 */
import WebSocket from "ws";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface FunctionCost {
  name: string;
  selfMs: number;
  totalMs: number;
}

export interface ProfileSummary {
  sampledMs: number;
  functions: FunctionCost[];
}

class Inspector {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly socket: WebSocket;
  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.on("message", (data) => {
      const message = JSON.parse(String(data)) as { id?: number; result?: unknown; error?: { message: string } };
      if (message.id === undefined) return;
      const waiter = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.error) waiter?.reject(new Error(message.error.message));
      else waiter?.resolve(message.result);
    });
  }

  static async connect(url: string): Promise<Inspector> {
    const socket = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
    });
    return new Inspector(socket);
  }

  send<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.socket.send(JSON.stringify({ id, method, params }));
    });
  }

  close(): void {
    this.socket.close();
  }
}

/** Profiles the isolate at `url` (ws://host:port/<service>) while `load` runs. */
export async function profileWhile(url: string, load: () => Promise<unknown>, samplingUs = 200): Promise<ProfileSummary> {
  const inspector = await Inspector.connect(url);
  try {
    await inspector.send("Profiler.enable");
    await inspector.send("Profiler.setSamplingInterval", { interval: samplingUs });
    await inspector.send("Profiler.start");
    await load();
    const { profile } = await inspector.send<{ profile: Profile }>("Profiler.stop");
    return summarize(profile);
  } finally {
    inspector.close();
  }
}

function nameOf(node: ProfileNode): string {
  const { functionName, url, lineNumber, columnNumber } = node.callFrame;
  if (functionName.startsWith("(")) return functionName;
  // Native functions have no position; scripts are named by their last path segment.
  const where = lineNumber < 0 || (lineNumber === 0 && columnNumber === 0 && !url) ? "native" : `${url.split("/").pop() || "?"}:${lineNumber + 1}:${columnNumber + 1}`;
  return `${functionName || "(anonymous)"} @${where}`;
}

function summarize(profile: Profile): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let sampledUs = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i + 1] ?? 0; // a sample's time is the gap to the next one
    sampledUs += dt;
    const node = byId.get(id)!;
    const name = nameOf(node);
    self.set(name, (self.get(name) ?? 0) + dt);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const n = nameOf(byId.get(at)!);
      if (seen.has(n) || n === "(root)") continue;
      seen.add(n);
      total.set(n, (total.get(n) ?? 0) + dt);
    }
  });
  const functions = [...total.entries()].map(([name, t]) => ({ name, selfMs: (self.get(name) ?? 0) / 1000, totalMs: t / 1000 }));
  return { sampledMs: sampledUs / 1000, functions };
}
