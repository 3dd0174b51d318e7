import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { routesFileFor } from "../../scripts/check.ts";
import { generateJsonSchema, SCHEMA_FILE } from "../../scripts/schema.ts";
import { parseArgs } from "../../scripts/start.ts";
import { bundledRouteTable, loadRouteTable, parseRouteTable, RouteTableError, validatedTableFile } from "../../src/config/index.ts";

const run = promisify(execFile);
const NODE = join(process.cwd(), "node_modules/.bin/node");
const dir = mkdtempSync(join(tmpdir(), "routes-check-"));
const fileWith = (name: string, table: unknown) => {
  const file = join(dir, name);
  writeFileSync(file, typeof table === "string" ? table : JSON.stringify(table, null, 2));
  return file;
};

const origins = { users: { url: "http://127.0.0.1:9001" } };
const ok = { id: "ok", path: "/ok", origin: "users", auth: "none" };
const problemsOf = (table: unknown): string[] => {
  const result = parseRouteTable(table);
  if (result.ok) throw new Error("expected the table to be invalid");
  return result.problems;
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
      "origins.orders.timeoutMs: Too small: expected number to be >=1",
      `routes[1].auth: required: every route states its auth ("none" makes a public route explicit)`,
      "routes[2].path: must not contain an empty segment (//)",
      `routes[2].path: "*" may only be the last segment`,
      `routes[0].origin: unknown origin "ordrs"`,
      `routes[1].id: duplicate route id "a" (also routes[0])`,
      `routes[1].path: duplicates routes[0] ("a"): same host, path and method`,
    ]);
  });

  it("refuses a route without auth: the gateway is closed by default", () => {
    expect(problemsOf({ origins, routes: [{ id: "x", path: "/x", origin: "users" }] }))
      .toEqual([`routes[0].auth: required: every route states its auth ("none" makes a public route explicit)`]);
  });

  it("refuses duplicate routes however their parameters are named, but allows other methods or hosts", () => {
    expect(problemsOf({ origins, routes: [
      { ...ok, id: "a", path: "/u/:id", methods: ["GET"] },
      { ...ok, id: "b", path: "/u/:name", methods: ["POST", "GET"] },
    ] })).toEqual([`routes[1].path: duplicates routes[0] ("a"): same host, path and method`]);
    expect(problemsOf({ origins, routes: [{ ...ok, id: "a", path: "/u" }, { ...ok, id: "b", path: "/u", methods: ["PUT"] }] }))
      .toEqual([`routes[1].path: duplicates routes[0] ("a"): same host, path and method`]);
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
    expect(problemsOf({ origins, routes: [{ ...ok, rewite: "/x" }] })).toEqual([`routes[0]: Unrecognized key: "rewite"`]);
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
    [{ ...ok, methods: ["FETCH"] }, `routes[0].methods[0]: Invalid option: expected one of "GET"|"HEAD"|"POST"|"PUT"|"PATCH"|"DELETE"|"OPTIONS"`],
    [{ ...ok, origin: undefined }, "routes[0].origin: required: the origin to forward to (or a room)"],
  ])("explains a bad route: %j", (route, problem) => {
    expect(problemsOf({ origins, routes: [route] })).toEqual([problem]);
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
    [{ targets: [] }, ["origins.o.targets: Too small: expected array to have >=1 items"]],
    [{ url: "http://a", stickyBy: "ip" }, ["origins.o.stickyBy: needs two or more targets to choose between"]],
    [{ service: "auth-worker" }, ["origins.o.service: must be the name of a service binding in wrangler.toml ([[services]] binding)"]],
    [{ url: "http://a", healthCheck: { path: "/h", intervalSec: 45 } }, ["origins.o.healthCheck.intervalSec: must divide a minute (10, 12, 15, 20, 30) or be whole minutes (60, 120, ...): probes run from a once-a-minute Cron Trigger"]],
    [{ url: "http://a", healthCheck: { path: "healthz" } }, ["origins.o.healthCheck.path: must be a path starting with / (visible ASCII, no spaces)"]],
    [{ url: "http://a", retries: { on: ["reset"] } }, [`origins.o.retries.on[0]: must be "connect", "timeout" or a 5xx status`]],
    [{ url: "http://a", retries: { on: [404] } }, [`origins.o.retries.on[0]: must be "connect", "timeout" or a 5xx status`]],
    [{ targets: [{ url: "ftp://a" }], circuitBreaker: { consecutiveFailures: 0 } }, [
      "origins.o.targets[0].url: must use http or https",
      "origins.o.circuitBreaker.consecutiveFailures: Too small: expected number to be >=1",
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
      "routes[0].room.backend.origin: must name an origin with a plain url (this one has targets, which only forwarding uses)",
      "routes[1].mirror.origin: must name an origin with a plain url (this one has service, which only forwarding uses)",
      "routes[2].mirror: a WebSocket route cannot be mirrored",
      "routes[3].mirror: only a route that forwards to an origin can be mirrored",
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
    expect(() => loadRouteTable({ origins, routes: [{ ...ok, origin: "nope" }] })).toThrow(/routes\[0\]\.origin: unknown origin "nope"/);
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
    expect(result.stderr).toContain(`routes[0].origin: unknown origin "nope"`);
  });

  it("exits non-zero and lists every problem by JSON path", async () => {
    const file = fileWith("bad.json", { origins, routes: [{ id: "a", path: "/a", origin: "ordrs" }, { id: "b", path: "b", origin: "users", auth: "none" }] });
    const result = await check(file);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("(3 problems)");
    expect(result.stderr).toContain(`  routes[0].auth: required: every route states its auth`);
    expect(result.stderr).toContain(`  routes[1].path: must start with /`);
    expect(result.stderr).toContain(`  routes[0].origin: unknown origin "ordrs"`);
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
    })).toEqual([`routes[0].identityHeaders["x-user-id"]: "x-user-id" is set from a verified claim; requestHeaders.set may not also set it`]);
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
    expect(parseArgs(["--env", "staging", "--port", "9999", "--var", "A:b"])).toEqual({ routes: undefined, port: 9999, env: "staging", passThrough: ["--var", "A:b"] });
    expect(parseArgs(["--env=production"]).env).toBe("production");
  });
});
