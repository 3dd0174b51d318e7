/**
 * Request mirroring through the real Worker: whatever happens to the copy, the client gets the
 * origin's answer, and a teed body reaches the origin whole (with its Content-Length). Which
 * requests the mirror origin receives is tested end to end (test/e2e/upstreams.e2e.test.ts).
 */
import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { echoOf, gatewayFor, route } from "../support/worker-gateway.ts";

afterEach(() => vi.restoreAllMocks());

const body = "x".repeat(10_000);
const sha256 = async (text: string) => [...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)))].map((b) => b.toString(16).padStart(2, "0")).join("");

describe("mirroring a route's requests", () => {
  const call = gatewayFor({
    origins: { refused: { url: "http://127.0.0.1:1" }, copy: { url: `${env.ECHO_ORIGIN}/copy` } },
    routes: [
      route("broken-mirror", "/broken/*", { mirror: { origin: "refused", percent: 100, body: true } }),
      route("teed", "/teed/*", { mirror: { origin: "copy", percent: 100, body: true, maxBodyBytes: 20_000 } }),
      route("bodiless", "/bodiless/*", { mirror: { origin: "copy", percent: 100 } }),
    ],
  });

  it("never lets a failing mirror touch the client's answer; the failure is one operator line", async () => {
    const warnings: string[] = [];
    vi.spyOn(console, "warn").mockImplementation((line: unknown) => { warnings.push(String(line)); });
    const echo = await echoOf(await call("/broken/a?q=1", { method: "POST", body, headers: { "content-length": String(body.length) } }));
    expect(echo.url).toBe("/broken/a?q=1");
    expect(echo.bodyBytes).toBe(body.length);
    expect(warnings.filter((l) => l.includes("mirror_failed")).length).toBe(1);
    expect(warnings.join("")).toContain(`"routeId":"broken-mirror"`);
  });

  it("sends the origin the whole body, with its Content-Length, when the body is teed", async () => {
    const echo = await echoOf(await call("/teed/upload", { method: "PUT", body, headers: { "content-type": "text/plain", "content-length": String(body.length) } }));
    expect(echo.bodyBytes).toBe(body.length);
    expect(echo.bodySha256).toBe(await sha256(body));
    expect(echo.headers["content-length"]).toBe(String(body.length));
    expect(echo.headers["transfer-encoding"]).toBeUndefined();
  });

  it("forwards requests with bodies untouched when the route does not tee them, or when they are too large", async () => {
    const big = "y".repeat(30_000);
    for (const [path, sent] of [["/bodiless/x", body], ["/teed/big", big]] as const) {
      const echo = await echoOf(await call(path, { method: "POST", body: sent, headers: { "content-length": String(sent.length) } }));
      expect(echo.bodySha256).toBe(await sha256(sent));
    }
  });
});
