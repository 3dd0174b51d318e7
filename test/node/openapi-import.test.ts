/**
 * The importer (src/openapi/import.ts, `npm run import`) on every Amazon API Gateway export of the
 * corpus, on the Swagger Petstore and on our own AWS HTTP API definition: each imports, passes the
 * check, and has a route for every operation or a note saying why not.
 */
import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { buildTableSchema, formatIssues, parseRouteTable } from "../../src/config/index.ts";
import { FILL_IN_URL, importOpenApi, ImportError, type ImportResult } from "../../src/openapi/import.ts";
import { POLICIES } from "../../src/policies/index.ts";
import type { AnyPolicy } from "../../src/policy.ts";
import { readDocument } from "../../scripts/import.ts";

const FIXTURES = fileURLToPath(new URL("../fixtures/", import.meta.url));
const AWS_DIR = `${FIXTURES}aws-apigateway-exports/`;
const awsFiles = readdirSync(AWS_DIR).filter((f) => f.endsWith(".json")).map((f) => `${AWS_DIR}${f}`);
const ownFiles = [`${FIXTURES}openapi/petstore-3.0.yaml`, `${FIXTURES}openapi/aws-http-api-jwt-cors-mock.yaml`];
const OPERATION_KEYS = ["get", "put", "post", "delete", "options", "head", "patch", "trace", "x-amazon-apigateway-any-method"];

type Doc = Record<string, any>;
const load = (file: string) => readDocument(file) as Doc;
const importDoc = (doc: unknown, policies: readonly AnyPolicy[] = POLICIES, origins?: Record<string, string>) => importOpenApi(doc, { policies, ...(origins ? { origins } : {}) });
const pathText = (path: string, method: string) => `paths[${JSON.stringify(path)}].${method}`;

/** Every operation of a document, counted from the document itself. */
function operationsOf(doc: Doc): string[] {
  return Object.entries(doc.paths as Doc).flatMap(([path, item]) => OPERATION_KEYS.filter((m) => item[m] !== undefined).map((m) => pathText(path, m)));
}

function noteAt(result: ImportResult, path: string): string | undefined {
  return result.notes.find((n) => n.path === path)?.message;
}

describe("importing every Amazon API Gateway export of the corpus, the Petstore and our AWS HTTP API", () => {
  it("finds the 14 corpus files and our two documents", () => {
    expect(awsFiles).toHaveLength(14);
  });

  for (const file of [...awsFiles, ...ownFiles]) {
    const name = file.slice(FIXTURES.length);
    it(`${name}: imports, passes the check, and accounts for every operation`, () => {
      const doc = load(file);
      const result = importDoc(doc);
      const checked = parseRouteTable(result.table);
      expect(checked.ok ? [] : checked.problems).toEqual([]);

      const expected = operationsOf(doc);
      expect(expected.length).toBeGreaterThan(0);
      expect(result.operations.map((o) => o.path).sort()).toEqual([...expected].sort());
      const routeIds = new Set((result.table.routes as { id: string }[]).map((r) => r.id));
      for (const op of result.operations) {
        if (op.route !== undefined) expect(routeIds.has(op.route), op.path).toBe(true);
        else expect(result.notes.some((n) => n.path.startsWith(op.path) && n.message.startsWith("operation not imported")), op.path).toBe(true);
      }
      // Every route came from an operation.
      expect(new Set(result.operations.flatMap((o) => (o.route ? [o.route] : [])))).toEqual(routeIds);
    });

    it(`${name}: notes every key of every integration it does not carry over`, () => {
      const doc = load(file);
      const result = importDoc(doc);
      const notePaths = new Set(result.notes.map((n) => n.path));
      const integrations = (doc.components?.["x-amazon-apigateway-integrations"] ?? {}) as Doc;
      for (const [path, item] of Object.entries(doc.paths as Doc)) {
        for (const method of OPERATION_KEYS) {
          let integration = item[method]?.["x-amazon-apigateway-integration"] as Doc | undefined;
          if (!integration) continue;
          const at = `${pathText(path, method)}.x-amazon-apigateway-integration`;
          if (typeof integration.$ref === "string") integration = integrations[integration.$ref.split("/").at(-1)!];
          const type = String(integration!.type).toLowerCase();
          // What the importer maps: the integration's type and target, its timeout, its path parameters.
          const mapped = new Set(["type", "uri", "httpMethod", "timeoutInMillis", "passthroughBehavior", "payloadFormatVersion", "requestParameters"]);
          if (type.endsWith("_proxy")) mapped.add("responses"); // a proxy passes the response through, as the gateway does
          if (type === "mock") { mapped.add("requestTemplates"); mapped.add("responses"); }
          for (const key of Object.keys(integration!)) {
            if (!mapped.has(key)) expect(notePaths.has(`${at}.${key}`), `${at}.${key}`).toBe(true);
          }
          for (const [target, source] of Object.entries((integration!.requestParameters ?? {}) as Doc)) {
            const carried = target.startsWith("integration.request.path.") || (target.startsWith("integration.request.header.") && /^'.*'$/.test(String(source)));
            if (!carried) expect(notePaths.has(`${at}.requestParameters[${JSON.stringify(target)}]`), target).toBe(true);
          }
        }
      }
      // Top-level AWS extensions: each has a note (request validators are read per operation).
      for (const key of Object.keys(doc)) {
        if (key.startsWith("x-amazon-apigateway-") && !key.startsWith("x-amazon-apigateway-request-validator")) expect(notePaths.has(key), key).toBe(true);
      }
    });
  }

  it("notes every stage variable with its JSON path", () => {
    const result = importDoc(load(`${AWS_DIR}set-up-api-with-vpclink-using-swagger-0.json`));
    expect(noteAt(result, `${pathText("/", "get")}.x-amazon-apigateway-integration.connectionId`)).toMatch(/stage variables have no equivalent \(\$\{stageVariables\.vpcLinkId\}\)/);
  });
});

