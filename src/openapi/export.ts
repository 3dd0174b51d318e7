/**
 * The route table as an OpenAPI 3.1 document, for `npm run openapi` and the admin API's
 * `GET /_gateway/openapi.json`. Pure data in, data out: no Node API, so the Worker runs it too.
 *
 * What a client needs is exported: each route's paths and methods (`:param` -> `{param}`, a final
 * `*` -> a `{proxy}` parameter marked `x-edge-gateway-wildcard`), its host, how it authenticates
 * (a bearer scheme per JWT authorizer with the route's scopes, an API-key header scheme), its
 * limits (the plan and the RateLimit headers), the request schemas of `validate` where a route has
 * them, and the gateway's own error responses with the envelope schema. What only the operator
 * should see is not: origins, rewrites, header edits, identity headers, key material and secret
 * names. The `x-edge-gateway-*` extensions carry what the importer (src/openapi/import.ts) needs
 * to rebuild the same routes from this document (docs/openapi.md: Round trip).
 *
 * This module reads the table's policy fields (authorizers, apiKeys, plans, rateLimit, room,
 * validate) as plain data, defensively: a table without a field exports without that part.
 */
import type { CoreRoute, Loose } from "../config/core.ts";
import { HTTP_METHODS, isObject, str } from "../config/core.ts";
import { errorCatalogue } from "../errors.ts";

/** An OpenAPI document or a part of one: JSON data. */
export type OpenApiObject = Record<string, unknown>;

export interface ExportOptions {
  /** The gateway's public base URL, for `servers` (the admin API passes the request's origin). */
  serverUrl?: string;
  /** `info.title`; default "Edge Gateway". */
  title?: string;
  /** `info.version`; default "1.0.0". */
  version?: string;
}

/** What the exporter reads of a table: the core's fields; the policies' fields are read as unknown. */
export interface ExportableTable {
  routes: readonly (CoreRoute & Loose)[];
  [field: string]: unknown;
}

/** Marks a document this exporter wrote, so the importer knows its servers are not origins. */
export const EXPORT_MARK = "x-edge-gateway";
/** The extension names the exporter writes and the importer reads. */
export const EXT = {
  route: "x-edge-gateway-route",
  anyMethod: "x-edge-gateway-any-method",
  host: "x-edge-gateway-host",
  path: "x-edge-gateway-path",
  wildcard: "x-edge-gateway-wildcard",
  websocket: "x-edge-gateway-websocket",
  room: "x-edge-gateway-room",
  rateLimit: "x-edge-gateway-rate-limit",
  plans: "x-edge-gateway-plans",
  claims: "x-edge-gateway-claims",
  authorizer: "x-edge-gateway-authorizer",
  omitted: "x-edge-gateway-omitted",
  respond: "x-edge-gateway-respond",
  redirect: "x-edge-gateway-redirect",
} as const;

const OPENAPI_METHODS = new Set(["get", "put", "post", "delete", "options", "head", "patch", "trace"]);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((s): s is string => typeof s === "string") : []);

/** `/users/:id/*` -> `/users/{id}/{proxy}`; the wildcard's name avoids the route's own params. */
export function openApiPath(path: string): { path: string; params: string[]; wildcard?: string } {
  if (path === "/") return { path, params: [] };
  const segments = path.slice(1).split("/");
  const params = segments.filter((s) => s.startsWith(":")).map((s) => s.slice(1));
  let wildcard: string | undefined;
  if (segments.at(-1) === "*") {
    wildcard = "proxy";
    while (params.includes(wildcard)) wildcard += "_";
  }
  const out = segments.map((s) => (s === "*" ? `{${wildcard}}` : s.startsWith(":") ? `{${s.slice(1)}}` : s));
  return { path: "/" + out.join("/"), params, ...(wildcard ? { wildcard } : {}) };
}

/** A scheme name for an authorizer (`jwt-<name>`, with `-<source>` for a non-default token source). */
const jwtSchemeName = (authorizer: string, source?: string) => `jwt-${authorizer}${source ? `-${source}` : ""}`;
export const API_KEY_SCHEME = "apiKey";

const ENVELOPE_REF = { $ref: "#/components/schemas/GatewayError" };

