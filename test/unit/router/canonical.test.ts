import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalizePath } from "../../../src/router/canonical.ts";
import { RouteMatcher } from "../../../src/router/matcher.ts";
import { compilePathBuilder, compileOrigin } from "../../../src/upstream/target.ts";
import { loadRouteTable } from "../../../src/config/index.ts";
import urlCases from "../../fixtures/wpt-urltestdata.json";

const ok = (raw: string) => {
  const result = canonicalizePath(raw);
  if (!result.ok) throw new Error(`${raw} rejected: ${result.reason}`);
  return result.path;
};

/** What a canonical path never contains. */
function assertCanonical(path: string) {
  expect(path.startsWith("/")).toBe(true);
  expect(path).not.toMatch(/\/\//);
  expect(path).not.toMatch(/(^|\/)\.\.?(\/|$)/);
  expect(path).not.toMatch(/%2f|%5c|%00|;|\\/i);
  expect(path).not.toMatch(/%(?:[46][1-9A-F]|[57][0-9A]|3[0-9]|2[DE]|5F|7E)/i); // encoded unreserved
  expect(path).not.toMatch(/%[0-9A-F]?[a-f]/); // lower-case hex
  expect(canonicalizePath(path)).toEqual({ ok: true, path });
  // The origin's own WHATWG parser leaves it alone: what matched is what the origin sees.
  expect(new URL(path, "http://origin.test").pathname).toBe(path);
}

describe("canonicalizePath", () => {
  it.each([
    ["/", "/"],
    ["/a/b", "/a/b"],
    ["//admin", "/admin"],
    ["/a//b///c", "/a/b/c"],
    ["/a/./b/../c", "/a/c"],
    ["/a/%2e%2e/b", "/b"],
    ["/a/%2E/b", "/a/b"],
    ["/%61dmin", "/admin"],
    ["/%7euser/%41%5a", "/~user/AZ"],
    ["/a%2a", "/a%2A"],
    ["/caf%c3%a9", "/caf%C3%A9"],
    ["/a b", "/a%20b"],
    ["/é", "/%C3%A9"],
    ["/admin.", "/admin."],
    ["/a/.../b", "/a/.../b"],
    ["/.well-known/x", "/.well-known/x"],
    ["/a/b/", "/a/b/"],
    ["/a/..", "/"],
  ])("writes %s as %s", (raw, canonical) => {
    expect(ok(raw)).toBe(canonical);
  });

  it.each([
    ["/a%2fb", "encoded slash (%2F) in path"],
    ["/a%2Fb", "encoded slash (%2F) in path"],
    ["/a%5cb", "encoded backslash (%5C) in path"],
    ["/a\\b", "backslash in path"],
    ["/a%00", "control character in path"],
    ["/a\u0000", "control character in path"],
    ["/a%0d%0a", "control character in path"],
    ["/a;b", "';' in path"],
    ["/a%3bb", "';' in path"],
    ["/a%2", "malformed percent-encoding in path"],
    ["/a%g0", "malformed percent-encoding in path"],
    ["/..", "path climbs above the root"],
    ["/a/../..", "path climbs above the root"],
    ["/%2e%2e/x", "path climbs above the root"],
    ["relative", "path must start with /"],
    ["/" + "a".repeat(4096), "path is too long"],
  ])("refuses %s", (raw, reason) => {
    expect(canonicalizePath(raw)).toEqual({ ok: false, reason });
  });
});

describe("canonical paths, by property", () => {
  const segment = fc.oneof(
    fc.constantFrom(".", "..", "", "%2e", "%2E%2e", "a", "admin", "%61", "%2f", "%5c", ";", "%3b", "\\", "%00", "%", "%zz", "~", "%7E", "é", " "),
    fc.stringMatching(/^[A-Za-z0-9._~%!$&'()*+,=:@-]{0,6}$/),
  );
  const rawPath = fc.array(segment, { maxLength: 8 }).map((segments) => "/" + segments.join("/"));

  it("is a fixed point that the origin's URL parser leaves alone", () => {
    fc.assert(fc.property(rawPath, (raw) => {
      const result = canonicalizePath(raw);
      if (result.ok) assertCanonical(result.path);
    }), { numRuns: 3000 });
  });

  it("forwards exactly the path that matched, under the route's prefix", () => {
    const table = loadRouteTable({
      origins: { o: { url: "http://origin.test/base" } },
      routes: [
        { id: "users", path: "/v1/users/:id", origin: "o", auth: "none", rewrite: "/users/:id" },
        { id: "public", path: "/v1/public/*", origin: "o", auth: "none", stripPrefix: "/v1" },
      ],
    });
    const origin = compileOrigin("o", table.origins.o!);
    const matcher = new RouteMatcher(table.routes.map((r) => ({ path: r.path, methods: r.methods, value: r })));
    const tail = fc.array(segment, { maxLength: 6 }).map((s) => s.join("/"));
    fc.assert(fc.property(fc.constantFrom("/v1/users/", "/v1/public/", "/v1/"), tail, (prefix, rest) => {
      const result = canonicalizePath(prefix + rest);
      if (!result.ok) return;
      const match = matcher.match("h", "GET", result.path);
      if (match.kind !== "match") return;
      const forwarded = compilePathBuilder(match.value, origin)(result.path, match.params, match.rest);
      assertCanonical(forwarded);
      // Whatever the input, the origin sees a path inside the prefix the route grants.
      if (match.value.id === "users") expect(forwarded).toMatch(/^\/base\/users\/[^/]+\/?$/);
      else expect(forwarded.startsWith("/base/public")).toBe(true);
      expect(forwarded).toBe("/base" + (match.value.id === "users" ? `/users/${match.params.id}${result.path.endsWith("/") ? "/" : ""}` : result.path.slice(3)));
    }), { numRuns: 3000 });
  });
});

describe("the WHATWG URL test cases (web-platform-tests urltestdata)", () => {
  type UrlCase = { input: string; base: string | null; failure?: boolean; protocol?: string; pathname?: string };
  const httpCases = (urlCases as unknown[]).filter((c): c is UrlCase & { pathname: string } =>
    typeof c === "object" && c !== null && !(c as UrlCase).failure && ["http:", "https:"].includes((c as UrlCase).protocol ?? ""));

  it("has a substantial set of http(s) cases", () => {
    expect(httpCases.length).toBeGreaterThan(200);
  });

  it("parses each case in workerd as the standard says (the parser the gateway sits behind)", () => {
    let agreed = 0;
    for (const c of httpCases) {
      const url = c.base === null ? new URL(c.input) : new URL(c.input, c.base);
      if (url.pathname === c.pathname) agreed++;
    }
    // workerd's parser is WHATWG-conformant for these; allow a handful of known engine differences.
    expect(agreed / httpCases.length).toBeGreaterThan(0.97);
  });

  it("turns every parsed path into a canonical one or refuses it", () => {
    let refused = 0;
    for (const c of httpCases) {
      const result = canonicalizePath(c.pathname);
      if (result.ok) assertCanonical(result.path);
      else refused++;
    }
    expect(refused).toBeGreaterThan(0);
    expect(refused).toBeLessThan(httpCases.length / 4);
  });
});
