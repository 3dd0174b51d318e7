/**
 * A Worker secret the table names but the Worker does not have is reported on the isolate's first
 * request, once, by name and with what it breaks; never its value. The log is read where it is
 * written: console.warn inside workerd.
 */
import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from "vitest";
import { adminSecrets } from "../../src/admin/index.ts";
import { jwtPolicy } from "../../src/policies/jwt/index.ts";
import { loadRouteTable } from "../../src/config/index.ts";
import type { AnyPolicy } from "../../src/policy.ts";
import { gatewayFor, route } from "../support/worker-gateway.ts";

const hs256 = (env: string) => ({ type: "jwt", issuer: "https://issuer.test", audience: "api", algorithms: ["HS256"], secret: { env } });
const table = {
  admin: { token: { env: "UNSET_ADMIN_TOKEN" } },
  authorizers: { internal: hs256("INTERNAL_JWT_SECRET"), partner: hs256("TEST_JWT_SECRET"), unused: hs256("UNUSED_JWT_SECRET") },
  routes: [
    route("orders.list", "/orders", { auth: { authorizer: "internal" } }),
    route("orders.get", "/orders/:id", { auth: { authorizer: "internal" } }),
    route("partner", "/partner", { auth: { authorizer: "partner" } }),
    route("open", "/open"),
  ],
};

let warn: MockInstance<typeof console.warn>;
beforeEach(() => { warn = vi.spyOn(console, "warn").mockImplementation(() => {}); });
afterEach(() => { warn.mockRestore(); });
const warnings = () => warn.mock.calls.map(([line]) => JSON.parse(String(line)) as Record<string, unknown>);

describe("Worker secrets the table names", () => {
  it("are reported on the first request, each once, by name and with what breaks", async () => {
    const call = gatewayFor(table);
    expect(warnings()).toEqual([]); // building the app reads no env: nothing to say yet
    await call("/open");
    expect(warnings()).toEqual([
      { level: "warn", code: "secret_missing", secret: "UNSET_ADMIN_TOKEN", message: "UNSET_ADMIN_TOKEN is not set: the admin API is off (its paths answer 404)" },
      { level: "warn", code: "secret_missing", secret: "INTERNAL_JWT_SECRET", message: "JWT secret INTERNAL_JWT_SECRET is not set: routes orders.list, orders.get answer 503" },
    ]);
    await call("/orders");
    await call("/_gateway/keys");
    expect(warn).toHaveBeenCalledTimes(2);
  });

  it("says nothing when every secret is set", async () => {
    const call = gatewayFor(table, { bindings: { UNSET_ADMIN_TOKEN: "t0ken", INTERNAL_JWT_SECRET: "x".repeat(32) } });
    await call("/open");
    expect(warnings()).toEqual([]);
  });

  it("counts an empty secret as not set", async () => {
    const call = gatewayFor(table, { bindings: { UNSET_ADMIN_TOKEN: "t0ken", INTERNAL_JWT_SECRET: "" } });
    await call("/open");
    expect(warnings().map((w) => w.secret)).toEqual(["INTERNAL_JWT_SECRET"]);
  });

  it("are declared by their owners: the admin API and each policy", () => {
    const parsed = loadRouteTable({ origins: { echo: { url: "http://127.0.0.1:1" } }, ...table });
    expect(adminSecrets(parsed.admin)).toEqual([{ name: "UNSET_ADMIN_TOKEN", consequence: "the admin API is off (its paths answer 404)" }]);
    // An authorizer no route uses breaks nothing, so its secret is not asked for.
    const jwt: AnyPolicy = jwtPolicy; // as the core holds it: any policy, any table
    expect(jwt.secrets!(parsed).map((s) => s.name)).toEqual(["INTERNAL_JWT_SECRET", "TEST_JWT_SECRET"]);
  });
});
