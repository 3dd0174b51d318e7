import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { routesFileFor } from "../../scripts/check.ts";
import { generateJsonSchema, SCHEMA_FILE } from "../../scripts/schema.ts";
import { parseStartArgs } from "../../scripts/start.ts";
import { bundledRouteTable, loadRouteTable, parseRouteTable, RouteTableError, RouteTableSchema, validatedTableFile } from "../../src/config/index.ts";
import { ok, origins, problemsOf } from "../support/route-table.ts";
import { nearest } from "../../src/config/messages.ts";

const run = promisify(execFile);
const NODE = join(process.cwd(), "node_modules/.bin/node");
const dir = mkdtempSync(join(tmpdir(), "routes-check-"));
const fileWith = (name: string, table: unknown) => {
  const file = join(dir, name);
  writeFileSync(file, typeof table === "string" ? table : JSON.stringify(table, null, 2));
  return file;
};


describe("the route table schema", () => {
  it("accepts the shipped routes.json", () => {
    expect(parseRouteTable(JSON.parse(readFileSync("routes.json", "utf8"))).ok).toBe(true);
  });

  it("fills documented defaults", () => {
    const table = loadRouteTable({ origins, routes: [ok] });
    expect(table.origins.users!.timeoutMs).toBe(30_000);
    expect(table.routes[0]!.cost).toBe(1);
    expect(table.apiKeys.header).toBe("x-api-key");
  });

  it("lists every problem in one pass, each by its JSON path", () => {
    expect(problemsOf({
      origins: { users: { url: "ftp://x" }, orders: { url: "http://o", timeoutMs: 0 } },
      routes: [
        { id: "a", path: "/v1/users/:id", origin: "ordrs", auth: "none" },
        { id: "a", path: "/v1/users/:other", origin: "users" },
        { id: "b", path: "/v1/x//y/*/z", origin: "users", auth: "none", rewrite: "/u/:nope" },
      ],
    })).toEqual([
      "origins.users.url: must use http or https",
      "origins.orders.timeoutMs: must be at least 1",
      `routes[1] ("a").auth: required: every route states its auth ("none" makes a public route explicit)`,
      `routes[2] ("b").path: must not contain an empty segment (//)`,
      `routes[2] ("b").path: "*" may only be the last segment`,
      `routes[0] ("a").origin: unknown origin "ordrs"`,
      `routes[1] ("a").id: duplicate route id "a" (also routes[0])`,
      `routes[1] ("a").path: duplicates routes[0] ("a"): same host, path and method`,
    ]);
  });

  it("refuses a route without auth: the gateway is closed by default", () => {
    expect(problemsOf({ origins, routes: [{ id: "x", path: "/x", origin: "users" }] }))
      .toEqual([`routes[0] ("x").auth: required: every route states its auth ("none" makes a public route explicit)`]);
  });

  it("refuses duplicate routes however their parameters are named, but allows other methods or hosts", () => {
    expect(problemsOf({ origins, routes: [
      { ...ok, id: "a", path: "/u/:id", methods: ["GET"] },
      { ...ok, id: "b", path: "/u/:name", methods: ["POST", "GET"] },
    ] })).toEqual([`routes[1] ("b").path: duplicates routes[0] ("a"): same host, path and method`]);
    expect(problemsOf({ origins, routes: [{ ...ok, id: "a", path: "/u" }, { ...ok, id: "b", path: "/u", methods: ["PUT"] }] }))
      .toEqual([`routes[1] ("b").path: duplicates routes[0] ("a"): same host, path and method`]);
    expect(parseRouteTable({ origins, routes: [
      { ...ok, id: "a", path: "/u/:id", methods: ["GET"] },
      { ...ok, id: "b", path: "/u/:id", methods: ["POST"] },
      { ...ok, id: "c", path: "/u/:id", host: "api.example.com" },
    ] }).ok).toBe(true);
  });

  it("refuses a secret value written into the table", () => {
    const problems = problemsOf({
      origins, routes: [ok],
      authorizers: { main: { type: "jwt", issuer: "i", audience: "api", algorithms: ["HS256"], secret: "hunter2" } },
    });
    expect(problems).toEqual([`authorizers.main.secret: secrets live in Worker secrets, never in routes.json: write { "env": "SECRET_NAME" } and run \`wrangler secret put SECRET_NAME\``]);
  });

  it("refuses unknown fields, so a typo never silently does nothing", () => {
    expect(problemsOf({ origins, routes: [{ ...ok, rewite: "/x" }] })).toEqual([`routes[0] ("ok"): unknown field "rewite" (did you mean "rewrite"?)`]);
  });

  it.each([
    [{ ...ok, requestHeaders: { set: { "x-forwarded-for": "1.2.3.4" } } }, `routes[0].requestHeaders.set["x-forwarded-for"]: "x-forwarded-for" is managed by the gateway and cannot be changed by a route`],
    [{ ...ok, requestHeaders: { set: { "x-a": "line\r\nbreak" } } }, `routes[0].requestHeaders.set["x-a"]: must be visible ASCII (no line breaks)`],
    [{ ...ok, path: "/a/:id", rewrite: "/b/:other" }, `routes[0].rewrite: parameter ":other" is not in the path`],
    [{ ...ok, path: "/v2/x", stripPrefix: "/v1" }, `routes[0].stripPrefix: path "/v2/x" does not start with "/v1"`],
    [{ ...ok, path: "/v1/x", stripPrefix: "/v1", rewrite: "/x" }, "routes[0].stripPrefix: use rewrite or stripPrefix, not both"],
    [{ ...ok, path: "/a;b" }, `routes[0].path: segment "a;b" has characters a canonical path never contains (write it percent-encoded, uppercase hex, without ';')`],
    [{ ...ok, path: "/%61" }, `routes[0].path: segment "%61" has characters a canonical path never contains (write it percent-encoded, uppercase hex, without ';')`],
    [{ ...ok, path: "/a/../b" }, "routes[0].path: must not contain dot segments"],
    [{ ...ok, path: "/a/" }, "routes[0].path: must not end with / (write the path without it; matching ignores a trailing /)"],
    [{ ...ok, host: "bad host" }, "routes[0].host: must be a host name or *.domain"],
    [{ ...ok, methods: ["FETCH"] }, `routes[0].methods[0]: must be one of "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE" or "OPTIONS"`],
    [{ ...ok, methods: [] }, "routes[0].methods: must not be empty (at least one item)"],
    [{ ...ok, id: 7 }, "routes[0].id: must be a string, not a number"],
    [{ ...ok, cost: 1.5 }, "routes[0].cost: must be a whole number, not a fraction"],
    [{ ...ok, origin: undefined }, "routes[0].origin: required: the origin to forward to (or one of: room, respond, redirect)"],
  ])("explains a bad route: %j", (route, problem) => {
    // Located by index and, when the route has an id, by its id too.
    const id = typeof route.id === "string" ? ` (${JSON.stringify(route.id)})` : "";
    expect(problemsOf({ origins, routes: [route] })).toEqual([problem.replace(/^routes\[0\]/, `routes[0]${id}`)]);
  });

  it("accepts origins with targets, a service, retries, a breaker and health checks, with their documented defaults", () => {
    const table = loadRouteTable({
      origins: {
        users: {
          targets: [{ url: "https://users-a.internal", weight: 95 }, { url: "https://users-canary.internal", weight: 5 }],
          stickyBy: "apiKey", retries: { attempts: 2 }, circuitBreaker: {}, healthCheck: { path: "/healthz" },
        },
        auth: { service: "AUTH_WORKER" },
      },
      routes: [{ ...ok, origin: "users" }, { ...ok, id: "auth", path: "/auth", origin: "auth" }],
    });
    expect(table.origins.users).toMatchObject({
      retries: { attempts: 2, on: ["connect", 502, 503, 504], budgetPercent: 10 },
      circuitBreaker: { consecutiveFailures: 5, openSec: 30 },
      healthCheck: { path: "/healthz", intervalSec: 30, timeoutMs: 2000, unhealthyAfter: 2, healthyAfter: 2 },
    });
    expect(table.origins.auth).toMatchObject({ service: "AUTH_WORKER", timeoutMs: 30_000 });
  });

  it.each([
    [{ url: "http://a", service: "AUTH" }, ["origins.o.service: give one of url, targets or service, not url and service"]],
    [{ timeoutMs: 5 }, ["origins.o: required: url, targets or service"]],
    [{ targets: [{ url: "http://a", service: "AUTH" }] }, ["origins.o.targets[0]: give url or service, not both"]],
    [{ targets: [{ weight: 2 }] }, ["origins.o.targets[0]: required: url or service"]],
    [{ targets: [{ url: "http://a", weight: 0 }] }, ["origins.o.targets: at least one target needs a weight above 0"]],
    [{ targets: [{ url: "http://a" }, { url: "http://a" }] }, ["origins.o.targets[1]: duplicates targets[0]"]],
    [{ targets: [] }, ["origins.o.targets: must not be empty (at least one item)"]],
    [{ url: "http://a", stickyBy: "ip" }, ["origins.o.stickyBy: needs two or more targets to choose between"]],
    [{ service: "auth-worker" }, ["origins.o.service: must be the name of a service binding in wrangler.toml ([[services]] binding)"]],
    [{ url: "http://a", healthCheck: { path: "/h", intervalSec: 45 } }, ["origins.o.healthCheck.intervalSec: must divide a minute (10, 12, 15, 20, 30) or be whole minutes (60, 120, ...): probes run from a once-a-minute Cron Trigger"]],
    [{ url: "http://a", healthCheck: { path: "healthz" } }, ["origins.o.healthCheck.path: must be a path starting with / (visible ASCII, no spaces)"]],
    [{ url: "http://a", retries: { on: ["reset"] } }, [`origins.o.retries.on[0]: must be "connect", "timeout" or a 5xx status`]],
    [{ url: "http://a", retries: { on: [404] } }, [`origins.o.retries.on[0]: must be "connect", "timeout" or a 5xx status`]],
    [{ targets: [{ url: "ftp://a" }], circuitBreaker: { consecutiveFailures: 0 } }, [
      "origins.o.targets[0].url: must use http or https",
      "origins.o.circuitBreaker.consecutiveFailures: must be at least 1",
    ]],
  ])("explains a bad origin: %j", (origin, problems) => {
    expect(problemsOf({ origins: { ...origins, o: origin }, routes: [ok] })).toEqual(problems);
  });

  it("sends room events and mirrors only to a plain url origin", () => {
    const withTargets = { targets: [{ url: "http://a" }, { url: "http://b" }] };
    expect(problemsOf({
      origins: { ...origins, many: withTargets, auth: { service: "AUTH" } },
      routes: [
        { id: "room", path: "/room/:name", auth: "none", room: { name: ":name", backend: { origin: "many", events: ["connect"] } } },
        { ...ok, id: "m", path: "/m", mirror: { origin: "auth", percent: 10 } },
        { ...ok, id: "w", path: "/w", websocket: true, mirror: { origin: "users", percent: 10 } },
        { id: "r", path: "/r", auth: "none", room: { name: "r" }, mirror: { origin: "users", percent: 10 } },
      ],
    })).toEqual([
      "routes[0] (\"room\").room.backend.origin: must name an origin with a plain url (this one has targets, which only forwarding uses)",
      "routes[1] (\"m\").mirror.origin: must name an origin with a plain url (this one has service, which only forwarding uses)",
      "routes[2] (\"w\").mirror: a WebSocket route cannot be mirrored",
      "routes[3] (\"r\").mirror: only a route that forwards to an origin can be mirrored",
    ]);
  });

  it("uses a table the build step validated as it is, and validates anything else", () => {
    const parsed = loadRouteTable({ origins, routes: [ok] });
    expect(bundledRouteTable(validatedTableFile(parsed))).toBe(parsed);
    expect(bundledRouteTable({ origins, routes: [ok] })).toEqual(parsed);
    expect(() => bundledRouteTable({ origins, routes: [{ ...ok, origin: "nope" }] })).toThrow(RouteTableError);
    expect(() => bundledRouteTable({ $validated: "something else", origins, routes: [] })).toThrow(RouteTableError);
  });

  it("throws a RouteTableError listing the problems when loading a bad table", () => {
    expect(() => loadRouteTable({ origins, routes: [{ ...ok, origin: "nope" }] })).toThrow(RouteTableError);
    expect(() => loadRouteTable({ origins, routes: [{ ...ok, origin: "nope" }] })).toThrow(`routes[0] ("ok").origin: unknown origin "nope"`);
  });

  it("publishes a JSON Schema identical to what the zod schema generates (npm run schema)", () => {
    expect(readFileSync(SCHEMA_FILE, "utf8")).toBe(generateJsonSchema());
  });
});

