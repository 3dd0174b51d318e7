/**
 * The OpenAPI export (src/openapi/export.ts, `npm run openapi`): a real validator accepts it as
 * OpenAPI 3.1, it says what a client needs (paths, parameters, security, limits, the gateway's
 * errors, request schemas) and nothing an operator keeps to themselves, and export -> import ->
 * export gives the same routes.
 */
import { Validator } from "@seriousme/openapi-schema-validator";
import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { buildTableSchema, formatIssues, type RouteTable } from "../../src/config/index.ts";
import { exportOpenApi, openApiPath, type OpenApiObject } from "../../src/openapi/export.ts";
import { importOpenApi } from "../../src/openapi/import.ts";
import { POLICIES } from "../../src/policies/index.ts";
import type { AnyPolicy } from "../../src/policy.ts";
import { readDocument } from "../../scripts/import.ts";

type Doc = Record<string, any>;

// A stand-in for the request-validation policy being built in parallel (its declared field shape).
const Json = z.record(z.string(), z.unknown());
const validateStandIn: AnyPolicy = {
  name: "validate", summary: "stand-in",
  routeFields: { validate: z.strictObject({ query: Json.optional(), headers: Json.optional(), params: Json.optional(), body: Json.optional(), contentTypes: z.array(z.string()).optional() }).optional() },
  create: () => undefined,
};
const policies = [...POLICIES, validateStandIn];

function parse(input: unknown): RouteTable {
  const result = buildTableSchema(policies).safeParse(input);
  if (!result.success) throw new Error(formatIssues(result.error.issues).join("\n"));
  return result.data as RouteTable;
}

const TABLE = {
  origins: { app: { url: "https://app.internal.example:8443/base" } },
  authorizers: {
    main: { type: "jwt", issuer: "https://auth.example.com/", audience: "api", algorithms: ["RS256"], jwksUrl: "https://auth.example.com/.well-known/jwks.json", tokenSources: [{ header: "authorization" }, { cookie: "session" }] },
    hmac: { type: "jwt", issuer: "me", audience: "you", algorithms: ["HS256"], secret: { env: "HMAC_SECRET" } },
  },
  apiKeys: { header: "x-key" },
  plans: { free: { rate: { limit: 10, per: "1s" }, quota: { limit: 1000, per: "day" }, onLimiterError: "open" } },
  admin: { token: { env: "ADMIN_TOKEN" } },
  routes: [
    { id: "health", methods: ["GET"], path: "/health", origin: "app", auth: "none" },
    {
      id: "users.get", methods: ["GET"], path: "/v1/users/:id", origin: "app", rewrite: "/users/:id",
      auth: { authorizer: "main", scopes: ["users:read"], claims: { tenant: "acme" } },
      identityHeaders: { "x-user-id": "sub" }, rateLimit: { plan: "free", by: "jwt:sub" }, cost: 2,
      requestHeaders: { set: { "x-internal-flag": "1" } },
    },
    { id: "users.write", methods: ["POST", "PUT"], path: "/v1/users/:id", origin: "app", auth: { authorizer: "hmac" } },
    { id: "files", path: "/files/*", host: "files.example.com", origin: "app", auth: { apiKey: true } },
    {
      id: "search", methods: ["GET"], path: "/search", origin: "app", auth: "none",
      validate: {
        query: { type: "object", properties: { q: { type: "string", minLength: 1 }, page: { type: "integer" } }, required: ["q"] },
        headers: { type: "object", properties: { "x-tenant": { type: "string" } } },
      },
    },
    {
      id: "orders.create", methods: ["POST"], path: "/orders/:shop", origin: "app", auth: "none",
      validate: { params: { type: "object", properties: { shop: { type: "string", pattern: "^[a-z]+$" } } }, body: { type: "object", required: ["sku"], properties: { sku: { type: "string" } } }, contentTypes: ["application/json", "application/merge-patch+json"] },
    },
    { id: "chat", path: "/rooms/:room", room: { name: ":room" }, auth: { authorizer: "main" } },
    { id: "wild", methods: ["GET"], host: "*.example.com", path: "/w", origin: "app", auth: "none" },
  ],
};

async function validate(doc: unknown): Promise<{ valid: boolean; version: string | undefined; errors?: unknown }> {
  const validator = new Validator();
  const result = await validator.validate(doc as Record<string, unknown>);
  return { ...result, version: validator.version };
}

