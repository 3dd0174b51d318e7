/** The `cache` policy's config: what a cached route may say, checked with the route table. */
import { describe, expect, it } from "vitest";
import { parseRouteTable } from "../../src/config/index.ts";
import { origins, problemsOf as tableProblems } from "../support/route-table.ts";

const authorizers = { main: { type: "jwt", issuer: "i", audience: "api", algorithms: ["HS256"], secret: { env: "S" } } };
const route = (cache: unknown, extra: Record<string, unknown> = {}) => ({ id: "r", path: "/items/:id", origin: "users", auth: "none", cache, ...extra });
const problemsOf = (...routes: unknown[]): string[] => tableProblems({ origins, authorizers, routes });

describe("cache in the route table", () => {
  it("fills the documented defaults", () => {
    const result = parseRouteTable({ origins, routes: [route({ ttlSec: 30 })] });
    expect(result.ok && result.table.routes[0]!.cache).toEqual({ ttlSec: 30, staleWhileRevalidateSec: 0, keyHeaders: [], shared: false, maxBodyBytes: 10_485_760 });
  });

  it.each([
    [route({}), "routes[0] (\"r\").cache.ttlSec: required"],
    [route({ ttlSec: 0 }), "routes[0] (\"r\").cache.ttlSec: must be at least 1"],
    [route({ ttlSec: 5, keyHeaders: ["X-Forwarded-Host"] }), `routes[0] ("r").cache.keyHeaders[0]: "x-forwarded-host" is written by the gateway, never taken from the client: it cannot be a key header`],
    [route({ ttlSec: 5, keyHeaders: ["cookie"] }), `routes[0] ("r").cache.keyHeaders[0]: "cookie" carries credentials: on an authenticated route the caller is already in the key; key on a non-secret header instead`],
    [route({ ttlSec: 5 }, { methods: ["POST"] }), "routes[0] (\"r\").cache: only GET and HEAD responses are cached; the route takes neither"],
    [route({ ttlSec: 5 }, { websocket: true }), "routes[0] (\"r\").cache: a WebSocket route has nothing to cache"],
    [route({ ttlSec: 5, shared: true }, { auth: { authorizer: "main" }, identityHeaders: { "x-user": "sub" } }), "routes[0] (\"r\").cache.shared: a shared entry is served to every caller, so the origin may not learn who asked: remove identityHeaders or shared"],
    [route({ ttlSec: 5, shared: true }, { auth: { authorizer: "main", forwardAuthorization: true } }), "routes[0] (\"r\").cache.shared: a shared entry is served to every caller, so the origin may not see the caller's token: remove auth.forwardAuthorization or shared"],
    [route({ ttlSec: 5, ttl: 5 }), `routes[0] ("r").cache: unknown field "ttl"; the fields accepted here are "ttlSec", "staleWhileRevalidateSec", "keyQuery", "keyHeaders", "shared", "maxBodyBytes"`],
  ])("explains a bad cache: %j", (bad, problem) => {
    expect(problemsOf(bad)).toEqual([problem]);
  });
});