describe("npm run check", () => {
  const check = (...args: string[]) => run(NODE, ["scripts/check.ts", ...args]).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
  );

  it("passes the shipped routes.json", async () => {
    expect(await check()).toMatchObject({ code: 0, stdout: "routes.json is valid.\n" });
  });

  it("checks a stage's table with --env (wrangler.toml's [env.staging] build step): routes.staging.json", async () => {
    expect(await check("--env", "staging")).toMatchObject({ code: 0, stdout: "routes.staging.json is valid.\n" });
    expect(await check("--env", "production")).toMatchObject({ code: 0, stdout: "routes.json is valid.\n" });
  });

  it("fails a stage whose own table is invalid, listing its problems", async () => {
    const stageDir = mkdtempSync(join(tmpdir(), "routes-stage-"));
    writeFileSync(join(stageDir, "routes.json"), JSON.stringify({ origins, routes: [ok] }));
    writeFileSync(join(stageDir, "routes.qa.json"), JSON.stringify({ origins, routes: [{ ...ok, origin: "nope" }] }));
    const result = await run(NODE, [join(process.cwd(), "scripts/check.ts"), "--env", "qa"], { cwd: stageDir }).then(
      () => ({ code: 0, stderr: "" }), (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`routes[0] ("ok").origin: unknown origin "nope"`);
  });

  it("exits non-zero and lists every problem by JSON path", async () => {
    const file = fileWith("bad.json", { origins, routes: [{ id: "a", path: "/a", origin: "ordrs" }, { id: "b", path: "b", origin: "users", auth: "none" }] });
    const result = await check(file);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("(3 problems)");
    expect(result.stderr).toContain(`  routes[0] ("a").auth: required: every route states its auth`);
    expect(result.stderr).toContain(`  routes[1] ("b").path: must start with /`);
    expect(result.stderr).toContain(`  routes[0] ("a").origin: unknown origin "ordrs"`);
  });

  it("reports a file that is not JSON", async () => {
    const result = await check(fileWith("broken.json", "{ \"origins\": "));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/not valid JSON/);
  });

  it("writes the validated table for the bundle only when it is valid (wrangler's build step)", async () => {
    const out = join(dir, "out", "routes.json");
    expect((await check(fileWith("good.json", { origins, routes: [ok] }), "--out", out)).code).toBe(0);
    const written = JSON.parse(readFileSync(out, "utf8"));
    expect(written.$validated).toBe("edge-gateway/validated-route-table");
    expect(written.table.routes[0]).toMatchObject({ id: "ok", cost: 1 }); // parsed: defaults applied
    expect(written.table.origins.users.timeoutMs).toBe(30_000);
    const bad = await check(fileWith("bad2.json", { origins, routes: [{ ...ok, origin: "x" }] }), "--out", out);
    expect(bad.code).toBe(1);
    expect(JSON.parse(readFileSync(out, "utf8")).table.routes[0].id).toBe("ok"); // untouched
  });
});

