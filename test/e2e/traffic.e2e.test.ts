/**
 * The traffic policies in the real Worker on `workerd serve`, over real sockets, in front of real
 * Node origins: body limits on real uploads (and what the origin really received), static and
 * redirect routes, a route's own timeout, and CORS on the wire (the browser's view of CORS is in
 * test/browser/).
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { startEchoOrigin } from "../support/echo-origin.ts";
import { listenOnLoopback, useGateway } from "../support/e2e-gateway.ts";

const MB = 1024 * 1024;
const APP = "https://app.example.com";

/** An origin that records, per request, how many body bytes arrived and whether the body ended. */
interface Received { url: string; bytes: number; ended: boolean; closed: boolean }
async function startRecorder() {
  const received: Received[] = [];
  const origin = await listenOnLoopback((req, res) => {
    const entry: Received = { url: req.url!, bytes: 0, ended: false, closed: false };
    received.push(entry);
    req.on("data", (chunk: Buffer) => { entry.bytes += chunk.length; });
    req.on("end", () => { entry.ended = true; res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(entry)); });
    req.on("close", () => { entry.closed = true; });
  });
  return { ...origin, received };
}

const e2e = useGateway({ echo: startEchoOrigin, recorder: startRecorder }, ({ echo, recorder }) => ({
  routes: {
    origins: { echo: { url: echo.url }, recorder: { url: recorder.url }, slow: { url: echo.url, timeoutMs: 5000 } },
    defaults: { maxBodyBytes: 1 * MB, cors: { allowOrigins: [APP] } },
    routes: [
      { id: "capped", path: "/capped", methods: ["POST"], origin: "recorder", auth: "none" },
      { id: "health", path: "/health", methods: ["GET"], auth: "none", respond: { json: { status: "ok" } } },
      { id: "moved", path: "/docs/:page", auth: "none", redirect: { to: "https://docs.example.com/v2/:page", status: 308, preserveQuery: true } },
      { id: "quick", path: "/quick", origin: "slow", auth: "none", timeoutMs: 400 },
      { id: "patient", path: "/patient", origin: "slow", auth: "none" },
    ],
  },
}));

function send(path: string, init: { method?: string; headers?: Record<string, string> } = {}): Promise<{ res: IncomingMessage; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${e2e.gateway.url}${path}`, { method: init.method ?? "GET", headers: init.headers }, (res) => {
      let body = "";
      res.on("data", (c) => { body += c; });
      res.on("end", () => resolve({ res, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("body limits over real sockets", () => {
  it("answers a Content-Length over the limit with 413 at once, before the client sends any of the body", async () => {
    const started = Date.now();
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${e2e.gateway.url}/capped`, { method: "POST", headers: { "content-length": String(1024 * MB), "content-type": "application/octet-stream" } }, (res) => {
        let text = "";
        res.on("data", (c) => { text += c; });
        res.on("end", () => { resolve({ status: res.statusCode!, body: text }); req.destroy(); });
      });
      req.on("error", reject);
      req.flushHeaders(); // headers only: the 1 GiB body is never written
    });
    expect(status).toBe(413);
    expect(JSON.parse(body).error.code).toBe("payload_too_large");
    expect(Date.now() - started).toBeLessThan(2000);
    expect(e2e.recorder.received.filter((r) => r.url === "/capped")).toEqual([]);
  });

  it("cuts a chunked upload off with 413 where it crosses the limit; the origin never sees it end", async () => {
    const chunk = Buffer.alloc(64 * 1024, 0x62);
    const { status, body, written } = await new Promise<{ status: number; body: string; written: number }>((resolve, reject) => {
      let written = 0;
      let done = false;
      const req = httpRequest(`${e2e.gateway.url}/capped`, { method: "POST", headers: { "transfer-encoding": "chunked" } }, (res) => {
        done = true;
        let text = "";
        res.on("data", (c) => { text += c; });
        res.on("end", () => { resolve({ status: res.statusCode!, body: text, written }); req.destroy(); });
      });
      req.on("error", (err) => { if (!done) reject(err); });
      // Send a quarter MB past the limit and then nothing more, without ending the body: only the
      // gateway's cut can answer. (A client that keeps writing after the gateway has answered and
      // closed races its own writes against reading the 413: it may get EPIPE first, as TCP allows.)
      const pump = () => {
        while (!done && written < 1.25 * MB) {
          written += chunk.length;
          if (!req.write(chunk)) { req.once("drain", pump); return; }
        }
      };
      pump();
    });
    expect(status).toBe(413);
    expect(JSON.parse(body).error.code).toBe("payload_too_large");
    expect(written).toBeGreaterThan(1 * MB);
    await new Promise((r) => setTimeout(r, 300));
    const seen = e2e.recorder.received.filter((r) => r.url === "/capped");
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ ended: false, closed: true });
    expect(seen[0]!.bytes).toBeLessThanOrEqual(1 * MB);
  });

  it("lets a chunked upload under the limit through whole", async () => {
    const result = await new Promise<Received>((resolve, reject) => {
      const req = httpRequest(`${e2e.gateway.url}/capped`, { method: "POST", headers: { "transfer-encoding": "chunked" } }, (res) => {
        let text = "";
        res.on("data", (c) => { text += c; });
        res.on("end", () => resolve(JSON.parse(text)));
      });
      req.on("error", reject);
      for (let i = 0; i < 16; i++) req.write(Buffer.alloc(64 * 1024, 0x63));
      req.end();
    });
    expect(result).toMatchObject({ bytes: 1 * MB, ended: true });
  });
});

describe("static and redirect routes over real sockets", () => {
  it("answers a respond route with no origin, with CORS like any other route", async () => {
    const { res, body } = await send("/health", { headers: { origin: APP } });
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(body)).toEqual({ status: "ok" });
    expect(res.headers["access-control-allow-origin"]).toBe(APP);
  });

  it("answers a redirect route with the status and the substituted Location", async () => {
    const { res } = await send("/docs/getting-started?lang=en");
    expect(res.statusCode).toBe(308);
    expect(res.headers.location).toBe("https://docs.example.com/v2/getting-started?lang=en");
  });
});

describe("a route's own timeout over real sockets", () => {
  it("answers 504 at the route's timeoutMs while the origin's other routes wait longer", async () => {
    const started = Date.now();
    const quick = await send("/quick", { headers: { "x-origin-delay": "1500" } });
    expect(quick.res.statusCode).toBe(504);
    expect(Date.now() - started).toBeLessThan(1400);
    expect((await send("/patient", { headers: { "x-origin-delay": "1000" } })).res.statusCode).toBe(200);
  });
});

describe("CORS on the wire", () => {
  it("answers a preflight 204 and puts the headers on the core's 404", async () => {
    const preflight = await send("/capped", { method: "OPTIONS", headers: { origin: APP, "access-control-request-method": "POST", "access-control-request-headers": "content-type" } });
    expect(preflight.res.statusCode).toBe(204);
    expect(preflight.res.headers).toMatchObject({ "access-control-allow-origin": APP, "access-control-allow-methods": "POST", "access-control-allow-headers": "content-type" });
    const missing = await send("/nowhere", { headers: { origin: APP } });
    expect(missing.res.statusCode).toBe(404);
    expect(missing.res.headers["access-control-allow-origin"]).toBe(APP);
    expect(missing.res.headers.vary).toBe("Origin");
  });
});
