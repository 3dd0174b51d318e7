import { describe, expect, it } from "vitest";
import { compileRouteTable } from "../../src/router/index.ts";
import { loadRouteTable } from "../../src/config/index.ts";
import { POLICIES } from "../../src/policies/index.ts";
import { echoOf, errorOf, gatewayFor, route } from "../support/worker-gateway.ts";

type Problem = { in: string; pointer: string; expected: string };
async function problemsOf(response: Response): Promise<{ status: number; code: string; message: string; problems: Problem[]; text: string }> {
  const text = await response.text();
  const { error } = JSON.parse(text) as { error: { code: string; message: string; problems: Problem[] } };
  return { status: response.status, code: error.code, message: error.message, problems: error.problems, text };
}

const ORDER = {
  type: "object",
  required: ["sku", "qty"],
  additionalProperties: false,
  properties: {
    sku: { type: "string", pattern: "^[A-Z]{3}-[0-9]{4}$" },
    qty: { type: "integer", minimum: 1, maximum: 100 },
    note: { type: "string", maxLength: 10 },
    tags: { type: "array", items: { $ref: "#/$defs/tag" }, uniqueItems: true },
  },
  $defs: { tag: { type: "string", enum: ["red", "blue"] } },
};

const sha256 = async (bytes: Uint8Array) => [...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");
const post = (body: BodyInit | null, type = "application/json", extra: Record<string, string> = {}): RequestInit =>
  ({ method: "POST", headers: { "content-type": type, ...extra }, body });

describe("request validation", () => {
  const call = gatewayFor({
    routes: [
      route("orders", "/orders", { methods: ["POST", "PUT"], validate: { body: ORDER, maxBodyBytes: 2048 } }),
      route("items", "/items/:id", {
        methods: ["GET", "POST"],
        validate: {
          params: { id: "[0-9]{1,6}" },
          query: { type: "object", properties: { limit: { type: "integer", maximum: 50 }, tag: { type: "array", items: { type: "string" } }, id: { type: "string" } } },
          headers: { type: "object", required: ["x-tenant"], properties: { "x-tenant": { type: "string", minLength: 3 } } },
        },
      }),
      route("uploads", "/uploads", { methods: ["POST"], validate: { contentTypes: ["image/*", "application/*+json", "application/json"], body: { type: "object" } } }),
      route("open", "/open", { methods: ["POST"] }),
    ],
  });

  it("forwards a valid JSON body to the origin byte for byte", async () => {
    const text = JSON.stringify({ sku: "ABC-1234", qty: 3, tags: ["red"] });
    const bytes = new TextEncoder().encode(text);
    const echo = await echoOf(await call("/orders", post(text)));
    expect(echo.method).toBe("POST");
    expect(echo.bodyBytes).toBe(bytes.byteLength);
    expect(echo.bodySha256).toBe(await sha256(bytes));
  });

  it("forwards a valid chunked (streamed) body too", async () => {
    const text = JSON.stringify({ sku: "ABC-1234", qty: 1 });
    const bytes = new TextEncoder().encode(text);
    const stream = new ReadableStream({ start(c) { c.enqueue(bytes.slice(0, 5)); c.enqueue(bytes.slice(5)); c.close(); } });
    const echo = await echoOf(await call("/orders", { ...post(stream), duplex: "half" } as RequestInit));
    expect(echo.bodySha256).toBe(await sha256(bytes));
  });

  it("answers 400 validation_failed listing every problem by JSON pointer, and never echoes a value", async () => {
    const secret = "SECRET-VALUE-123456";
    const result = await problemsOf(await call("/orders", post(JSON.stringify({ sku: secret, qty: 0, note: secret, tags: ["red", "green", "red"], extra: secret }))));
    expect(result.status).toBe(400);
    expect(result.code).toBe("validation_failed");
    expect(result.problems).toEqual([
      { in: "body", pointer: "/sku", expected: `a string matching "^[A-Z]{3}-[0-9]{4}$"` },
      { in: "body", pointer: "/qty", expected: "a number >= 1" },
      { in: "body", pointer: "/note", expected: "a string of at most 10 characters" },
      { in: "body", pointer: "/tags/1", expected: `one of ["red","blue"]` },
      { in: "body", pointer: "/tags", expected: "an array without duplicate items" },
      { in: "body", pointer: "/extra", expected: "nothing here (the schema allows no value at this place)" },
    ]);
    expect(result.message).toMatch(/^The request failed validation with 6 problems: body \/sku: a string matching/);
    expect(result.text).not.toContain(secret);
    expect(result.text).not.toContain("green");
  });

  it("points a missing required member at the member itself", async () => {
    const result = await problemsOf(await call("/orders", post(JSON.stringify({ qty: 1 }))));
    expect(result.problems).toEqual([{ in: "body", pointer: "/sku", expected: "a value (required property)" }]);
  });

  it("lists at most 20 problems and says how many there were", async () => {
    const result = await problemsOf(await call("/orders", post(JSON.stringify({ sku: "ABC-1234", qty: 1, tags: Array.from({ length: 30 }, (_, i) => `t${i}`) }))));
    expect(result.problems).toHaveLength(20);
    expect(result.message).toMatch(/^The request failed validation with 30 problems \(the first 20 are listed\)/);
  });

  it("refuses a body that is not JSON with invalid_json, and a missing body with the problem", async () => {
    expect((await errorOf(await call("/orders", post("{\"sku\": ")))).code).toBe("invalid_json");
    expect((await errorOf(await call("/orders", post(new Uint8Array([0x7b, 0xff, 0x7d]))))).code).toBe("invalid_json");
    const missing = await problemsOf(await call("/orders", { method: "PUT", headers: { "content-type": "application/json" } }));
    expect(missing.problems).toEqual([{ in: "body", pointer: "", expected: "a JSON body" }]);
  });

  it("refuses a body over maxBodyBytes with 413, by Content-Length or while reading a stream", async () => {
    const big = JSON.stringify({ sku: "ABC-1234", qty: 1, note: "x".repeat(3000) });
    const response = await call("/orders", post(big));
    expect(response.status).toBe(413);
    expect((await errorOf(response)).code).toBe("payload_too_large");
    const bytes = new TextEncoder().encode(big);
    const stream = new ReadableStream({ start(c) { for (let i = 0; i < bytes.length; i += 500) c.enqueue(bytes.slice(i, i + 500)); c.close(); } });
    const streamed = await call("/orders", { ...post(stream), duplex: "half" } as RequestInit);
    expect(streamed.status).toBe(413);
  });

  it("accepts only JSON bodies on a body-schema route without contentTypes (415 otherwise)", async () => {
    const response = await call("/orders", post(JSON.stringify({ sku: "ABC-1234", qty: 1 }), "text/plain"));
    expect(response.status).toBe(415);
    expect((await errorOf(response)).code).toBe("unsupported_media_type");
    expect((await call("/orders", post("{}", ""))).status).toBe(415);
  });

  it("checks the content type against the allow-list, with type/* and +json ranges, and the schema only on JSON", async () => {
    expect((await call("/uploads", post("GIF89a", "image/gif"))).status).toBe(200);
    expect((await call("/uploads", post("{}", "application/vnd.api+json; charset=utf-8"))).status).toBe(200);
    expect((await problemsOf(await call("/uploads", post("[]", "application/problem+json")))).problems).toEqual([{ in: "body", pointer: "", expected: "an object" }]);
    expect((await call("/uploads", post("x", "text/plain"))).status).toBe(415);
    expect((await call("/uploads", post("x", "imagex/gif"))).status).toBe(415);
  });

  it("checks path parameters, the query (read as the schema types it) and headers, all problems at once", async () => {
    const ok = await call("/items/42?limit=10&tag=a&tag=b", { headers: { "x-tenant": "acme" } });
    expect(ok.status).toBe(200);
    expect((await echoOf(ok)).url).toBe("/items/42?limit=10&tag=a&tag=b");
    const result = await problemsOf(await call("/items/4x2?limit=ten&id=1&id=2", { headers: { "x-tenant": "ab" } }));
    expect(result.problems).toEqual([
      { in: "params", pointer: "/id", expected: `a value matching "[0-9]{1,6}"` },
      { in: "query", pointer: "/limit", expected: "an integer" },
      { in: "query", pointer: "/id", expected: "a string" },
      { in: "headers", pointer: "/x-tenant", expected: "a string of at least 3 characters" },
    ]);
    expect((await problemsOf(await call("/items/1?limit=51"))).problems).toEqual([
      { in: "query", pointer: "/limit", expected: "a number <= 50" },
      { in: "headers", pointer: "/x-tenant", expected: "a value (required property)" },
    ]);
  });

  it("does not need a body on a GET of a route that checks POST bodies", async () => {
    const call2 = gatewayFor({ routes: [route("both", "/both", { methods: ["GET", "POST"], validate: { body: { type: "object" } } })] });
    expect((await call2("/both")).status).toBe(200);
    expect((await problemsOf(await call2("/both", { method: "POST", headers: { "content-type": "application/json" } }))).problems).toEqual([{ in: "body", pointer: "", expected: "a JSON body" }]);
  });

  it("adds nothing to a route without validate", () => {
    const table = loadRouteTable({ origins: { echo: { url: "http://127.0.0.1:1" } }, routes: [route("open", "/open"), route("checked", "/checked", { validate: { query: { type: "object" } } })] });
    const compiled = compileRouteTable(table, POLICIES);
    expect(compiled.routes[0]!.policies).toEqual([]);
    expect(compiled.routes[1]!.policies).toEqual(["validate"]);
  });

  it("streams an unchecked body on a route without validate", async () => {
    const echo = await echoOf(await call("/open", post("not json at all", "text/plain")));
    expect(echo.bodyBytes).toBe(15);
  });
});