describe("identity headers", () => {
  it("may not also be set by the route, which would override the verified claim", () => {
    expect(problemsOf({
      origins,
      authorizers: { main: { type: "jwt", issuer: "i", audience: "api", algorithms: ["HS256"], secret: { env: "S" } } },
      routes: [{ ...ok, auth: { authorizer: "main" }, identityHeaders: { "x-user-id": "sub" }, requestHeaders: { set: { "X-User-Id": "admin" } } }],
    })).toEqual([`routes[0] ("ok").identityHeaders["x-user-id"]: "x-user-id" is set from a verified claim; requestHeaders.set may not also set it`]);
  });
});

describe("configs that would pass but not do what was meant", () => {
  it.each([
    ["/v1/products/**", `"**" is not a pattern here: write "*" as the last segment for the rest of the path`],
    ["/v1/products/*.json", `"*.json": "*" matches only as the whole last segment ("/files/*" is the rest of the path), never inside a segment`],
    ["/a/*b", `"*b": "*" matches only as the whole last segment ("/files/*" is the rest of the path), never inside a segment`],
    ["/users/{id}", `"{id}" is OpenAPI's notation: write ":id" for a parameter`],
    ["/{proxy+}", `"{proxy+}" is API Gateway's notation: write "*" as the last segment for the rest of the path`],
    ["/files/{name}.json", `segment "{name}.json" has { or }: a parameter is a whole segment written ":name" (for a literal brace, write %7B or %7D)`],
  ])("refuses the path %s with advice", (path, problem) => {
    expect(problemsOf({ origins, routes: [{ ...ok, path }] })).toEqual([`routes[0] ("ok").path: ${problem}`]);
  });

  it("gives the same advice in a rewrite", () => {
    expect(problemsOf({ origins, routes: [{ ...ok, path: "/u/:id", rewrite: "/users/{id}" }] }))
      .toEqual([`routes[0] ("ok").rewrite: "{id}" is OpenAPI's notation: write ":id" for a parameter`]);
  });

  const admin = { token: { env: "ADMIN_TOKEN" } };
  const plans = { small: { rate: { limit: 3, per: "10s" } }, daily: { quota: { limit: 100, per: "day" } } };

  it("refuses an API-key route with no admin API to issue keys", () => {
    expect(problemsOf({ origins, plans, routes: [{ ...ok, auth: { apiKey: true } }] })).toEqual([
      `routes[0] ("ok").auth.apiKey: API keys are issued through the admin API and the table has no "admin": add "admin": { "token": { "env": "ADMIN_TOKEN" } }`,
    ]);
  });

  it("refuses an API-key route with no plan to issue keys on", () => {
    expect(problemsOf({ origins, admin, routes: [{ ...ok, auth: { apiKey: true } }] })).toEqual([
      `routes[0] ("ok").auth.apiKey: API keys are counted against their plan and "plans" is empty: add a plan to issue keys on`,
    ]);
  });

  it("refuses a cost the route's plan can never admit, and an API-key route whose cost no plan admits", () => {
    expect(problemsOf({ origins, plans, routes: [{ ...ok, cost: 4, rateLimit: { plan: "small", by: "ip" } }] })).toEqual([
      `routes[0] ("ok").cost: is 4, but plan "small" admits at most 3 at once (rate.limit 3, its burst): every request would be refused`,
    ]);
    expect(problemsOf({ origins, plans, admin, routes: [{ ...ok, cost: 101, auth: { apiKey: true } }] })).toEqual([
      `routes[0] ("ok").cost: is 101, more than any plan admits at once: no key could ever use this route`,
    ]);
    // One plan that admits it is enough: keys on the others get 403 cost_exceeds_plan, by design.
    expect(parseRouteTable({ origins, plans, admin, routes: [{ ...ok, cost: 50, auth: { apiKey: true } }] }).ok).toBe(true);
  });

  it("refuses a refill interval of zero", () => {
    expect(problemsOf({ origins, plans: { p: { rate: { limit: 1, per: "0s" } } }, routes: [ok] }))
      .toEqual(["plans.p.rate.per: must be longer than 0 (and not absurdly long)"]);
  });

  const authorizers = { main: { type: "jwt", issuer: "i", audience: "api", algorithms: ["HS256"], secret: { env: "S" }, tokenSources: [{ header: "x-token" }] } };
  it("refuses, at their JSON path, JWT settings the authorizer would refuse at startup", () => {
    expect(problemsOf({ origins, authorizers, routes: [{ ...ok, auth: { authorizer: "main", scopes: ["read users"] }, identityHeaders: { "x-forwarded-for": "sub", "x-token": "sub" } }] })).toEqual([
      `routes[0] ("ok").auth.scopes[0]: "read users" is not a scope token (printable ASCII without spaces, " or \\)`,
      `routes[0] ("ok").identityHeaders["x-forwarded-for"]: "x-forwarded-for" cannot be an identity header: the gateway owns it or it carries credentials`,
      `routes[0] ("ok").identityHeaders["x-token"]: "x-token" cannot be an identity header: the authorizer reads the token from it`,
    ]);
  });
});

