import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";

describe("the Worker entry with the shipped routes.json", () => {
  it("boots and answers unmatched paths with the JSON 404", async () => {
    const response = await SELF.fetch("http://gateway.test/nowhere");
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { code: "not_found" } });
  });

  it("knows the table's routes: /health is GET only", async () => {
    const response = await SELF.fetch("http://gateway.test/health", { method: "POST" });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("GET, HEAD");
  });

  it("guards /v1/me with the demo JWT authorizer", async () => {
    const response = await SELF.fetch("http://gateway.test/v1/me");
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: { code: "token_missing" } });
  });

  it("serves orders only on its host", async () => {
    expect((await SELF.fetch("http://other.test/v1/orders/1")).status).toBe(404);
  });
});
