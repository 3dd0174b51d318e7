/**
 * Body limits through the real Worker in front of the real echo origin: a declared length over the
 * limit is refused before any origin contact; a body without one streams to the origin and is cut
 * off with 413 as soon as it crosses the limit; bodies under the limit arrive whole.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { echoOf, errorOf, gatewayFor, route } from "../support/worker-gateway.ts";

const KB = 1024;
const call = gatewayFor({
  defaults: { maxBodyBytes: 64 * KB },
  routes: [
    route("small", "/small", { maxBodyBytes: 10 }),
    route("default", "/default"),
    route("large", "/large", { maxBodyBytes: 4 * 1024 * KB }),
    route("empty-only", "/empty-only", { maxBodyBytes: 0 }),
    route("down", "/down", { origin: "closed", maxBodyBytes: 10 }),
    // A rate limit's Durable Object call before forwarding: the body crosses the limit first.
    route("counted", "/counted", { origin: "patient", maxBodyBytes: 10, rateLimit: { plan: "many", by: "ip" } }),
  ],
  plans: { many: { rate: { limit: 1000, per: "1s" } } },
  origins: { closed: { url: "http://127.0.0.1:1" }, patient: { url: env.ECHO_ORIGIN, timeoutMs: 5000 } },
});

/** A body without a declared length (sent chunked), of `chunks` chunks of `size` bytes. */
function streamed(chunks: number, size: number): { body: ReadableStream<Uint8Array>; pulled: () => number } {
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent === chunks) { controller.close(); return; }
      sent++;
      controller.enqueue(new Uint8Array(size).fill(0x61));
    },
  }, { highWaterMark: 0 });
  return { body, pulled: () => sent };
}

describe("a body with a declared length", () => {
  it("over the route's limit is answered 413 at once, without reading it or reaching the origin", async () => {
    const { body, pulled } = streamed(1000, KB);
    const response = await call("/small", { method: "POST", body, headers: { "content-length": String(1000 * KB) } });
    expect(response.status).toBe(413);
    expect(await errorOf(response)).toMatchObject({ code: "payload_too_large", message: "The request body is larger than this route's limit of 10 bytes." });
    expect(pulled()).toBeLessThanOrEqual(1);
  });

  it("at the limit passes whole", async () => {
    const echo = await echoOf(await call("/small", { method: "POST", body: "0123456789", headers: { "content-length": "10" } }));
    expect(echo.bodyBytes).toBe(10);
  });

  it("uses defaults.maxBodyBytes on a route without its own", async () => {
    expect((await call("/default", { method: "POST", body: "x".repeat(64 * KB + 1), headers: { "content-length": String(64 * KB + 1) } })).status).toBe(413);
    expect((await echoOf(await call("/default", { method: "POST", body: "x".repeat(64 * KB), headers: { "content-length": String(64 * KB) } }))).bodyBytes).toBe(64 * KB);
  });

  it("of 0 bytes passes where no body is allowed", async () => {
    expect((await echoOf(await call("/empty-only", { method: "POST", body: "", headers: { "content-length": "0" } }))).bodyBytes).toBe(0);
    expect((await call("/empty-only", { method: "POST", body: "x", headers: { "content-length": "1" } })).status).toBe(413);
  });
});

describe("a body without a declared length", () => {
  it("under the limit streams to the origin whole", async () => {
    const { body } = streamed(64, 16 * KB);
    const echo = await echoOf(await call("/large", { method: "POST", body }));
    expect(echo.bodyBytes).toBe(1024 * KB);
    expect(echo.headers["transfer-encoding"]).toBe("chunked");
  });

  it("that crosses the limit is cut off there with 413, not 502, and the rest is never read", async () => {
    const { body, pulled } = streamed(10_000, KB);
    const response = await call("/default", { method: "POST", body });
    expect(response.status).toBe(413);
    expect((await errorOf(response)).code).toBe("payload_too_large");
    // 64 KiB is 64 chunks; a few more may be in flight, never the 10,000.
    expect(pulled()).toBeLessThan(100);
  });

  it("that crosses the limit before forwarding starts is 413 at once, not after the origin's timeout", async () => {
    const { body } = streamed(3, KB);
    const started = Date.now();
    const response = await call("/counted", { method: "POST", body });
    expect(response.status).toBe(413);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("still reads as the origin's fault when the origin is down and the body is under the limit", async () => {
    const { body } = streamed(1, 5);
    const response = await call("/down", { method: "POST", body });
    expect(response.status).toBe(502);
  });
});

describe("a route without a limit", () => {
  const unlimited = gatewayFor({ routes: [route("free", "/free")] });

  it("takes any body", async () => {
    const { body } = streamed(256, 16 * KB);
    expect((await echoOf(await unlimited("/free", { method: "POST", body }))).bodyBytes).toBe(4096 * KB);
  });
});
