/** The matcher alone: no origin, no Worker, just route specs in and match results out. */
import { describe, expect, it } from "vitest";
import { RouteMatcher, type RouteSpec } from "../../../src/router/matcher.ts";

const spec = (value: string, path: string, extra: Partial<RouteSpec<string>> = {}): RouteSpec<string> => ({ value, path, ...extra });

describe("the route matcher", () => {
  const matcher = new RouteMatcher([
    spec("any-host", "/v1/orders/*"),
    spec("wildcard-host", "/v1/orders/*", { host: "*.example.com" }),
    spec("deep-wildcard-host", "/v1/orders/*", { host: "*.eu.example.com" }),
    spec("exact-host", "/v1/orders/*", { host: "api.example.com" }),
    spec("param", "/v1/users/:id", { methods: ["GET"] }),
    spec("static", "/v1/users/me", { methods: ["GET"] }),
    spec("param-post", "/v1/users/:id", { methods: ["POST"] }),
    spec("files", "/v1/users/:id/*", { methods: ["GET"] }),
    spec("explicit-head", "/v1/heads", { methods: ["HEAD"] }),
    spec("get-heads", "/v1/heads", { methods: ["GET"] }),
    spec("root", "/", { methods: ["GET"] }),
  ]);
  const value = (host: string, method: string, path: string) => {
    const found = matcher.match(host, method, path);
    return found.kind === "match" ? found.value : found.kind;
  };

  it("prefers an exact host, then the longest wildcard host, then any host", () => {
    expect(value("api.example.com", "GET", "/v1/orders/1")).toBe("exact-host");
    expect(value("web.example.com", "GET", "/v1/orders/1")).toBe("wildcard-host");
    expect(value("a.eu.example.com", "GET", "/v1/orders/1")).toBe("deep-wildcard-host");
    expect(value("example.com", "GET", "/v1/orders/1")).toBe("any-host");
  });

  it("prefers a static segment over a parameter over a wildcard, and returns params and the rest", () => {
    expect(value("h", "GET", "/v1/users/me")).toBe("static");
    expect(matcher.match("h", "GET", "/v1/users/42")).toEqual({ kind: "match", value: "param", params: { id: "42" }, rest: "" });
    expect(matcher.match("h", "GET", "/v1/users/42/a/b.png")).toEqual({ kind: "match", value: "files", params: { id: "42" }, rest: "a/b.png" });
  });

  it("falls back from a branch that matches the path but not the method", () => {
    expect(value("h", "POST", "/v1/users/me")).toBe("param-post");
  });

  it("answers HEAD with the GET route unless a route claims HEAD", () => {
    expect(value("h", "HEAD", "/v1/users/42")).toBe("param");
    expect(value("h", "HEAD", "/v1/heads")).toBe("explicit-head");
    expect(value("h", "GET", "/v1/heads")).toBe("get-heads");
  });

  it("lists the allowed methods when the path matches but the method does not, and finds nothing otherwise", () => {
    expect(matcher.match("h", "DELETE", "/v1/users/42")).toEqual({ kind: "method-not-allowed", allow: ["GET", "HEAD", "POST"] });
    expect(value("h", "GET", "/v2/nothing")).toBe("not-found");
    expect(value("h", "GET", "/")).toBe("root");
  });

  it("refuses two routes for the same host, path and method at construction", () => {
    expect(() => new RouteMatcher([spec("a", "/x", { methods: ["GET"] }), spec("b", "/x", { methods: ["GET"] })])).toThrow(/duplicate route/);
  });
});