describe("what an operation becomes", () => {
  const corpus = (file: string) => importDoc(load(`${AWS_DIR}${file}`));

  it("turns {param} into :param and an HTTP integration into an origin and a rewrite with the mapped parameter", () => {
    const { table } = corpus("create-api-using-swagger-0.json");
    expect(table.origins).toEqual({ "petstore-demo-endpoint": { url: "http://petstore-demo-endpoint.execute-api.com" } });
    expect(table.routes).toContainEqual({ id: "get.pets.petId", methods: ["GET"], path: "/pets/:petId", origin: "petstore-demo-endpoint", rewrite: "/petstore/pets/:petId", auth: "none" });
  });

  it("turns {proxy+} into * and x-amazon-apigateway-any-method into a route for every method", () => {
    const { table } = corpus("setup-http-integrations-0.json");
    expect(table.routes).toEqual([{ id: "any.rest", path: "/*", origin: "petstore-demo-endpoint", rewrite: "/petstore/*", auth: "none" }]);
  });

  it("gives an any-method resource the methods its explicit operations leave", () => {
    const { table } = importDoc(load(`${FIXTURES}openapi/aws-http-api-jwt-cors-mock.yaml`));
    const legacy = (table.routes as Doc[]).filter((r) => r.path === "/legacy/*");
    expect(legacy.map((r) => [r.id, r.methods, r.origin, r.rewrite])).toEqual([
      ["legacyCached", ["GET"], "cache", undefined],
      ["any.legacy.rest", ["HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"], "legacy", "/*"],
    ]);
  });

  it("gives a Lambda an origin to fill in, named after the function, and says so", () => {
    const result = corpus("set-up-lambda-proxy-integrations-0.json");
    expect(result.table.origins).toEqual({ "lambda-SimpleLambda4ProxyResource": { url: FILL_IN_URL } });
    expect(noteAt(result, `${pathText("/{proxy+}", "x-amazon-apigateway-any-method")}.x-amazon-apigateway-integration.uri`))
      .toMatch(/^fill in origin "lambda-SimpleLambda4ProxyResource" \(now https:\/\/FILL-IN\.invalid\): Lambda function .* pass --origin lambda-SimpleLambda4ProxyResource=URL/);
  });

  it("reports an AWS service integration, its IAM role and its VTL templates, one line each", () => {
    const result = corpus("api-as-kinesis-proxy-export-swagger-with-extensions-1.json");
    const at = `${pathText("/streams/{stream-name}", "post")}.x-amazon-apigateway-integration`;
    expect(noteAt(result, `${at}.uri`)).toMatch(/AWS service integration "arn:aws:apigateway:us-east-1:kinesis:action\/CreateStream" has no equivalent/);
    expect(noteAt(result, `${at}.credentials`)).toMatch(/IAM role has no equivalent/);
    expect(noteAt(result, `${at}.requestTemplates`)).toMatch(/mapping templates \(VTL\) have no equivalent/);
    // The static Content-Type the integration set is carried over as a request header.
    expect((result.table.routes as Doc[]).find((r) => r.path === "/streams/:stream_name" && r.methods[0] === "POST")!.requestHeaders)
      .toEqual({ set: { "content-type": "application/x-amz-json-1.1" } });
  });

  it("keeps the document's server as the origin of operations without an integration, and --origin fills in a relative one", () => {
    const pet = load(`${FIXTURES}openapi/petstore-3.0.yaml`);
    const without = importDoc(pet);
    expect(without.table.origins).toEqual({ api: { url: FILL_IN_URL } });
    expect(noteAt(without, "servers[0].url")).toBe(`fill in origin "api" (now ${FILL_IN_URL}): "/api/v3" is not an absolute URL; pass --origin api=URL`);
    const withOrigin = importDoc(pet, POLICIES, { api: "https://petstore3.swagger.io/api/v3" });
    expect(withOrigin.table.origins).toEqual({ api: { url: "https://petstore3.swagger.io/api/v3" } });
    expect(withOrigin.notes.some((n) => n.message.includes("fill in origin"))).toBe(false);
    expect(importDoc(pet, POLICIES, { apii: "https://x.example" }).unusedOrigins).toEqual(["apii"]);
  });

  it("folds server variables into the origin URL", () => {
    const { table } = importDoc({ openapi: "3.0.0", info: { title: "t", version: "1" }, servers: [{ url: "https://{host}.example.com/{base}", variables: { host: { default: "api" }, base: { default: "/v1" } } }], paths: { "/a": { get: { responses: {} } } } });
    expect(table.origins).toEqual({ api: { url: "https://api.example.com/v1" } });
  });

  it("reads OpenAPI 2.0 host, basePath and schemes as the origin", () => {
    const { table } = importDoc({ swagger: "2.0", info: { title: "t", version: "1" }, host: "api.example.com", basePath: "/v2", schemes: ["http"], paths: { "/a": { get: { responses: {} } } } });
    expect(table.origins).toEqual({ api: { url: "http://api.example.com/v2" } });
  });

  it("refuses what is not an OpenAPI document", () => {
    expect(() => importDoc({ asyncapi: "2.0.0", paths: {} })).toThrow(ImportError);
    expect(() => importDoc([])).toThrow(/not an object/);
  });
});

