/**
 * The route-table rules of the traffic policies (CORS, body limits, static and redirect routes,
 * per-route timeouts) and of the shared `defaults` object: each mistake is a config error named by
 * its JSON path, so a table that validates does what it says.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { buildTableSchema, loadRouteTable, parseRouteTable } from "../../src/config/index.ts";
import { definePolicy } from "../../src/policy.ts";

const origins = { users: { url: "http://127.0.0.1:9001" } };
const ok = { id: "ok", path: "/ok", origin: "users", auth: "none" };
const problemsOf = (table: unknown): string[] => {
  const result = parseRouteTable(table);
  if (result.ok) throw new Error("expected the table to be invalid");
  return result.problems;
};

describe("maxBodyBytes in the route table", () => {
  it("accepts a route's limit and a table-wide defaults.maxBodyBytes", () => {
    const table = loadRouteTable({ origins, defaults: { maxBodyBytes: 1024 }, routes: [{ ...ok, maxBodyBytes: 256 * 1024 * 1024 }] });
    expect(table.defaults.maxBodyBytes).toBe(1024);
    expect(table.routes[0]!.maxBodyBytes).toBe(256 * 1024 * 1024);
  });

  it.each([
    [{ ...ok, maxBodyBytes: -1 }, "routes[0].maxBodyBytes: Too small: expected number to be >=0"],
    [{ ...ok, maxBodyBytes: 1.5 }, "routes[0].maxBodyBytes: Invalid input: expected int, received number"],
    [{ ...ok, maxBodyBytes: "1mb" }, "routes[0].maxBodyBytes: Invalid input: expected number, received string"],
  ])("explains a bad limit: %j", (route, problem) => {
    expect(problemsOf({ origins, routes: [route] })).toEqual([problem]);
  });
});

describe("timeoutMs on a route", () => {
  it("is accepted on a route with an origin, within the origin's bounds", () => {
    expect(loadRouteTable({ origins, routes: [{ ...ok, timeoutMs: 2500 }] }).routes[0]!.timeoutMs).toBe(2500);
    expect(problemsOf({ origins, routes: [{ ...ok, timeoutMs: 0 }] })).toEqual(["routes[0].timeoutMs: Too small: expected number to be >=1"]);
    expect(problemsOf({ origins, routes: [{ ...ok, timeoutMs: 300_001 }] })).toEqual(["routes[0].timeoutMs: Too big: expected number to be <=300000"]);
  });
});

describe("the shared defaults object", () => {
  const withDefaults = (name: string, key: string) => definePolicy({
    name, summary: "A test's stand-in.", defaultsFields: { [key]: z.number().optional() }, create: () => undefined,
  });

  it("takes members from several policies, and refuses members no policy declares", () => {
    const schema = buildTableSchema([withDefaults("a", "alpha"), withDefaults("b", "beta")]);
    expect(schema.safeParse({ origins, routes: [ok], defaults: { alpha: 1, beta: 2 } }).success).toBe(true);
    const bad = schema.safeParse({ origins, routes: [ok], defaults: { gamma: 3 } });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.message).toBe(`Unrecognized key: "gamma"`);
  });

  it("is absent from a table whose policies declare no defaults", () => {
    expect(buildTableSchema([]).safeParse({ origins, routes: [ok], defaults: {} }).success).toBe(false);
  });

  it("refuses two policies declaring the same member, or a policy redeclaring a core field", () => {
    expect(() => buildTableSchema([withDefaults("a", "alpha"), withDefaults("b", "alpha")]))
      .toThrow(`policies "a" and "b" both declare the defaultsFields member "alpha"`);
    const shadow = definePolicy({ name: "shadow", summary: "A test's stand-in.", routeFields: { origin: z.string() }, create: () => undefined });
    expect(() => buildTableSchema([shadow])).toThrow(`policies "core" and "shadow" both declare the routeFields member "origin"`);
  });
});
