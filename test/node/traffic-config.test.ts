/**
 * The route-table rules of the traffic policies (CORS, body limits, static and redirect routes,
 * per-route timeouts) and of the shared `defaults` object: each mistake is a config error named by
 * its JSON path, so a table that validates does what it says.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { buildTableSchema, loadRouteTable, parseRouteTable } from "../../src/config/index.ts";
import { ok, origins, problemsOf } from "../support/route-table.ts";
import { readOrigin } from "../../src/policies/cors/index.ts";
import { targetProblem } from "../../src/policies/redirect/index.ts";
import { compileTarget } from "../../src/policies/redirect/index.ts";
import { definePolicy } from "../../src/policy.ts";

const cors = (extra: Record<string, unknown>) => ({ allowOrigins: ["https://app.example.com"], ...extra });

describe("cors in the route table", () => {
  it("accepts exact origins, host-suffix patterns, and the table-wide default as defaults.cors", () => {
    const table = loadRouteTable({
      origins,
      defaults: { cors: { allowOrigins: ["https://app.example.com", "https://*.example.org", "http://localhost:5173"], allowCredentials: true, maxAgeSec: 600 } },
      routes: [ok, { ...ok, id: "own", path: "/own", cors: cors({ exposeHeaders: ["X-Total"] }) }, { ...ok, id: "off", path: "/off", cors: false }],
    });
    expect(table.defaults.cors.allowCredentials).toBe(true);
    expect(table.routes[1]!.cors.exposeHeaders).toEqual(["x-total"]);
    expect(table.routes[2]!.cors).toBe(false);
  });

  it.each([
    [cors({ allowOrigins: ["*"], allowCredentials: true }), `routes[0] ("ok").cors.allowOrigins: "*" cannot be used with allowCredentials: list the origins that may send credentials`],
    [cors({ allowOrigins: ["https://app.example.com/"] }), "routes[0] (\"ok\").cors.allowOrigins[0]: an origin has no path, query or fragment (not even a trailing /): write https://app.example.com"],
    [cors({ allowOrigins: ["https://app.example.com/v1"] }), "routes[0] (\"ok\").cors.allowOrigins[0]: an origin has no path, query or fragment (not even a trailing /): write https://app.example.com"],
    [cors({ allowOrigins: ["https://*example.com"] }), `routes[0] ("ok").cors.allowOrigins[0]: a pattern allows the subdomains of one host suffix: scheme://*.example.com[:port] ("*." once, at the start of the host)`],
    [cors({ allowOrigins: ["https://app.*.com"] }), `routes[0] ("ok").cors.allowOrigins[0]: a pattern allows the subdomains of one host suffix: scheme://*.example.com[:port] ("*." once, at the start of the host)`],
    [cors({ allowOrigins: ["https://*.com"] }), `routes[0] ("ok").cors.allowOrigins[0]: the host suffix after "*." needs two labels or more (https://*.example.com), or the pattern would allow a whole top-level domain`],
    [cors({ allowOrigins: ["*.example.com"] }), "routes[0] (\"ok\").cors.allowOrigins[0]: must be an origin such as https://app.example.com (scheme://host[:port])"],
    [cors({ allowOrigins: ["ftp://files.example.com"] }), "routes[0] (\"ok\").cors.allowOrigins[0]: must use http or https"],
    [cors({ allowOrigins: ["null"] }), `routes[0] ("ok").cors.allowOrigins[0]: "null" cannot be allowed: sandboxed frames, data: and file: pages all send it, so any site can produce it`],
    [cors({ allowOrigins: ["*", "https://app.example.com"] }), `routes[0] ("ok").cors.allowOrigins[0]: "*" allows every origin; it must be the only entry`],
    [cors({ allowOrigins: [] }), "routes[0] (\"ok\").cors.allowOrigins: list at least one origin"],
    [cors({ allowCredentials: true, allowHeaders: ["*"] }), `routes[0] ("ok").cors.allowHeaders[0]: "*" is read literally when allowCredentials is true: list the header names`],
    [cors({ allowCredentials: true, exposeHeaders: ["x-a", "*"] }), `routes[0] ("ok").cors.exposeHeaders[1]: "*" is read literally when allowCredentials is true: list the header names`],
    [cors({ allowHeaders: ["bad header"] }), `routes[0] ("ok").cors.allowHeaders[0]: must be an HTTP header name or "*"`],
    [cors({ maxAgeSec: 100_000 }), "routes[0] (\"ok\").cors.maxAgeSec: must be at most 86400"],
  ])("explains a bad cors: %j", (value, problem) => {
    expect(problemsOf({ origins, routes: [{ ...ok, cors: value }] })).toEqual([problem]);
  });

  it("checks defaults.cors by the same rules, under its own path", () => {
    expect(problemsOf({ origins, defaults: { cors: { allowOrigins: ["*"], allowCredentials: true } }, routes: [ok] }))
      .toEqual([`defaults.cors.allowOrigins: "*" cannot be used with allowCredentials: list the origins that may send credentials`]);
  });

  it("refuses cors on a WebSocket route, and access-control-* response headers where cors writes them", () => {
    expect(problemsOf({ origins, routes: [{ ...ok, websocket: true, cors: cors({}) }] }))
      .toEqual(["routes[0] (\"ok\").cors: a WebSocket route is not subject to CORS (browsers send Origin on the upgrade: check it with room.allowedOrigins)"]);
    expect(problemsOf({ origins, defaults: { cors: cors({}) }, routes: [{ ...ok, responseHeaders: { set: { "Access-Control-Allow-Origin": "*" } } }] }))
      .toEqual([`routes[0] ("ok").responseHeaders.set["access-control-allow-origin"]: "access-control-allow-origin" is written by the route's cors settings`]);
    // Without gateway CORS on the route, the route may set them itself.
    expect(parseRouteTable({ origins, routes: [{ ...ok, responseHeaders: { set: { "access-control-allow-origin": "*" } } }] }).ok).toBe(true);
  });

  it("normalizes an exact origin to what a browser sends, and keeps a pattern's port", () => {
    expect(readOrigin("HTTPS://App.Example.com:443")).toEqual({ exact: "https://app.example.com" });
    expect(readOrigin("http://[::1]:8080")).toEqual({ exact: "http://[::1]:8080" });
    expect(readOrigin("https://*.example.com:8443")).toEqual({ scheme: "https", suffix: ".example.com:8443" });
    expect(readOrigin("https://*.example.com:443")).toEqual({ scheme: "https", suffix: ".example.com" });
  });
});

describe("maxBodyBytes in the route table", () => {
  it("accepts a route's limit and a table-wide defaults.maxBodyBytes", () => {
    const table = loadRouteTable({ origins, defaults: { maxBodyBytes: 1024 }, routes: [{ ...ok, maxBodyBytes: 256 * 1024 * 1024 }] });
    expect(table.defaults.maxBodyBytes).toBe(1024);
    expect(table.routes[0]!.maxBodyBytes).toBe(256 * 1024 * 1024);
  });

  it.each([
    [{ ...ok, maxBodyBytes: -1 }, "routes[0] (\"ok\").maxBodyBytes: must be at least 0"],
    [{ ...ok, maxBodyBytes: 1.5 }, "routes[0] (\"ok\").maxBodyBytes: must be a whole number, not a fraction"],
    [{ ...ok, maxBodyBytes: "1mb" }, "routes[0] (\"ok\").maxBodyBytes: must be a number, not a string"],
  ])("explains a bad limit: %j", (route, problem) => {
    expect(problemsOf({ origins, routes: [route] })).toEqual([problem]);
  });
});

describe("respond routes in the route table", () => {
  const respond = (value: unknown, extra: Record<string, unknown> = {}) => ({ id: "r", path: "/r", auth: "none", respond: value, ...extra });

  it("needs no origin and fills a 200 status", () => {
    const table = loadRouteTable({ origins, routes: [respond({ json: { ok: true } })] });
    expect(table.routes[0]!.respond).toEqual({ status: 200, json: { ok: true } });
  });

  it.each([
    [respond({ json: 1, body: "x" }), "routes[0] (\"r\").respond.body: use json or body, not both"],
    [respond({ status: 204, body: "x" }), "routes[0] (\"r\").respond.status: a 204 answer has no body: remove json/body or use another status"],
    [respond({ status: 101 }), "routes[0] (\"r\").respond.status: must be at least 200"],
    [respond({ headers: { "Content-Length": "3" } }), `routes[0] ("r").respond.headers["content-length"]: "content-length" is managed by the gateway and cannot be set`],
    [respond({ headers: { "x-a": "a\nb" } }), `routes[0] ("r").respond.headers["x-a"]: must be visible ASCII (no line breaks)`],
    [respond({}, { origin: "users" }), "routes[0] (\"r\").origin: a respond route has no origin: remove origin"],
    [respond({}, { responseHeaders: { set: { "x-a": "1" } } }), "routes[0] (\"r\").responseHeaders: a respond route has no origin: remove responseHeaders (use respond.headers)"],
    [respond({}, { rewrite: "/x" }), "routes[0] (\"r\").rewrite: a respond route has no origin: remove rewrite"],
    [respond({}, { redirect: { to: "/x" } }), "routes[0] (\"r\").redirect: use respond or redirect, not both"],
    [respond({}, { timeoutMs: 1000 }), "routes[0] (\"r\").timeoutMs: a route without an origin has no origin timeout to override"],
  ])("explains a bad respond route: %j", (route, problem) => {
    expect(problemsOf({ origins, routes: [route] })).toEqual([problem]);
  });
});

describe("redirect routes in the route table", () => {
  const redirect = (value: unknown, path = "/old/:id") => ({ id: "r", path, auth: "none", redirect: value });

  it("needs no origin and fills status 302", () => {
    const table = loadRouteTable({ origins, routes: [redirect({ to: "https://new.example.com/items/:id" })] });
    expect(table.routes[0]!.redirect).toEqual({ to: "https://new.example.com/items/:id", status: 302, preserveQuery: false });
  });

  it.each([
    [redirect({ to: "/x", status: 303 }), "routes[0] (\"r\").redirect.status: must be 301, 302, 307 or 308"],
    [redirect({ to: "/x", status: 200 }), "routes[0] (\"r\").redirect.status: must be 301, 302, 307 or 308"],
    [redirect({ to: "new/:id" }), "routes[0] (\"r\").redirect.to: must be an absolute http(s) URL or a path starting with /"],
    [redirect({ to: "//evil.example/:id" }), "routes[0] (\"r\").redirect.to: a path must not start with // (browsers read it as another host): write an absolute URL"],
    [redirect({ to: "/\\evil.example" }), "routes[0] (\"r\").redirect.to: a path must not start with // (browsers read it as another host): write an absolute URL"],
    [redirect({ to: "https://:id.example.com/" }), "routes[0] (\"r\").redirect.to: parameters may only go in the path, query or fragment, never in the host"],
    [redirect({ to: "javascript://x/%0aalert(1)" }), "routes[0] (\"r\").redirect.to: must use http or https"],
    [redirect({ to: "https://user:pw@example.com/" }), "routes[0] (\"r\").redirect.to: must not carry credentials"],
    [redirect({ to: "/a b" }), "routes[0] (\"r\").redirect.to: must be visible ASCII without spaces (percent-encode the rest)"],
    [redirect({ to: "/new/:other" }), `routes[0] ("r").redirect.to: parameter ":other" is not in the path`],
  ])("explains a bad redirect: %j", (route, problem) => {
    expect(problemsOf({ origins, routes: [route] })).toEqual([problem]);
  });

  it("puts parameters only after the host, and reads a port as a port", () => {
    expect(compileTarget("https://new.example.com:8443/i/:id?from=:id#:id")).toEqual([
      "https://new.example.com:8443", "/i/", { param: "id" }, "?from=", { param: "id" }, "#", { param: "id" },
    ]);
    expect(targetProblem("https://new.example.com:8443/i/:id")).toBeUndefined();
  });
});

describe("timeoutMs on a route", () => {
  it("is accepted on a route with an origin, within the origin's bounds", () => {
    expect(loadRouteTable({ origins, routes: [{ ...ok, timeoutMs: 2500 }] }).routes[0]!.timeoutMs).toBe(2500);
    expect(problemsOf({ origins, routes: [{ ...ok, timeoutMs: 0 }] })).toEqual(["routes[0] (\"ok\").timeoutMs: must be at least 1"]);
    expect(problemsOf({ origins, routes: [{ ...ok, timeoutMs: 300_001 }] })).toEqual(["routes[0] (\"ok\").timeoutMs: must be at most 300000"]);
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