describe("security, failing closed", () => {
  const aws = importDoc(load(`${FIXTURES}openapi/aws-http-api-jwt-cors-mock.yaml`));
  const routeOf = (result: ImportResult, id: string) => (result.table.routes as Doc[]).find((r) => r.id === id)!;

  it("maps an API Gateway JWT authorizer to an authorizer with the issuer's JWKS, and the scopes to the route", () => {
    expect(aws.table.authorizers).toMatchObject({
      "orders-jwt": { type: "jwt", issuer: "https://auth.example.com", audience: ["api://orders"], algorithms: ["RS256"], jwksUrl: "https://auth.example.com/.well-known/jwks.json" },
    });
    expect(routeOf(aws, "listOrders").auth).toEqual({ authorizer: "orders-jwt", scopes: ["orders:read"] });
    expect(noteAt(aws, "components.securitySchemes.orders-jwt.x-amazon-apigateway-authorizer")).toMatch(/^check authorizer "orders-jwt" \(RS256 assumed\)/);
  });

  it("requires a JWT and an API key together when one requirement names both", () => {
    expect(routeOf(aws, "updateOrder").auth).toEqual({ authorizer: "orders-jwt", scopes: ["orders:write"], apiKey: true });
    expect(aws.table.apiKeys).toEqual({ header: "x-api-key" });
  });

  it("derives a Cognito pool's issuer and leaves its audience to fill in", () => {
    expect(aws.table.authorizers).toMatchObject({ cognito: { issuer: "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEfGhI", audience: "FILL-IN" } });
    expect(noteAt(aws, "components.securitySchemes.cognito.x-amazon-apigateway-authorizer")).toMatch(/^fill in authorizer "cognito".*until then it accepts no token/);
  });

  it("never makes a Lambda-authorized or IAM route public: it requires an API key, and the note says why", () => {
    expect(routeOf(aws, "adminReports").auth).toEqual({ apiKey: true });
    expect(routeOf(aws, "internalMetrics").auth).toEqual({ apiKey: true });
    expect(noteAt(aws, `${pathText("/admin/reports", "get")}.security`)).toMatch(/Lambda authorizer\) has no equivalent: the route requires a gateway API key instead/);
    expect(noteAt(aws, `${pathText("/internal/metrics", "get")}.security`)).toMatch(/IAM \(SigV4\).*requires a gateway API key instead/);
    // Keys can be issued at once: a plan and the admin API come with them.
    expect(aws.table.plans).toEqual({ default: { rate: { limit: 100, per: "1s" } } });
    expect(aws.table.admin).toEqual({ token: { env: "ADMIN_TOKEN" } });
  });

  it("keeps an OAuth 2 route closed with a FILL-IN authorizer, and keeps only the first of alternative requirements", () => {
    const pet = importDoc(load(`${FIXTURES}openapi/petstore-3.0.yaml`));
    expect(pet.table.authorizers).toEqual({ petstore_auth: { type: "jwt", issuer: "https://FILL-IN.invalid/", audience: "FILL-IN", algorithms: ["RS256"], jwksUrl: "https://FILL-IN.invalid/.well-known/jwks.json" } });
    expect(routeOf(pet, "addPet").auth).toEqual({ authorizer: "petstore_auth", scopes: ["write:pets", "read:pets"] });
    expect(routeOf(pet, "getPetById").auth).toEqual({ apiKey: true });
    expect(noteAt(pet, `${pathText("/pet/{petId}", "get")}.security[1]`)).toMatch(/alternative security requirement not kept/);
    expect(pet.table.apiKeys).toEqual({ header: "api_key" });
    expect(routeOf(pet, "placeOrder").auth).toBe("none");
  });

  it("does not keep anonymous access offered beside a credential", () => {
    const result = importDoc({
      openapi: "3.1.0", info: { title: "t", version: "1" }, servers: [{ url: "https://api.example.com" }],
      components: { securitySchemes: { key: { type: "apiKey", in: "header", name: "x-key" } } },
      paths: { "/a": { get: { security: [{}, { key: [] }], responses: {} } } },
    });
    expect((result.table.routes as Doc[])[0]!.auth).toEqual({ apiKey: true });
    expect(noteAt(result, `${pathText("/a", "get")}.security`)).toMatch(/anonymous access .* not kept/);
  });

  it("maps HTTP basic to the API-key requirement, never to a public route", () => {
    const result = importDoc({
      swagger: "2.0", info: { title: "t", version: "1" }, host: "api.example.com",
      securityDefinitions: { basic: { type: "basic" } }, security: [{ basic: [] }],
      paths: { "/a": { get: { responses: {} } } },
    });
    expect((result.table.routes as Doc[])[0]!.auth).toEqual({ apiKey: true });
    expect(noteAt(result, "security")).toMatch(/HTTP basic authentication \("basic"\) has no equivalent/);
  });
});