describe("the OpenAPI export of a route table", () => {
  const table = parse(TABLE);
  const doc = exportOpenApi(table, { serverUrl: "https://gw.example.com" }) as Doc;
  const op = (path: string, method: string) => doc.paths[path][method] as Doc;

  it("is valid OpenAPI 3.1 to a real validator", async () => {
    expect(await validate(doc)).toEqual({ valid: true, version: "3.1" });
  });

  it("the validator refuses a broken document (the check can fail)", async () => {
    const broken = structuredClone(doc);
    broken.paths["/health"].get.responses = "none";
    expect((await validate(broken)).valid).toBe(false);
  });

  it("writes :param as {param} and a final * as a {proxy} parameter marked as the rest of the path", () => {
    expect(openApiPath("/v1/users/:id")).toEqual({ path: "/v1/users/{id}", params: ["id"] });
    expect(openApiPath("/a/:proxy/*")).toEqual({ path: "/a/{proxy}/{proxy_}", params: ["proxy"], wildcard: "proxy_" });
    expect(Object.keys(doc.paths)).toEqual(["/health", "/v1/users/{id}", "/files/{proxy}", "/search", "/orders/{shop}", "/rooms/{room}", "/w"]);
    expect(op("/files/{proxy}", "get").parameters).toEqual([
      { name: "proxy", in: "path", required: true, description: "The rest of the path (may be empty, may contain /).", schema: { type: "string" }, "x-edge-gateway-wildcard": true },
    ]);
  });

  it("lists each method of a route, and every method of a route without methods", () => {
    expect(Object.keys(doc.paths["/v1/users/{id}"])).toEqual(["get", "post", "put"]);
    expect(op("/v1/users/{id}", "post").operationId).toBe("users.write_POST");
    expect(Object.keys(doc.paths["/files/{proxy}"])).toEqual(["get", "head", "post", "put", "patch", "delete", "options"]);
    expect(op("/files/{proxy}", "patch")).toMatchObject({ operationId: "files_PATCH", "x-edge-gateway-any-method": true, "x-edge-gateway-route": "files" });
  });

  it("puts a route's host in its servers", () => {
    expect(op("/files/{proxy}", "get").servers).toEqual([{ url: "https://files.example.com" }]);
    expect(op("/w", "get").servers).toEqual([{ url: "https://{subdomain}.example.com", variables: { subdomain: { default: "www", description: "Any subdomain of example.com." } } }]);
    expect(doc.servers).toEqual([{ url: "https://gw.example.com" }]);
  });

  it("describes each JWT authorizer as a bearer scheme per token source, and the API key as its header", () => {
    const schemes = doc.components.securitySchemes;
    expect(Object.keys(schemes)).toEqual(["jwt-main", "jwt-main-cookie", "jwt-hmac", "apiKey"]);
    expect(schemes["jwt-main"]).toMatchObject({ type: "http", scheme: "bearer", bearerFormat: "JWT" });
    expect(schemes["jwt-main-cookie"]).toMatchObject({ type: "apiKey", in: "cookie", name: "session" });
    expect(schemes.apiKey).toMatchObject({ type: "apiKey", in: "header", name: "x-key" });
  });

  it("requires the route's scopes from any of its authorizer's sources, an API key where asked, nothing on a public route", () => {
    expect(op("/v1/users/{id}", "get").security).toEqual([{ "jwt-main": ["users:read"] }, { "jwt-main-cookie": ["users:read"] }]);
    expect(op("/files/{proxy}", "get").security).toEqual([{ apiKey: [] }]);
    expect(op("/health", "get").security).toEqual([]);
  });

  it("answers 401 and 403 on authenticated routes only, 429 with RateLimit headers on limited routes only", () => {
    const statuses = (o: Doc) => Object.keys(o.responses).sort();
    expect(statuses(op("/health", "get"))).toEqual(["400", "404", "502", "504", "default"]);
    expect(statuses(op("/v1/users/{id}", "get"))).toEqual(["400", "401", "403", "404", "429", "502", "503", "504", "default"]);
    expect(statuses(op("/v1/users/{id}", "post"))).not.toContain("429");
    expect(statuses(op("/files/{proxy}", "get"))).toContain("429"); // the key's own plan
    expect(op("/v1/users/{id}", "get").responses.default.headers).toEqual({ RateLimit: { $ref: "#/components/headers/RateLimit" }, "RateLimit-Policy": { $ref: "#/components/headers/RateLimit-Policy" } });
    const tooMany = doc.components.responses.TooManyRequests;
    expect(Object.keys(tooMany.headers)).toEqual(["RateLimit", "RateLimit-Policy", "Retry-After"]);
    expect(tooMany.description).toContain("`rate_limited`");
    expect(tooMany.content["application/json"].schema).toEqual({ $ref: "#/components/schemas/GatewayError" });
    expect(op("/v1/users/{id}", "get")["x-edge-gateway-rate-limit"]).toEqual({ plan: "free", by: "jwt:sub", cost: 2 });
  });

  it("has the envelope schema and a response for each gateway error status, 404 and 405 included", () => {
    expect(doc.components.schemas.GatewayError.properties.error.required).toEqual(["code", "message", "requestId"]);
    expect(Object.keys(doc.components.responses)).toEqual(["BadRequest", "Unauthorized", "Forbidden", "NotFound", "MethodNotAllowed", "UpgradeRequired", "TooManyRequests", "BadGateway", "ServiceUnavailable", "GatewayTimeout"]);
    expect(doc.components.responses.MethodNotAllowed.headers).toEqual({ Allow: { $ref: "#/components/headers/Allow" } });
    expect(doc.components.responses.Unauthorized.description).toContain("`token_missing`");
    expect(doc.components.responses.Unauthorized.description).not.toContain("admin_unauthorized");
  });

  it("turns validate into parameters and a request body", () => {
    expect(op("/search", "get").parameters).toEqual([
      { name: "q", in: "query", required: true, schema: { type: "string", minLength: 1 } },
      { name: "page", in: "query", required: false, schema: { type: "integer" } },
      { name: "x-tenant", in: "header", required: false, schema: { type: "string" } },
    ]);
    expect(op("/orders/{shop}", "post").parameters).toEqual([{ name: "shop", in: "path", required: true, schema: { type: "string", pattern: "^[a-z]+$" } }]);
    expect(op("/orders/{shop}", "post").requestBody).toEqual({
      required: true,
      content: { "application/json": { schema: TABLE.routes[5]!.validate!.body }, "application/merge-patch+json": { schema: TABLE.routes[5]!.validate!.body } },
    });
  });

  it("marks a room as a WebSocket: GET, 101 and 426", () => {
    expect(Object.keys(doc.paths["/rooms/{room}"])).toEqual(["get"]);
    expect(op("/rooms/{room}", "get")).toMatchObject({ "x-edge-gateway-websocket": true, "x-edge-gateway-room": { name: ":room" } });
    expect(Object.keys(op("/rooms/{room}", "get").responses)).toEqual(expect.arrayContaining(["101", "426"]));
  });

  it("leaves out what the operator keeps: origins, rewrites, header edits, identity headers, secret names, key material", () => {
    const text = JSON.stringify(doc);
    for (const secret of ["app.internal", "8443", "/users/:id", "x-internal-flag", "x-user-id", "HMAC_SECRET", "ADMIN_TOKEN", "onLimiterError"]) expect(text).not.toContain(secret);
    expect(doc.components.securitySchemes["jwt-hmac"]["x-edge-gateway-authorizer"]).toEqual({ name: "hmac", tokenSource: { header: "authorization" }, issuer: "me", audience: "you", algorithms: ["HS256"], keySource: "secret" });
  });
});

