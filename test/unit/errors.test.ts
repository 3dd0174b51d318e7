import { describe, expect, it } from "vitest";
import { HTTPException } from "hono/http-exception";
import { defineErrors, errorCatalogue, GatewayError } from "../../src/errors.ts";
import "../../src/policies/index.ts";

describe("the error catalogue", () => {
  it("gives a code its status from the catalogue, and GatewayError is Hono's HTTPException", () => {
    const error = new GatewayError("rate_limited", "Slow down.", { "retry-after": "2" });
    expect(error).toBeInstanceOf(HTTPException);
    expect([error.status, error.code, error.message, error.headers]).toEqual([429, "rate_limited", "Slow down.", { "retry-after": "2" }]);
  });

  it("refuses a code nobody declared", () => {
    expect(() => new GatewayError("never_declared_anywhere", "x")).toThrow(TypeError);
  });

  it("refuses one code with two statuses", () => {
    defineErrors("test-a", { test_only_code: { status: 409, meaning: "A test's code." } });
    expect(() => defineErrors("test-b", { test_only_code: { status: 400, meaning: "The same code, another status." } }))
      .toThrow(`error code "test_only_code" is 409 in test-a and 400 in test-b: one code, one status`);
    // The same code with the same status is the same error: allowed (capabilities that share a refusal).
    expect(() => defineErrors("test-c", { test_only_code: { status: 409, meaning: "Again." } })).not.toThrow();
  });

  it("gives each code exactly one status across every capability", () => {
    const codes = errorCatalogue().map((e) => e.code);
    expect(new Set(codes).size).toBe(codes.length);
    expect(errorCatalogue().find((e) => e.code === "plan_unknown")?.status).toBe(403);
  });
});