export function exportOpenApi(table: ExportableTable, options: ExportOptions = {}): OpenApiObject {
  const authorizers = isObject(table.authorizers) ? table.authorizers : {};
  const plans = isObject(table.plans) ? table.plans : {};
  const apiKeyHeader = (isObject(table.apiKeys) ? str(table.apiKeys.header) : undefined) ?? "x-api-key";

  const securitySchemes: OpenApiObject = {};
  const jwtSchemes = new Map<string, string[]>(); // authorizer -> its scheme names (alternatives)
  for (const [name, config] of Object.entries(authorizers)) {
    if (!isObject(config)) continue;
    const names: string[] = [];
    const sources = Array.isArray(config.tokenSources) && config.tokenSources.length > 0 ? config.tokenSources.filter(isObject) : [{ header: "authorization" }];
    const details = authorizerDetails(config);
    for (const source of sources) {
      const scheme = jwtSchemeFor(name, source, details);
      if (!scheme) continue;
      securitySchemes[scheme.name] = scheme.value;
      names.push(scheme.name);
    }
    jwtSchemes.set(name, names);
  }
  const usesApiKeys = table.routes.some((r) => isObject(r.auth) && keyScopesOf(r.auth) !== null);
  if (usesApiKeys) {
    securitySchemes[API_KEY_SCHEME] = {
      type: "apiKey", in: "header", name: apiKeyHeader,
      description: "An API key issued through the gateway's admin API. Its plan's limits apply to every call.",
    };
  }

  const paths: Record<string, OpenApiObject> = {};
  const shapes = new Map<string, string>(); // `/a/{}` -> the first path key with that shape
  const omitted: OpenApiObject[] = [];
  const operationIds = new Set<string>();
  const usedPlans = new Set<string>();

  for (const route of table.routes) {
    const converted = openApiPath(route.path);
    const shape = converted.path.replace(/\{[^}]+\}/g, "{}");
    // OpenAPI forbids two templated paths of one shape with other names: share the first one's key.
    const key = shapes.get(shape) ?? converted.path;
    shapes.set(shape, key);
    const item = (paths[key] ??= {});

    const websocket = route.websocket === true || route.room !== undefined;
    // A WebSocket route without methods is listed as its GET upgrade, still marked as any-method.
    const anyMethod = route.methods === undefined;
    const methods = route.methods ?? (websocket ? ["GET"] : [...HTTP_METHODS]);
    for (const method of methods) {
      const lower = method.toLowerCase();
      if (!OPENAPI_METHODS.has(lower)) continue;
      if (item[lower] !== undefined) {
        omitted.push({ route: route.id, method, reason: `another route of another host already documents ${method} ${key}` });
        continue;
      }
      const operationId = methods.length === 1 ? route.id : `${route.id}_${method}`;
      operationIds.add(operationId);
      const operation = operationFor(route, method, {
        operationId, anyMethod, websocket, converted, keyDiffers: key !== converted.path,
        jwtSchemes, apiKeyHeader, plans, usedPlans,
      });
      item[lower] = operation;
    }
  }

  const components: OpenApiObject = {
    schemas: { GatewayError: envelopeSchema() },
    responses: errorResponses(),
    headers: rateLimitHeaders(),
    ...(Object.keys(securitySchemes).length ? { securitySchemes } : {}),
  };
  const exportedPlans = Object.fromEntries([...usedPlans].filter((p) => isObject(plans[p])).map((p) => [p, publicPlan(plans[p] as Loose)]));

  return {
    openapi: "3.1.0",
    info: {
      title: options.title ?? "Edge Gateway",
      version: options.version ?? "1.0.0",
      description:
        "Generated from the gateway's route table. Every error the gateway itself answers is JSON: " +
        "`{ \"error\": { \"code\", \"message\", \"requestId\" } }` (components/schemas/GatewayError). " +
        "A path that no route matches answers 404 `not_found`; a path that matches with another method answers 405 " +
        "`method_not_allowed` with `Allow` (components/responses). Every response carries `X-Request-Id`.",
    },
    ...(options.serverUrl ? { servers: [{ url: options.serverUrl }] } : {}),
    paths,
    components,
    [EXPORT_MARK]: { generator: "edge-gateway", ...(Object.keys(exportedPlans).length ? { plans: exportedPlans } : {}) },
    ...(omitted.length ? { [EXT.omitted]: omitted } : {}),
  };
}

interface OperationContext {
  operationId: string;
  anyMethod: boolean;
  websocket: boolean;
  converted: ReturnType<typeof openApiPath>;
  keyDiffers: boolean;
  jwtSchemes: Map<string, string[]>;
  apiKeyHeader: string;
  plans: Loose;
  usedPlans: Set<string>;
}

