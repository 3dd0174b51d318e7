/** The ip-restriction definition as the compiled table sees it: where it sits in a chain, and where it is absent. */
import { describe, expect, it } from "vitest";
import { loadRouteTable } from "../../../../src/config/index.ts";
import { POLICIES } from "../../../../src/policies/index.ts";
import { compileRouteTable } from "../../../../src/router/index.ts";

const route = (id: string, path: string, extra: Record<string, unknown> = {}) => ({ id, path, origin: "echo", auth: "none", ...extra });

describe("the compiled routes with ip-restriction", () => {
  const compile = (table: Record<string, unknown>) =>
    compileRouteTable(loadRouteTable({ origins: { echo: { url: "http://127.0.0.1:9" } }, ...table }), POLICIES).routes;

  it("put ip-restriction first in a route's chain, before authentication and limits", () => {
    const [keyed] = compile({ routes: [route("keyed", "/keyed", { auth: { apiKey: true }, ipDeny: ["198.51.100.0/24"] })] });
    expect(keyed!.policies).toEqual(["ip-restriction", "api-key", "rate-limit"]);
  });

  it("give a route without lists no ip-restriction middleware, and every route one under a table-wide list", () => {
    const routes = [route("plain", "/plain"), route("listed", "/listed", { ipAllow: ["10.0.0.0/8"] })];
    expect(compile({ routes }).map((r) => r.policies)).toEqual([[], ["ip-restriction"]]);
    expect(compile({ routes, ipRestriction: { deny: ["198.51.100.0/24"] } }).map((r) => r.policies)).toEqual([["ip-restriction"], ["ip-restriction"]]);
  });
});