describe("fields of policies this build may not have", () => {
  it("notes request validation, mocks and CORS when no policy declares validate, respond or cors", () => {
    const result = importDoc(load(`${FIXTURES}openapi/aws-http-api-jwt-cors-mock.yaml`));
    expect(noteAt(result, `${pathText("/orders/{orderId}", "post")}`)).toMatch(/request validation not imported \(body\): this gateway has no `validate` route field/);
    expect(noteAt(result, pathText("/health", "get"))).toMatch(/operation not imported: a mock integration .* needs the `respond` route field/);
    expect(noteAt(result, "x-amazon-apigateway-cors")).toMatch(/CORS not imported/);
  });

  // Stand-ins with the shapes the parallel work declares, so the mapping is tested before it lands.
  const Json = z.record(z.string(), z.unknown());
  const standIns: AnyPolicy[] = [
    { name: "validate", summary: "stand-in", routeFields: { validate: z.strictObject({ query: Json.optional(), headers: Json.optional(), params: Json.optional(), body: Json.optional(), contentTypes: z.array(z.string()).optional() }).optional() }, create: () => undefined },
    {
      name: "respond", summary: "stand-in", answers: (route) => route.respond !== undefined,
      routeFields: { respond: z.strictObject({ status: z.number().int(), headers: z.record(z.string(), z.string()).optional(), json: z.unknown().optional(), body: z.string().optional() }).optional() },
      create: () => undefined,
    },
    {
      name: "cors", summary: "stand-in",
      routeFields: { cors: z.strictObject({ allowOrigins: z.array(z.string()), allowMethods: z.array(z.string()).optional(), allowHeaders: z.array(z.string()).optional(), exposeHeaders: z.array(z.string()).optional(), allowCredentials: z.boolean().optional(), maxAgeSec: z.number().optional() }).optional() },
      create: () => undefined,
    },
  ];
  const policies = [...POLICIES, ...standIns];
  const result = importDoc(load(`${FIXTURES}openapi/aws-http-api-jwt-cors-mock.yaml`), policies);
  const routes = result.table.routes as Doc[];

  it("writes them when a policy declares them, and the table passes that gateway's check", () => {
    const checked = buildTableSchema(policies).safeParse(result.table);
    expect(checked.success ? [] : formatIssues(checked.error.issues)).toEqual([]);
  });

  it("turns parameters and request bodies into validate, 3.0 nullable into a 2020-12 type list", () => {
    expect(routes.find((r) => r.id === "listOrders")!.validate).toEqual({ query: { type: "object", properties: { limit: { type: "integer", minimum: 1, maximum: 100 } } } });
    expect(routes.find((r) => r.id === "getOrder")!.validate).toEqual({ params: { type: "object", properties: { orderId: { type: "string", pattern: "^[0-9a-f]{8}$" } } } });
    expect(routes.find((r) => r.id === "updateOrder")!.validate).toEqual({
      body: { type: "object", required: ["status"], properties: { status: { type: "string", enum: ["placed", "shipped"] }, note: { type: ["string", "null"] } } },
    });
  });

  it("turns a mock integration into a static response with its literal headers", () => {
    expect(routes.find((r) => r.id === "health")).toEqual({
      id: "health", methods: ["GET"], path: "/health", respond: { status: 200, headers: { "cache-control": "no-store" }, json: { status: "ok" } }, auth: "none",
      cors: expect.any(Object),
    });
  });

  it("turns x-amazon-apigateway-cors into cors on every route", () => {
    for (const route of routes) {
      expect(route.cors).toEqual({ allowOrigins: ["https://app.example.com"], allowMethods: ["GET", "POST"], allowHeaders: ["authorization", "content-type"], exposeHeaders: ["x-request-id"], allowCredentials: true, maxAgeSec: 600 });
    }
  });

  it("honours an API Gateway request validator that checks parameters only", () => {
    const sample = importDoc(load(`${AWS_DIR}api-gateway-request-validation-sample-api-swagger-0.json`), policies);
    const byMethod = Object.fromEntries((sample.table.routes as Doc[]).map((r) => [r.methods[0], r.validate]));
    expect(byMethod.GET).toEqual({ query: { type: "object", properties: { q1: {} }, required: ["q1"] } }); // "params-only", the document's default
    expect(byMethod.POST).toMatchObject({ headers: { required: ["h1"] }, body: { required: ["type", "name", "price"] } }); // "all"
  });
});