/** `auth.apiKey`: `true` is any key (no scopes), `{ scopes }` those scopes; null when the route takes no key. */
function keyScopesOf(auth: Loose): string[] | null {
  if (auth.apiKey === true) return [];
  return isObject(auth.apiKey) ? strings(auth.apiKey.scopes) : null;
}

function operationFor(route: CoreRoute & Loose, method: string, ctx: OperationContext): OpenApiObject {
  const auth = isObject(route.auth) ? route.auth : undefined;
  const authorizer = str(auth?.authorizer);
  const keyScopes = auth ? keyScopesOf(auth) : null;
  const apiKey = keyScopes !== null;
  const scopes = strings(auth?.scopes);
  const validate = isObject(route.validate) ? route.validate : undefined;
  const rateLimit = isObject(route.rateLimit) ? route.rateLimit : undefined;
  const plan = str(rateLimit?.plan);
  if (plan) ctx.usedPlans.add(plan);
  const limited = plan !== undefined || apiKey;
  const forwarded = route.origin !== undefined && route.room === undefined;

  const description: string[] = [];
  if (ctx.anyMethod && !ctx.websocket) description.push("The route answers every method; each is listed.");
  if (ctx.converted.wildcard) description.push(`\`{${ctx.converted.wildcard}}\` is the rest of the path: it may be empty and may contain \`/\`.`);
  if (route.room !== undefined) description.push("A WebSocket room held by the gateway: open it with a GET WebSocket upgrade (101); a plain request answers 426.");
  else if (route.websocket === true) description.push("A WebSocket endpoint: open it with a GET WebSocket upgrade (101), proxied to the origin; a plain request answers 426.");
  if (apiKey) description.push(`Needs an API key in \`${ctx.apiKeyHeader}\`; the key's plan limits apply.`);
  if (keyScopes?.length) description.push(`The API key must carry the scopes ${keyScopes.map((s) => `\`${s}\``).join(", ")}.`);
  if (authorizer && scopes.length) description.push(`The token must carry the scopes ${scopes.map((s) => `\`${s}\``).join(", ")}.`);
  if (auth?.claims !== undefined) description.push(`The token's claims must satisfy \`${EXT.claims}\`.`);

  // Security: the route's requirements all hold together (AND); a JWT from any of its sources (OR).
  let security: OpenApiObject[] = [];
  if (route.auth !== "none") {
    const jwtNames = authorizer ? ctx.jwtSchemes.get(authorizer) ?? [] : [undefined];
    security = (jwtNames.length ? jwtNames : [undefined]).map((scheme) => ({
      ...(scheme ? { [scheme]: scopes } : {}),
      // OpenAPI 3.1: for a non-OAuth scheme the array lists the roles required; here, the key's scopes.
      ...(keyScopes ? { [API_KEY_SCHEME]: keyScopes } : {}),
    })).filter((requirement) => Object.keys(requirement).length > 0);
  }

  const parameters = parametersOf(ctx.converted, validate);
  const requestBody = requestBodyOf(validate, method);

  const success: OpenApiObject = ctx.websocket
    ? { "101": { description: "Switching Protocols: the WebSocket is open." } }
    : { default: { description: forwarded ? "The origin's response." : "The gateway's response.", ...(limited ? { headers: limitHeaderRefs(false) } : {}) } };
  const responses: OpenApiObject = { ...success, "400": ref("BadRequest") };
  if (route.auth !== "none") {
    responses["401"] = ref("Unauthorized");
    responses["403"] = ref("Forbidden");
  }
  responses["404"] = ref("NotFound");
  if (ctx.websocket) responses["426"] = ref("UpgradeRequired");
  if (limited) responses["429"] = ref("TooManyRequests");
  if (forwarded) {
    responses["502"] = ref("BadGateway");
    responses["504"] = ref("GatewayTimeout");
  }
  if (route.auth !== "none" || limited || route.room !== undefined) responses["503"] = ref("ServiceUnavailable");

  const operation: OpenApiObject = {
    operationId: ctx.operationId,
    ...(description.length ? { description: description.join(" ") } : {}),
    security,
    ...(parameters.length ? { parameters } : {}),
    ...(requestBody ? { requestBody } : {}),
    responses,
    [EXT.route]: route.id,
  };
  if (ctx.anyMethod) operation[EXT.anyMethod] = true;
  if (route.host) {
    operation.servers = [serverForHost(route.host)];
    operation[EXT.host] = route.host;
  }
  if (ctx.keyDiffers) operation[EXT.path] = route.path;
  if (ctx.websocket) operation[EXT.websocket] = true;
  if (isObject(route.room) && str(route.room.name)) operation[EXT.room] = { name: route.room.name };
  // A static or redirect route's answer is public by nature (every caller gets it): carried whole.
  if (isObject(route.respond)) operation[EXT.respond] = route.respond;
  if (isObject(route.redirect)) operation[EXT.redirect] = route.redirect;
  if (auth?.claims !== undefined) operation[EXT.claims] = auth.claims;
  if (plan) operation[EXT.rateLimit] = { plan, by: str(rateLimit?.by), ...(typeof route.cost === "number" && route.cost !== 1 ? { cost: route.cost } : {}) };
  return operation;
}

