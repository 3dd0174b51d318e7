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

  it("refuses a code that another owner already declared, whatever its status", () => {
    defineErrors("test-a", { test_only_code: { status: 409, meaning: "A test's code." } });
    expect(() => defineErrors("test-b", { test_only_code: { status: 409, meaning: "The same code, the same status." } }))
      .toThrow(`error code "test_only_code" is declared by test-a and again by test-b: one code, one owner (import test-a's instead)`);
    expect(() => defineErrors("test-b", { test_only_code: { status: 400, meaning: "The same code, another status." } }))
      .toThrow(`declared by test-a and again by test-b`);
    expect(errorCatalogue().find((e) => e.code === "test_only_code")).toMatchObject({ owner: "test-a", meaning: "A test's code." });
  });

  it("lets the owner's module load again (a fresh module graph), but never with another status", () => {
    defineErrors("test-c", { test_reloaded_code: { status: 409, meaning: "A test's code." } });
    expect(() => defineErrors("test-c", { test_reloaded_code: { status: 409, meaning: "A test's code." } })).not.toThrow();
    expect(() => defineErrors("test-c", { test_reloaded_code: { status: 400, meaning: "Another status." } }))
      .toThrow(`error code "test_reloaded_code" is 409 and 400 in test-c: one code, one status`);
  });

  it("gives the services' codes to their owners, with one status each", () => {
    const owner = (code: string) => errorCatalogue().find((e) => e.code === code);
    expect(owner("api_key_missing")).toMatchObject({ owner: "keys", status: 401 });
    expect(owner("key_store_unavailable")).toMatchObject({ owner: "keys", status: 503 });
    expect(owner("limiter_unavailable")).toMatchObject({ owner: "quota", status: 503 });
    expect(owner("plan_unknown")).toMatchObject({ owner: "quota", status: 403 });
    expect(owner("insufficient_scope")).toMatchObject({ owner: "core", status: 403 });
  });
});
