/**
 * A WebSocket client inside workerd for the room tests: opens the upgrade through the real gateway
 * app, then queues every frame and the close so tests can await them in order.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { expect } from "vitest";
import { createGateway } from "../../src/app.ts";
import { loadRouteTable } from "../../src/config/index.ts";
import type { RouteBuilders } from "../../src/router/index.ts";

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

/**
 * Like `gatewayFor` (test/support/worker-gateway.ts), with extra bindings (the admin token) and
 * optional builders (a stand-in JWT policy until the real one lands).
 */
export function gatewayWith(table: Record<string, unknown> & { routes: Record<string, unknown>[] }, options: { bindings?: Record<string, string>; builders?: RouteBuilders } = {}) {
  const app = createGateway(loadRouteTable({ origins: { echo: { url: env.ECHO_ORIGIN } }, ...table }), options.builders ? { builders: options.builders } : {});
  const bindings = { ...env, ...options.bindings };
  return async function call(path: string, init: RequestInit & { host?: string } = {}): Promise<Response> {
    const { host = "gateway.test", ...rest } = init;
    const request = new Request(`http://${host}${path}`, rest);
    request.headers.set("cf-connecting-ip", "203.0.113.7");
    const ctx = createExecutionContext();
    const response = await app.fetch(request, bindings, ctx);
    await waitOnExecutionContext(ctx);
    return response;
  };
}