/** Path parameters from the pattern (`validate.params` patterns where given), then query and headers. */
function parametersOf(converted: ReturnType<typeof openApiPath>, validate: Loose | undefined): OpenApiObject[] {
  const params = isObject(validate?.params) ? validate.params : undefined;
  const out: OpenApiObject[] = converted.params.map((name) => {
    const pattern = typeof params?.[name] === "string" ? params[name] : undefined;
    return { name, in: "path", required: true, schema: pattern === undefined ? { type: "string" } : { type: "string", pattern } };
  });
  if (converted.wildcard) {
    out.push({
      name: converted.wildcard, in: "path", required: true,
      description: "The rest of the path (may be empty, may contain /).", schema: { type: "string" }, [EXT.wildcard]: true,
    });
  }
  for (const [where, schema] of [["query", validate?.query], ["header", validate?.headers]] as const) {
    if (!isObject(schema) || !isObject(schema.properties)) continue;
    const required = new Set(strings(schema.required));
    for (const [name, property] of Object.entries(schema.properties)) {
      out.push({ name, in: where, required: required.has(name), schema: isObject(property) ? property : {} });
    }
  }
  return out;
}

function requestBodyOf(validate: Loose | undefined, method: string): OpenApiObject | undefined {
  const types = strings(validate?.contentTypes);
  // A body schema, or only an allow-list of media types (a non-JSON body the gateway does not parse).
  if (!validate || (validate.body === undefined && types.length === 0) || method === "GET" || method === "HEAD") return undefined;
  const schema = isObject(validate.body) ? validate.body : {};
  return {
    required: true,
    content: Object.fromEntries((types.length ? types : ["application/json"]).map((type) => [type, { schema }])),
  };
}

interface AuthorizerDetails { issuer?: string; audience?: unknown; algorithms?: string[]; jwksUrl?: string; keys: string }

function authorizerDetails(config: Loose): AuthorizerDetails {
  const keys = config.jwksUrl !== undefined ? "jwksUrl" : config.secret !== undefined ? "secret" : config.jwks !== undefined ? "jwks" : config.publicKey !== undefined ? "publicKey" : "unknown";
  return {
    issuer: str(config.issuer),
    audience: config.audience,
    algorithms: strings(config.algorithms),
    ...(str(config.jwksUrl) ? { jwksUrl: str(config.jwksUrl) } : {}),
    keys,
  };
}

/** The public facts of an authorizer: issuer, audience, algorithms, and a JWKS URL (never keys or secret names). */
function jwtSchemeFor(authorizer: string, source: Loose, details: AuthorizerDetails): { name: string; value: OpenApiObject } | undefined {
  const extension = {
    [EXT.authorizer]: {
      name: authorizer, tokenSource: source, issuer: details.issuer, audience: details.audience, algorithms: details.algorithms,
      ...(details.jwksUrl ? { jwksUrl: details.jwksUrl } : {}), keySource: details.keys,
    },
  };
  const what = `A JWT from issuer ${details.issuer ?? "?"} (algorithms ${details.algorithms?.join(", ") || "?"}).`;
  const header = str(source.header);
  if (header !== undefined) {
    if (header === "authorization") {
      return { name: jwtSchemeName(authorizer), value: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: what, ...extension } };
    }
    return { name: jwtSchemeName(authorizer, `header-${header}`), value: { type: "apiKey", in: "header", name: header, description: `${what} As \`Bearer <token>\` in this header.`, ...extension } };
  }
  if (str(source.cookie)) return { name: jwtSchemeName(authorizer, "cookie"), value: { type: "apiKey", in: "cookie", name: source.cookie, description: what, ...extension } };
  if (str(source.query)) return { name: jwtSchemeName(authorizer, "query"), value: { type: "apiKey", in: "query", name: source.query, description: what, ...extension } };
  // A Sec-WebSocket-Protocol entry has no OpenAPI security scheme; describe it as a header.
  if (str(source.webSocketProtocol)) {
    return {
      name: jwtSchemeName(authorizer, "websocket-protocol"),
      value: { type: "apiKey", in: "header", name: "Sec-WebSocket-Protocol", description: `${what} As the entry \`${source.webSocketProtocol}<token>\` of Sec-WebSocket-Protocol.`, ...extension },
    };
  }
  return undefined;
}