describe("npm run import", () => {
  const run = promisify(execFile);
  const script = fileURLToPath(new URL("../../scripts/import.ts", import.meta.url));

  it("prints a table that passes the check on stdout and one note per line on stderr", async () => {
    const { stdout, stderr } = await run(process.execPath, [script, `${FIXTURES}openapi/aws-http-api-jwt-cors-mock.yaml`, "--origin", "lambda-profile=https://profile.example.com"]);
    const table = JSON.parse(stdout);
    expect(parseRouteTable(table).ok).toBe(true);
    expect(table.origins["lambda-profile"]).toEqual({ url: "https://profile.example.com" });
    const lines = stderr.trim().split("\n");
    expect(lines.at(-1)).toBe("10 operations: 9 imported as 9 routes, 1 not imported; 15 notes.");
    for (const line of lines.slice(0, -1)) expect(line).toMatch(/^(\S+|\(table\) \S+): \S/);
  });

  it("refuses an --origin that names no origin of the table", async () => {
    await expect(run(process.execPath, [script, `${AWS_DIR}create-api-using-swagger-0.json`, "--origin", "nope=https://x.example"])).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/--origin names no origin of the table: nope/) });
  });
});

describe("request headers an integration sets", () => {
  it("carries literal values over, but never a header the gateway owns", () => {
    const result = importDoc({
      openapi: "3.0.0", info: { title: "t", version: "1" },
      paths: { "/a": { get: { responses: {}, "x-amazon-apigateway-integration": { type: "http_proxy", uri: "https://b.example.com/a", requestParameters: { "integration.request.header.x-env": "'prod'", "integration.request.header.Host": "'evil.example'", "integration.request.header.X-Forwarded-For": "'1.2.3.4'" } } } } },
    });
    expect(parseRouteTable(result.table).ok).toBe(true);
    expect((result.table.routes as Doc[])[0]!.requestHeaders).toEqual({ set: { "x-env": "prod" } });
    const at = `${pathText("/a", "get")}.x-amazon-apigateway-integration.requestParameters`;
    expect(noteAt(result, `${at}["integration.request.header.Host"]`)).toMatch(/has no equivalent/);
    expect(noteAt(result, `${at}["integration.request.header.X-Forwarded-For"]`)).toMatch(/has no equivalent/);
  });
});
