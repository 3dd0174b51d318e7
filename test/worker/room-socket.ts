/**
 * A WebSocket client inside workerd for the room tests: opens the upgrade through the real gateway
 * app, then queues every frame and the close so tests can await them in order.
 */
import { expect } from "vitest";

export interface Frame { type: string; [key: string]: unknown }

export class TestSocket {
  readonly ws: WebSocket;
  readonly response: Response;
  #frames: (string | ArrayBuffer)[] = [];
  #waiting: ((frame: string | ArrayBuffer) => void) | null = null;
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(response: Response) {
    this.response = response;
    this.ws = response.webSocket!;
    this.closed = new Promise((resolve) => {
      this.ws.addEventListener("close", (event) => resolve({ code: event.code, reason: event.reason }));
    });
    this.ws.addEventListener("message", (event) => {
      const data = event.data as string | ArrayBuffer;
      if (this.#waiting) { const w = this.#waiting; this.#waiting = null; w(data); } else this.#frames.push(data);
    });
    this.ws.accept();
  }

  /** The next raw frame, failing after `ms`. */
  nextRaw(ms = 2000): Promise<string | ArrayBuffer> {
    const queued = this.#frames.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.#waiting = null; reject(new Error(`no frame within ${ms} ms`)); }, ms);
      this.#waiting = (frame) => { clearTimeout(timer); resolve(frame); };
    });
  }

  async next(ms?: number): Promise<Frame> {
    const raw = await this.nextRaw(ms);
    expect(typeof raw).toBe("string");
    return JSON.parse(raw as string) as Frame;
  }

  /** Asserts nothing arrives for `ms`. */
  async nothingWithin(ms = 100): Promise<void> {
    await expect(this.nextRaw(ms)).rejects.toThrow(/no frame/);
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === "string" || frame instanceof ArrayBuffer ? frame : JSON.stringify(frame));
  }

  close(code = 1000, reason = "bye"): void {
    this.ws.close(code, reason);
  }
}

type Call = (path: string, init?: RequestInit & { host?: string }) => Promise<Response>;

/** Opens a socket; fails the test unless the answer is a 101. */
export async function connect(call: Call, path: string, headers: Record<string, string> = {}): Promise<TestSocket> {
  const response = await call(path, { headers: { upgrade: "websocket", ...headers } });
  if (response.status !== 101) throw new Error(`expected 101, got ${response.status}: ${await response.text()}`);
  return new TestSocket(response);
}

/** Opens a socket and reads its welcome frame; returns the socket and its connection id. */
export async function join(call: Call, path: string, headers: Record<string, string> = {}): Promise<{ socket: TestSocket; id: string; welcome: Frame }> {
  const socket = await connect(call, path, headers);
  const welcome = await socket.next();
  expect(welcome.type).toBe("welcome");
  return { socket, id: welcome.id as string, welcome };
}

let counter = 0;
/** A room name no other test uses. */
export function uniqueRoom(prefix = "room"): string {
  return `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`;
}