function serverForHost(host: string): OpenApiObject {
  if (host.startsWith("*.")) {
    return { url: `https://{subdomain}.${host.slice(2)}`, variables: { subdomain: { default: "www", description: `Any subdomain of ${host.slice(2)}.` } } };
  }
  return { url: `https://${host}` };
}

/** A plan as a client may see it (the same numbers RateLimit-Policy advertises). */
function publicPlan(plan: Loose): OpenApiObject {
  return { ...(isObject(plan.rate) ? { rate: plan.rate } : {}), ...(isObject(plan.quota) ? { quota: plan.quota } : {}) };
}

const ref = (name: string) => ({ $ref: `#/components/responses/${name}` });

function envelopeSchema(): OpenApiObject {
  return {
    type: "object",
    description: "The gateway's error envelope.",
    required: ["error"],
    properties: {
      error: {
        type: "object",
        required: ["code", "message", "requestId"],
        properties: {
          code: { type: "string", description: "A stable code from the gateway's catalogue (docs/errors.md); switch on it, never on the message." },
          message: { type: "string", description: "A sentence for people." },
          requestId: { type: ["string", "null"], description: "The request id, also in X-Request-Id." },
        },
      },
    },
  };
}

function rateLimitHeaders(): OpenApiObject {
  return {
    RateLimit: { description: "Remaining units and seconds to reset per limit (draft-ietf-httpapi-ratelimit-headers): `\"<plan>-rate\";r=19;t=1`.", schema: { type: "string" } },
    "RateLimit-Policy": { description: "The limits that apply: `\"<plan>-rate\";q=10;w=1, \"<plan>-quota\";q=1000;w=86400`.", schema: { type: "string" } },
    "Retry-After": { description: "Seconds to wait before retrying.", schema: { type: "integer", minimum: 1 } },
    Allow: { description: "The methods the path allows.", schema: { type: "string" } },
  };
}

const limitHeaderRefs = (retry: boolean): OpenApiObject => ({
  RateLimit: { $ref: "#/components/headers/RateLimit" },
  "RateLimit-Policy": { $ref: "#/components/headers/RateLimit-Policy" },
  ...(retry ? { "Retry-After": { $ref: "#/components/headers/Retry-After" } } : {}),
});

/** One response per status the gateway answers itself, listing the catalogue's codes for it. */
function errorResponses(): OpenApiObject {
  const codes = (status: number) => errorCatalogue().filter((e) => e.status === status && e.owner !== "admin").map((e) => `\`${e.code}\``);
  const response = (status: number, text: string, headers?: OpenApiObject) => ({
    description: `${text}${codes(status).length ? ` Codes: ${codes(status).join(", ")}.` : ""}`,
    ...(headers ? { headers } : {}),
    content: { "application/json": { schema: ENVELOPE_REF } },
  });
  return {
    BadRequest: response(400, "The gateway refused the request before forwarding it (a malformed path or header, a GET with a body, a request that fails the route's validation)."),
    Unauthorized: response(401, "No usable credential: missing, malformed, unknown or failing verification. A JWT refusal carries `WWW-Authenticate`."),
    Forbidden: response(403, "The credential is valid but not allowed here (a missing scope or claim; a disabled, expired or revoked key)."),
    NotFound: response(404, "No route matches the host, path and method. A forwarded route may also pass on its origin's own 404."),
    MethodNotAllowed: response(405, "A route matches the path but not the method.", { Allow: { $ref: "#/components/headers/Allow" } }),
    UpgradeRequired: response(426, "The route is a WebSocket endpoint and the request is not a WebSocket upgrade."),
    TooManyRequests: response(429, "A plan's rate or quota is used up; wait `Retry-After` seconds.", limitHeaderRefs(true)),
    BadGateway: response(502, "The origin could not be reached or failed the WebSocket handshake."),
    ServiceUnavailable: response(503, "A counter, the key store or a JWKS could not be reached and the gateway fails closed.", { "Retry-After": { $ref: "#/components/headers/Retry-After" } }),
    GatewayTimeout: response(504, "The origin sent no response headers within its timeout."),
  };
}