describe("did you mean", () => {
  it.each([
    [{ origins, routes: [{ ...ok, methdos: ["GET"] }] }, `routes[0] ("ok"): unknown field "methdos" (did you mean "methods"?)`],
    [{ origins: { users: { url: "http://127.0.0.1:9001", timeout: 5000 } }, routes: [ok] }, `origins.users: unknown field "timeout" (did you mean "timeoutMs"?)`],
    [{ origins, routes: [{ ...ok, auth: { apiKey: true, Authorizer: "main" } }] }, `routes[0] ("ok").auth: unknown field "Authorizer" (did you mean "authorizer"?)`],
    [{ origins, routes: [ok], plans: { p: { rate: { limit: 1, per: "1s", brust: 2 } } } }, `plans.p.rate: unknown field "brust" (did you mean "burst"?)`],
    [{ origins, routes: [ok], authorizers: { a: { type: "jwt", isuser: "i", issuer: "i", audience: "a", algorithms: ["RS256"], jwksUrl: "https://i/jwks" } } }, `authorizers.a: unknown field "isuser" (did you mean "issuer"?)`],
    [{ origins, routes: [ok], admin: { token: { env: "T" }, pathprefix: "/admin" } }, `admin: unknown field "pathprefix" (did you mean "pathPrefix"?)`],
    [{ origins, routes: [{ ...ok, rateLimit: { plan: "p", by: "ip", cost: 2 } }], plans: { p: { quota: { limit: 9, per: "day" } } } }, `routes[0] ("ok").rateLimit: unknown field "cost"; the fields accepted here are "plan", "by"`],
  ])("names the field a typo meant: %j", (table, problem) => {
    expect(problemsOf(table)).toContain(problem);
  });

  it("lists the accepted fields when no known name is near", () => {
    const [problem] = problemsOf({ origins, routes: [{ ...ok, catalgo: "x" }] });
    expect(problem).toMatch(/^routes\[0\] \("ok"\): unknown field "catalgo"; the fields accepted here are "id", "methods", "host", "path", .*"rateLimit", .*"room".*$/);
  });

  it("suggests only names that are near", () => {
    expect(nearest("methdos", ["methods", "host"])).toBe("methods");
    expect(nearest("timeout", ["timeoutMs", "url"])).toBe("timeoutMs");
    expect(nearest("ORIGIN", ["origin"])).toBe("origin");
    expect(nearest("catalgo", ["id", "methods", "host", "path", "origin"])).toBeUndefined();
    expect(nearest("x", ["id"])).toBeUndefined();
  });
});