describe("round trip: export, import and export again", () => {
  const core = (t: Doc) => (t.routes as Doc[]).map((r) => ({ id: r.id, methods: r.methods, host: r.host, path: r.path, auth: r.auth, rateLimit: r.rateLimit, cost: r.cost, validate: r.validate, room: r.room?.name }));

  it("gives the same routes and the same document for a table with every feature", async () => {
    const table = parse(TABLE);
    const first = exportOpenApi(table, { serverUrl: "https://gw.example.com" });
    const imported = importOpenApi(first, { policies });
    const again = parse(imported.table);
    expect(core(again).sort((a, b) => a.id.localeCompare(b.id))).toEqual(core(table).sort((a, b) => a.id.localeCompare(b.id)));
    const second = exportOpenApi(again, { serverUrl: "https://gw.example.com" });
    expect(second).toEqual(first);
    // What the export leaves out comes back as notes to fill in, never silently.
    expect(imported.notes.map((n) => n.message)).toEqual(expect.arrayContaining([
      expect.stringMatching(/^fill in origin "api"/),
      expect.stringMatching(/^set the Worker secret HMAC_JWT_SECRET for authorizer "hmac"/),
    ]));
  });

  const FIXTURES = fileURLToPath(new URL("../fixtures/", import.meta.url));
  const files = [
    ...readdirSync(`${FIXTURES}aws-apigateway-exports/`).filter((f) => f.endsWith(".json")).map((f) => `aws-apigateway-exports/${f}`),
    "openapi/petstore-3.0.yaml", "openapi/aws-http-api-jwt-cors-mock.yaml",
  ];
  for (const file of files) {
    it(`${file}: the imported table exports valid OpenAPI 3.1 that imports and exports to the same document`, async () => {
      const table = parse(importOpenApi(readDocument(`${FIXTURES}${file}`), { policies }).table);
      const first = exportOpenApi(table);
      expect(await validate(first)).toEqual({ valid: true, version: "3.1" });
      const again = parse(importOpenApi(first, { policies }).table);
      expect(core(again).sort((a, b) => a.id.localeCompare(b.id))).toEqual(core(table).sort((a, b) => a.id.localeCompare(b.id)));
      expect(exportOpenApi(again)).toEqual(first);
    });
  }
});

describe("npm run openapi", () => {
  it("prints the project's routes.json as valid OpenAPI 3.1", async () => {
    const script = fileURLToPath(new URL("../../scripts/openapi.ts", import.meta.url));
    const root = fileURLToPath(new URL("../../", import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, [script, "--server", "https://api.example.com"], { cwd: root });
    const doc = JSON.parse(stdout) as OpenApiObject;
    expect(await validate(doc)).toEqual({ valid: true, version: "3.1" });
    expect(Object.keys(doc.paths as object)).toEqual(["/health", "/v1/users/{id}", "/v1/orders/{proxy}"]);
  });
});
