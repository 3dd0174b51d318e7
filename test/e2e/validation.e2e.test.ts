/**
 * Request validation end to end: the bundled gateway on plain `workerd serve` in front of the real
 * echo origin, driven by a real HTTP client (fixed-length and chunked bodies).
 */
import { createHash } from "node:crypto";
import { request as httpRequest } from "node:http";
import { describe, expect, it } from "vitest";
import { startEchoOrigin } from "../support/echo-origin.ts";
import type { Echo } from "../support/echo-types.ts";
import { useGateway } from "../support/e2e-gateway.ts";

const e2e = useGateway({ echo: startEchoOrigin }, ({ echo }) => ({
  routes: {
    origins: { echo: { url: echo.url } },
    routes: [{
      id: "orders", path: "/orders/:shop", methods: ["POST"], origin: "echo", auth: "none",
      validate: {
        params: { shop: "[a-z]{2,10}" },
        query: { type: "object", properties: { dryRun: { type: "boolean" } } },
        body: { type: "object", required: ["sku", "qty"], properties: { sku: { type: "string", minLength: 3 }, qty: { type: "integer", minimum: 1 } } },
        maxBodyBytes: 65_536,
      },
    }],
  },
}));

/** A POST over real HTTP; `chunked` sends the body in pieces without Content-Length. */
function post(path: string, body: Buffer, contentType: string, chunked = false): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { "content-type": contentType };
    if (!chunked) headers["content-length"] = body.length;
    const req = httpRequest(`${e2e.gateway.url}${path}`, { method: "POST", headers }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (c: string) => { text += c; }).on("end", () => resolve({ status: res.statusCode!, text }));
    });
    req.on("error", reject);
    if (chunked) {
      for (let i = 0; i < body.length; i += 4096) req.write(body.subarray(i, i + 4096));
      req.end();
    } else req.end(body);
  });
}

describe("request validation on workerd", () => {
  it("forwards a valid body byte for byte, fixed-length or chunked", async () => {
    const body = Buffer.from(JSON.stringify({ sku: "ABC", qty: 2, note: "x".repeat(20_000) }));
    for (const chunked of [false, true]) {
      const response = await post("/orders/acme?dryRun=true", body, "application/json", chunked);
      expect(response.status).toBe(200);
      const echo = JSON.parse(response.text) as Echo;
      expect(echo.bodyBytes).toBe(body.length);
      expect(echo.bodySha256).toBe(createHash("sha256").update(body).digest("hex"));
    }
  });

  it("answers 400 validation_failed with every problem, echoing no value", async () => {
    const response = await post("/orders/A1?dryRun=maybe", Buffer.from(JSON.stringify({ sku: "top-secret-sku-value".slice(0, 2), qty: 1.5 })), "application/json");
    expect(response.status).toBe(400);
    const { error } = JSON.parse(response.text) as { error: { code: string; problems: unknown[] } };
    expect(error.code).toBe("validation_failed");
    expect(error.problems).toEqual([
      { in: "params", pointer: "/shop", expected: `a value matching "[a-z]{2,10}"` },
      { in: "query", pointer: "/dryRun", expected: "a boolean" },
      { in: "body", pointer: "/sku", expected: "a string of at least 3 characters" },
      { in: "body", pointer: "/qty", expected: "an integer" },
    ]);
    expect(response.text).not.toContain("maybe");
    expect(response.text).not.toContain("1.5");
  });

  it("refuses a wrong content type with 415 and a chunked body over the cap with 413", async () => {
    expect((await post("/orders/acme", Buffer.from("sku=ABC"), "application/x-www-form-urlencoded")).status).toBe(415);
    const big = await post("/orders/acme", Buffer.from(JSON.stringify({ sku: "ABC", qty: 1, pad: "y".repeat(70_000) })), "application/json", true);
    expect(big.status).toBe(413);
    expect(JSON.parse(big.text).error.code).toBe("payload_too_large");
  });
});