describe("messages in the gateway's own words", () => {
  // At least one table per kind of problem zod reports; the last test checks the corpus covers them.
  const corpus: unknown[] = [
    null,
    { routes: [] },
    { origins, routes: "all of them" },
    { origins, routes: [{ path: "/x", origin: "users", auth: "none" }] },
    { origins, routes: [{ ...ok, id: 7, methods: [], websocket: "yes", cost: 1.5 }] },
    { origins, routes: [{ ...ok, methods: ["FETCH"], cost: 0 }] },
    { origins, routes: [{ ...ok, methdos: ["GET"], catalgo: 1 }] },
    { origins: { users: { url: "http://127.0.0.1:9001", timeoutMs: 999_999_999, timeout: 1 } }, routes: [ok] },
    { origins: { "bad name": { url: "http://x" } }, routes: [ok] },
    { origins, routes: [{ ...ok, auth: 5 }] },
    { origins, routes: [{ ...ok, auth: { apiKey: "yes" } }] },
    { origins, routes: [ok], plans: { "bad name": { rate: { limit: 0, per: "soon" } }, p: {} } },
    { origins, routes: [ok], plans: { p: { quota: { limit: 1, per: "fortnight" }, onLimiterError: "maybe" } } },
    { origins, routes: [ok], authorizers: { a: { type: "jot", issuer: "", audience: [], algorithms: ["none"], jwksUrl: "ftp://x", clockToleranceSec: 3600, tokenSources: [{ hdr: "x" }, { query: "q".repeat(200) }] } } },
    { origins, authorizers: { a: { type: "jwt", issuer: "i", audience: "a", algorithms: ["RS256"], jwksUrl: "https://i/jwks" } }, routes: [{ ...ok, auth: { authorizer: "a", claims: { role: { contain: "x" }, n: [1] } } }] },
    { origins, routes: [{ ...ok, origin: undefined, room: { nme: "x", maxConnections: 10 ** 9, messagesPerSecond: 0, allowedOrigins: ["https://a.example/"], identityClaims: Array(20).fill("c") } }] },
    { origins, routes: [ok], admin: { tokn: { env: "X" } } },
    { origins, routes: [ok], admin: { token: "hunter2" } },
    { origins, routes: [{ ...ok, requestHeaders: { set: { "bad header": "x" }, remove: "cookie" } }] },
  ];
  const ZOD_WORDING = /Invalid input|Invalid option|Invalid URL|expected|received|Too small|Too big|Unrecognized|>=|<=/i;

  it("never shows zod's own wording", () => {
    const problems = corpus.flatMap((table) => problemsOf(table));
    expect(problems.length).toBeGreaterThan(40);
    expect(problems.filter((problem) => ZOD_WORDING.test(problem))).toEqual([]);
  });

  it("covers every kind of problem the table schema can report (so the corpus above means something)", () => {
    const codes = new Set(corpus.flatMap((table) => {
      const result = RouteTableSchema.safeParse(table);
      return result.success ? [] : result.error.issues.map((issue) => issue.code);
    }));
    expect([...codes].sort()).toEqual(["custom", "invalid_format", "invalid_key", "invalid_type", "invalid_union", "invalid_value", "too_big", "too_small", "unrecognized_keys"]);
  });

  it("words each kind of problem", () => {
    expect(problemsOf({ origins, routes: [{ ...ok, methods: [] }] })).toEqual([`routes[0] ("ok").methods: must not be empty (at least one item)`]);
    expect(problemsOf({ routes: [] })).toEqual(["origins: required"]);
    expect(problemsOf({ origins: { users: { url: "http://o", timeoutMs: 300_001 } }, routes: [ok] })).toEqual(["origins.users.timeoutMs: must be at most 300000"]);
    expect(problemsOf({ origins, routes: [ok], plans: { p: { quota: { limit: 1, per: "fortnight" } } } }))
      .toEqual([`plans.p.quota.per: must be one of "minute", "hour", "day", "week" or "month"`]);
    expect(problemsOf({ origins, routes: [ok], plans: { "bad name": { quota: { limit: 1, per: "day" } } } }))
      .toEqual([`plans["bad name"]: has a name that is not allowed: plan names are letters, digits, _ and - (up to 64)`]);
    expect(problemsOf({ origins, routes: [ok], authorizers: { a: { type: "jwt", issuer: "i", audience: "a", algorithms: ["RS256"], jwksUrl: "https://i/jwks", tokenSources: [{ hdr: "x" }] } } }))
      .toEqual([`authorizers.a.tokenSources[0]: must be { "header": ... }, { "cookie": ... }, { "query": ... } or { "webSocketProtocol": ... }`]);
    expect(problemsOf({ origins, authorizers: { a: { type: "jwt", issuer: "i", audience: "a", algorithms: ["RS256"], jwksUrl: "https://i/jwks" } }, routes: [{ ...ok, auth: { authorizer: "a", claims: { n: [1] } } }] }))
      .toEqual([`routes[0] ("ok").auth: claims.n: must be a string, a number, true or false, { "contains": ... } or { "in": ... }`]);
  });
});

describe("stages", () => {
  it("pick routes.<stage>.json when it exists, else routes.json", () => {
    const stageDir = mkdtempSync(join(tmpdir(), "routes-stages-"));
    writeFileSync(join(stageDir, "routes.staging.json"), "{}");
    expect(routesFileFor("staging", stageDir)).toBe(join(stageDir, "routes.staging.json"));
    expect(routesFileFor("production", stageDir)).toBe(join(stageDir, "routes.json"));
    expect(routesFileFor(undefined, stageDir)).toBe(join(stageDir, "routes.json"));
    expect(() => routesFileFor("../etc", stageDir)).toThrow(/not a stage name/);
  });

  it("npm start takes --env for wrangler dev's stage and keeps other flags for wrangler", () => {
    expect(parseStartArgs(["--env", "staging", "--port", "9999", "--var", "A:b"])).toEqual({ routes: undefined, port: 9999, fresh: false, env: "staging", passThrough: ["--var", "A:b"] });
    expect(parseStartArgs(["--env=production"]).env).toBe("production");
  });
});
