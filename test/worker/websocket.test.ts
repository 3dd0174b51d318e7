import { describe, expect, it } from "vitest";
import { GatewayError } from "../../src/errors.ts";
import { sendableCode } from "../../src/upstream/websocket.ts";
import { echoOf, errorOf, gatewayFor, testPolicy } from "../support/worker-gateway.ts";

const live = (extra: Record<string, unknown> = {}) => ({ id: "live", path: "/v1/live/*", origin: "echo", websocket: true, auth: "none", ...extra });

const requireToken = [testPolicy(async function requireToken(c, next) {
  if (c.req.header("x-test-token") !== "ok") throw new GatewayError("token_missing", "A token is required.");
  await next();
})];

describe("WebSocket pass-through", () => {
  it("answers a plain HTTP request with 426", async () => {
    const call = gatewayFor({ routes: [live()] });
    const response = await call("/v1/live/feed");
    expect(response.status).toBe(426);
    expect((await errorOf(response)).code).toBe("upgrade_required");
  });

  it("runs the route's auth first: a refused upgrade never reaches the origin and never gets a 101", async () => {
    const call = gatewayFor({ routes: [live()] }, { policies: requireToken });
    const response = await call("/v1/live/feed", { headers: { upgrade: "websocket" } });
    expect(response.status).toBe(401);
    expect(response.webSocket).toBeNull();
  });

  it("sends the upgrade with forwarding's header hygiene and passes back an origin that does not upgrade", async () => {
    // The echo origin is plain HTTP: it answers 200 with what it received.
    const call = gatewayFor({ routes: [live({ rewrite: "/ws/*", requestHeaders: { set: { "x-upstream": "1" } }, responseHeaders: { set: { "x-edited": "yes" } } })] }, { policies: requireToken });
    const response = await call("/v1/live/feed?x=1", {
      headers: {
        upgrade: "websocket", "x-test-token": "ok", "x-forwarded-for": "6.6.6.6", "x-original-url": "/admin",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13", "sec-websocket-protocol": "chat.v1",
      },
    });
    expect(response.headers.get("x-edited")).toBe("yes");
    const echo = await echoOf(response);
    expect(echo.url).toBe("/ws/feed?x=1");
    expect(echo.headers).toMatchObject({ upgrade: "websocket", "x-upstream": "1", "x-forwarded-for": "203.0.113.7", "sec-websocket-protocol": "chat.v1" });
    expect(echo.headers).not.toHaveProperty("x-original-url");
    // The runtime writes its own handshake; the client's key is not replayed.
    expect(echo.headers["sec-websocket-key"]).not.toBe("dGhlIHNhbXBsZSBub25jZQ==");
  });

  it("answers 502 when the origin cannot be reached", async () => {
    const call = gatewayFor({ origins: { echo: { url: "http://127.0.0.1:9" } }, routes: [live()] });
    const response = await call("/v1/live/feed", { headers: { upgrade: "websocket" } });
    expect([response.status, (await errorOf(response)).code]).toEqual([502, "origin_unreachable"]);
  });

  it("closes each side with a code it may send", () => {
    expect([1000, 1001, 1005, 1006, 1015, 3000, 4999, 5000, 999].map(sendableCode)).toEqual([1000, 1001, 1000, 1011, 1011, 3000, 4999, 1011, 1011]);
  });
});
