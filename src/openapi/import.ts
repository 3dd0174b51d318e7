/**
 * An OpenAPI 2.0, 3.0 or 3.1 document (Amazon API Gateway exports included) as a route table
 * (`npm run import`, scripts/import.ts). Pure data in, data out: the caller parses JSON or YAML.
 *
 * Every operation becomes a route or a note saying why not; everything the gateway has no
 * equivalent for (AWS service integrations, Lambda ARNs, IAM auth, VTL templates, stage
 * variables, ...) is a note with its JSON path in the source document, never silently dropped.
 * The table always passes `npm run check`: what the document cannot tell (an origin's URL, a JWT
 * issuer) is written as a placeholder (`https://FILL-IN.invalid`, `FILL-IN`) with a note.
 *
 * Security fails closed: a route whose security cannot be mapped never becomes public. A JWT-like
 * scheme whose issuer or audience is unknown becomes an authorizer with FILL-IN values (it accepts
 * no token until filled in); a scheme with no equivalent (IAM, Lambda authorizers, HTTP basic,
 * mutual TLS) makes the route require a gateway API key, which exists only once an operator
 * issues one. Of several alternative requirements (OR) the first that maps is kept; anonymous
 * access offered as one alternative is not.
 *
 * Fields that belong to policies this build may not have (`validate`, `respond`, `cors`) are
 * written only when a policy of the list declares them; otherwise each item is a note.
 */
import { HEADER_NAME } from "../config/common.ts";
import { pathPatternProblems, GATEWAY_OWNED_REQUEST_HEADERS, HTTP_METHODS, isObject, type Loose, str } from "../config/core.ts";
import { SCOPE_TOKEN } from "../keys/index.ts";
import type { AnyPolicy } from "../policy.ts";
import { EXPORT_MARK, EXT } from "./export.ts";

export interface ImportOptions {
  /** Origin URLs by name (`--origin NAME=URL`), replacing what the document says or a placeholder. */
  origins?: Record<string, string>;
  /** The policies of the gateway the table is for: which route and table fields exist. */
  policies: readonly AnyPolicy[];
}

/** Something the table does not carry over, or that the user must fill in; `path` is in the source document. */
export interface ImportNote { path: string; message: string }

/** What became of one operation of the document. */
export interface ImportedOperation { path: string; route?: string; skipped?: string }

export interface ImportResult {
  table: Loose;
  notes: ImportNote[];
  operations: ImportedOperation[];
  /** Names given with `origins` that the table has no origin for (a typo, most likely). */
  unusedOrigins: string[];
}

export class ImportError extends Error {
  override name = "ImportError";
}

export const FILL_IN_URL = "https://FILL-IN.invalid";
export const FILL_IN = "FILL-IN";
/** The plan a table with API-key routes gets, so keys can be issued at once. */
export const DEFAULT_PLAN = { rate: { limit: 100, per: "1s" } } as const;

const AWS = "x-amazon-apigateway-";
const ANY_METHOD = `${AWS}any-method`;
const OPERATION_KEYS = ["get", "put", "post", "delete", "options", "head", "patch", "trace", ANY_METHOD] as const;
const ROUTE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const ORIGIN_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((s): s is string => typeof s === "string") : []);

/** A JSON path as the notes print it: `paths["/pets"].get.security[0]`. */
export function pointerText(path: readonly (string | number)[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(key)) out += out ? `.${key}` : key;
    else out += `[${JSON.stringify(key)}]`;
  }
  return out || "(root)";
}

type Path = (string | number)[];
type Auth = "none" | { authorizer?: string; scopes?: string[]; apiKey?: true | { scopes: string[] } };

/** How one security scheme maps: an authorizer, the API key, or nothing (with why). */
type SchemeMapping =
  | { kind: "jwt"; authorizer: string }
  | { kind: "apiKey" }
  | { kind: "none"; why: string };

export function importOpenApi(document: unknown, options: ImportOptions): ImportResult {
  return new Importer(document, options).run();
}

/**
 * OpenAPI's data-type formats are not JSON Schema formats: the gateway's validator refuses formats it
 * cannot check rather than ignore them, so each becomes the constraint it stands for (or nothing
 * where JSON has none to check: float and double are any number, binary and password any string).
 */
const INT32 = { min: -2147483648, max: 2147483647 };
const OPENAPI_FORMATS: Record<string, (schema: Loose) => Loose> = {
  int32: (s) => ({ format: undefined, minimum: typeof s.minimum === "number" ? Math.max(s.minimum, INT32.min) : INT32.min, maximum: typeof s.maximum === "number" ? Math.min(s.maximum, INT32.max) : INT32.max }),
  // JSON numbers past 2^53 are not exact anywhere on the way; the type (integer) is what can be checked.
  int64: () => ({ format: undefined }),
  float: () => ({ format: undefined }),
  double: () => ({ format: undefined }),
  byte: (s) => ({ format: undefined, ...(s.pattern === undefined ? { pattern: "^[A-Za-z0-9+/]*={0,2}$" } : {}) }),
  binary: () => ({ format: undefined }),
  password: () => ({ format: undefined }),
};

class Importer {
  private readonly doc: Loose;
  private readonly version: "2.0" | "3.0" | "3.1";
  private readonly exported: boolean;
  private readonly notes: ImportNote[] = [];
  private readonly operations: ImportedOperation[] = [];
  private readonly origins = new Map<string, { url: string; timeoutMs?: number }>();
  private readonly originByUrl = new Map<string, string>();
  private readonly givenOrigins: Map<string, string>;
  private readonly usedGiven = new Set<string>();
  private readonly authorizers = new Map<string, Loose>();
  private readonly schemeMappings = new Map<string, SchemeMapping>();
  private readonly routes: Loose[] = [];
  private readonly routeIds = new Set<string>();
  private readonly shapes = new Map<string, string>();
  private readonly routeFields: Set<string>;
  private readonly tableFields: Set<string>;
  /** Members of the table's `defaults` the policies declare (`defaults.cors`). */
  private readonly defaultsFields: Set<string>;
  private readonly hasRooms: boolean;
  private apiKeyHeader: string | undefined;
  private defaultOrigin: string | undefined;
  /** The operation being imported: its document path and the name of its greedy parameter. */
  private current: { rawPath: string; wildcard: string | undefined } = { rawPath: "/", wildcard: undefined };

  constructor(document: unknown, options: ImportOptions) {
    if (!isObject(document)) throw new ImportError("the document is not an object: expected an OpenAPI 2.0 or 3.x document");
    this.doc = document;
    const swagger = str(document.swagger), openapi = str(document.openapi);
    if (swagger === "2.0") this.version = "2.0";
    else if (openapi?.startsWith("3.0")) this.version = "3.0";
    else if (openapi?.startsWith("3.1")) this.version = "3.1";
    else throw new ImportError(`not an OpenAPI 2.0, 3.0 or 3.1 document (swagger: ${JSON.stringify(document.swagger)}, openapi: ${JSON.stringify(document.openapi)})`);
    if (!isObject(document.paths)) throw new ImportError("the document has no `paths` object");
    this.exported = isObject(document[EXPORT_MARK]);
    this.givenOrigins = new Map(Object.entries(options.origins ?? {}));
    this.routeFields = new Set(options.policies.flatMap((p) => Object.keys(p.routeFields ?? {})));
    this.tableFields = new Set(options.policies.flatMap((p) => Object.keys(p.tableFields ?? {})));
    this.defaultsFields = new Set(options.policies.flatMap((p) => Object.keys(p.defaultsFields ?? {})));
    this.hasRooms = this.routeFields.has("room");
  }

  /** One note per path: a second message about the same item joins the first. */
  private note(path: Path, message: string): void {
    const text = pointerText(path);
    const known = this.notes.find((n) => n.path === text);
    if (known) { if (!known.message.includes(message)) known.message += `; ${message}`; }
    else this.notes.push({ path: text, message });
  }

  /** A note about the table written, not about the document: `path` is in the table. */
  private noteTable(path: Path, message: string): void {
    this.notes.push({ path: `(table) ${pointerText(path)}`, message });
  }

  run(): ImportResult {
    this.scanStageVariables(this.doc, []);
    this.topLevelExtensions();
    const paths = this.doc.paths as Loose;
    const entries: { path: string; item: Loose; at: Path }[] = [];
    for (const [path, raw] of Object.entries(paths)) {
      if (path.startsWith("x-")) continue;
      const item = this.resolve(raw, ["paths", path]);
      if (item) entries.push({ path, item, at: ["paths", path] });
    }
    // Explicit methods first, so a path's any-method operation can take the methods left over.
    for (const { path, item, at } of entries) {
      for (const key of OPERATION_KEYS) if (key !== ANY_METHOD && item[key] !== undefined) this.operation(path, item, key, [...at, key]);
      for (const name of Object.keys(item)) {
        if (name.startsWith(AWS) && name !== ANY_METHOD) this.note([...at, name], `${name} has no equivalent; not imported`);
      }
    }
    for (const { path, item, at } of entries) if (item[ANY_METHOD] !== undefined) this.operation(path, item, ANY_METHOD, [...at, ANY_METHOD]);
    return this.finish();
  }

  // ---- the document --------------------------------------------------------------------------

  /** Follows a local `$ref` (`#/components/...`); anything else is noted and read as missing. */
  private resolve(value: unknown, at: Path, depth = 0): Loose | undefined {
    if (!isObject(value)) return undefined;
    const ref = str(value.$ref);
    if (ref === undefined) return value;
    if (depth > 32 || !ref.startsWith("#/")) {
      this.note([...at, "$ref"], `reference ${JSON.stringify(ref)} cannot be followed (only local references are); not imported`);
      return undefined;
    }
    let node: unknown = this.doc;
    for (const part of ref.slice(2).split("/")) {
      const key = decodeURIComponent(part.replace(/~1/g, "/").replace(/~0/g, "~"));
      node = isObject(node) ? node[key] : Array.isArray(node) ? node[Number(key)] : undefined;
    }
    if (node === undefined) {
      this.note([...at, "$ref"], `reference ${JSON.stringify(ref)} points at nothing; not imported`);
      return undefined;
    }
    return this.resolve(node, at, depth + 1);
  }

  /** A JSON Schema with its local references inlined (recursion cut with a note), 3.0 idioms turned into 2020-12. */
  private schema(value: unknown, at: Path, seen: string[] = []): Loose {
    if (!isObject(value)) return {};
    const ref = str(value.$ref);
    if (ref !== undefined) {
      if (seen.includes(ref)) {
        this.note([...at, "$ref"], `recursive schema ${ref} is cut at its second level (validated as any value there)`);
        return {};
      }
      const target = this.resolve(value, at);
      return target ? this.schema(target, at, [...seen, ref]) : {};
    }
    const out: Loose = {};
    for (const [key, v] of Object.entries(value)) {
      if (key.startsWith("x-") || key === "example" || key === "xml" || key === "externalDocs" || key === "discriminator" || key === "nullable") continue;
      if (key === "properties" || key === "patternProperties" || key === "$defs" || key === "definitions") {
        out[key] = isObject(v) ? Object.fromEntries(Object.entries(v).map(([k, s]) => [k, this.schema(s, [...at, key, k], seen)])) : v;
      } else if (key === "items" || key === "additionalProperties" || key === "not" || key === "contains" || key === "propertyNames") {
        out[key] = isObject(v) ? this.schema(v, [...at, key], seen) : v;
      } else if (key === "allOf" || key === "anyOf" || key === "oneOf" || key === "prefixItems") {
        out[key] = Array.isArray(v) ? v.map((s, i) => this.schema(s, [...at, key, i], seen)) : v;
      } else if ((key === "exclusiveMinimum" || key === "exclusiveMaximum") && typeof v === "boolean") {
        // OpenAPI 3.0 / draft 4: a flag on minimum/maximum; 2020-12: the bound itself.
        const bound = key === "exclusiveMinimum" ? "minimum" : "maximum";
        if (v && typeof value[bound] === "number") out[key] = value[bound];
      } else out[key] = v;
    }
    if (value.exclusiveMinimum === true && typeof value.minimum === "number") delete out.minimum;
    if (value.exclusiveMaximum === true && typeof value.maximum === "number") delete out.maximum;
    if (value.nullable === true && typeof value.type === "string") out.type = [value.type, "null"];
    if (typeof out.format === "string" && Object.hasOwn(OPENAPI_FORMATS, out.format)) {
      Object.assign(out, OPENAPI_FORMATS[out.format]!(out));
      delete out.format;
    }
    return out;
  }

  private scanStageVariables(value: unknown, at: Path): void {
    if (typeof value === "string") {
      if (value.includes("${stageVariables.")) this.note(at, `stage variables have no equivalent (${value.length > 80 ? value.slice(0, 80) + "..." : value}); write the value in the table`);
    } else if (Array.isArray(value)) value.forEach((v, i) => this.scanStageVariables(v, [...at, i]));
    else if (isObject(value)) for (const [k, v] of Object.entries(value)) this.scanStageVariables(v, [...at, k]);
  }

  private topLevelExtensions(): void {
    for (const [name, value] of Object.entries(this.doc)) {
      if (!name.startsWith(AWS)) continue;
      if (name === `${AWS}cors`) this.cors(value, [name]);
      else if (name === `${AWS}request-validators` || name === `${AWS}request-validator`) continue; // read per operation
      else this.note([name], `${name} has no equivalent; not imported`);
    }
    if (isObject(this.doc.components)) {
      for (const name of Object.keys(this.doc.components)) {
        // Integrations and authorizers referenced from operations are read there.
        if (name.startsWith(AWS) && name !== `${AWS}integrations`) this.note(["components", name], `${name} has no equivalent; not imported`);
      }
    }
  }

  // ---- origins -------------------------------------------------------------------------------

  /** The origin of operations without an integration: the document's server (its base path included). */
  private serverOrigin(servers: unknown, at: Path): string {
    if (this.exported) {
      // An exported document's servers are the gateway itself; its origins were not exported.
      return this.origin("api", undefined, at, "the document came from this gateway's export, which leaves origins out");
    }
    let url: string | undefined, why: string | undefined;
    if (this.version === "2.0") {
      const host = str(this.doc.host), basePath = str(this.doc.basePath) ?? "";
      const schemes = strings(this.doc.schemes);
      if (!host) why = "the document has no host";
      else url = `${schemes.includes("https") || schemes.length === 0 ? "https" : schemes[0]}://${host}${basePath}`;
      at = ["host"];
    } else {
      const list = Array.isArray(servers) ? servers.filter(isObject) : [];
      if (list.length === 0) why = "the document has no servers";
      else {
        url = serverUrl(list[0]!);
        list.slice(1).forEach((s, i) => this.note([...at, i + 1], `server ${JSON.stringify(str(s.url))} not used: a route has one origin (the first server)`));
        at = [...at, 0, "url"];
      }
    }
    if (url !== undefined) {
      const problem = originProblem(url);
      if (problem) { why = `${JSON.stringify(url)} ${problem}`; url = undefined; }
    }
    return this.origin(url ? nameForUrl(url, "api") : "api", url, at, why);
  }

  /** Registers an origin (once per URL) and returns its name; without a URL it is a placeholder and a note. */
  private origin(name: string, url: string | undefined, at: Path, why?: string): string {
    const key = url ?? `fill-in:${name}`;
    const known = this.originByUrl.get(key);
    if (known) return known;
    let unique = name, n = 2;
    while (this.origins.has(unique)) unique = `${name.slice(0, 60)}-${n++}`;
    const given = this.givenOrigins.get(unique);
    if (given !== undefined) this.usedGiven.add(unique);
    else if (url === undefined) this.note(at, `fill in origin "${unique}" (now ${FILL_IN_URL}): ${why ?? "the document does not say where to forward"}; pass --origin ${unique}=URL`);
    this.origins.set(unique, { url: given ?? url ?? FILL_IN_URL });
    this.originByUrl.set(key, unique);
    return unique;
  }

  // ---- security ------------------------------------------------------------------------------

  private securitySchemes(): { schemes: Loose; at: Path } {
    if (this.version === "2.0") return { schemes: isObject(this.doc.securityDefinitions) ? this.doc.securityDefinitions : {}, at: ["securityDefinitions"] };
    const components = isObject(this.doc.components) ? this.doc.components : {};
    return { schemes: isObject(components.securitySchemes) ? components.securitySchemes : {}, at: ["components", "securitySchemes"] };
  }

  private scheme(name: string): SchemeMapping {
    const known = this.schemeMappings.get(name);
    if (known) return known;
    const { schemes, at: base } = this.securitySchemes();
    const at = [...base, name];
    const raw = this.resolve(schemes[name], at);
    const mapping: SchemeMapping = raw ? this.mapScheme(name, raw, at) : { kind: "none", why: `security scheme "${name}" is not defined` };
    this.schemeMappings.set(name, mapping);
    return mapping;
  }

  private mapScheme(name: string, scheme: Loose, at: Path): SchemeMapping {
    const type = str(scheme.type)?.toLowerCase();
    const authType = str(scheme[`${AWS}authtype`])?.toLowerCase();
    const exported = isObject(scheme[EXT.authorizer]) ? scheme[EXT.authorizer] as Loose : undefined;
    if (exported) return this.exportedAuthorizer(exported, at);
    const aws = isObject(scheme[`${AWS}authorizer`]) ? scheme[`${AWS}authorizer`] as Loose : undefined;
    if (aws) return this.awsAuthorizer(name, aws, [...at, `${AWS}authorizer`]);
    if (authType === "awssigv4" || authType === "aws_iam") return { kind: "none", why: `IAM (SigV4) authorization ("${name}") has no equivalent` };
    if (authType === "custom" || authType === "cognito_user_pools") return { kind: "none", why: `the authorizer of "${name}" is not in the document` };
    if (type === "apikey") {
      const where = str(scheme.in), header = str(scheme.name)?.toLowerCase();
      if (where !== "header" || !header) {
        this.note(at, `API key in ${where ?? "?"} "${str(scheme.name) ?? "?"}" is read from a header here: clients send it in ${this.apiKeyHeader ?? "x-api-key"}`);
        this.apiKeyHeader ??= "x-api-key";
      } else if (this.apiKeyHeader !== undefined && this.apiKeyHeader !== header) {
        this.note(at, `API key header "${header}" differs from "${this.apiKeyHeader}": the gateway reads keys from one header, ${this.apiKeyHeader}`);
      } else this.apiKeyHeader = header;
      return { kind: "apiKey" };
    }
    if (type === "http" && str(scheme.scheme)?.toLowerCase() === "bearer") {
      return this.skeletonAuthorizer(name, at, "a bearer scheme does not name its issuer, audience or keys", {});
    }
    if (type === "oauth2") return this.skeletonAuthorizer(name, at, "an OAuth 2 scheme does not name the token issuer, audience or keys", {});
    if (type === "openidconnect") {
      const url = str(scheme.openIdConnectUrl);
      const issuer = url?.replace(/\/\.well-known\/openid-configuration\/?$/, "");
      if (issuer && issuer !== url && originProblem(issuer) === undefined) {
        return this.skeletonAuthorizer(name, at, `the audience is unknown and the JWKS URL was assumed from the issuer (${issuer}/.well-known/jwks.json; check its discovery document)`, { issuer, jwksUrl: `${issuer}/.well-known/jwks.json` });
      }
      return this.skeletonAuthorizer(name, at, "the OpenID Connect URL does not give the issuer", {});
    }
    if (type === "http") return { kind: "none", why: `HTTP ${str(scheme.scheme) ?? "?"} authentication ("${name}") has no equivalent` };
    if (type === "basic") return { kind: "none", why: `HTTP basic authentication ("${name}") has no equivalent` };
    return { kind: "none", why: `security scheme "${name}" of type ${type ?? "?"} has no equivalent` };
  }

  private authorizerName(base: string): string {
    let name = base.replace(/[^A-Za-z0-9_-]/g, "-").replace(/^[^A-Za-z0-9]+/, "").slice(0, 64) || "jwt";
    const first = name;
    for (let n = 2; this.authorizers.has(name); n++) name = `${first.slice(0, 60)}-${n}`;
    return name;
  }

  private skeletonAuthorizer(scheme: string, at: Path, why: string, known: { issuer?: string; audience?: string[]; jwksUrl?: string; tokenSources?: Loose[] }): SchemeMapping {
    const name = this.authorizerName(scheme);
    const fill = !known.issuer || !known.audience || !known.jwksUrl;
    this.authorizers.set(name, {
      type: "jwt",
      issuer: known.issuer ?? `${FILL_IN_URL}/`,
      audience: known.audience ?? FILL_IN,
      algorithms: ["RS256"],
      jwksUrl: known.jwksUrl ?? `${FILL_IN_URL}/.well-known/jwks.json`,
      ...(known.tokenSources ? { tokenSources: known.tokenSources } : {}),
    });
    this.note(at, fill
      ? `fill in authorizer "${name}" (RS256 assumed): ${why}; until then it accepts no token`
      : `check authorizer "${name}" (RS256 assumed): ${why}`);
    return { kind: "jwt", authorizer: name };
  }

  /** This gateway's own export: the authorizer's public facts; keys were not exported. */
  private exportedAuthorizer(ext: Loose, at: Path): SchemeMapping {
    const name = str(ext.name) && ORIGIN_NAME.test(str(ext.name)!) ? str(ext.name)! : this.authorizerName("jwt");
    const existing = this.authorizers.get(name);
    const source = isObject(ext.tokenSource) ? ext.tokenSource : { header: "authorization" };
    if (existing) {
      const sources = (existing.tokenSources as Loose[] | undefined) ?? [{ header: "authorization" }];
      if (!sources.some((s) => JSON.stringify(s) === JSON.stringify(source))) existing.tokenSources = [...sources, source];
      return { kind: "jwt", authorizer: name };
    }
    const algorithms = strings(ext.algorithms);
    const hmac = algorithms.length > 0 && algorithms.every((a) => a.startsWith("HS"));
    const keys: Loose = {};
    if (str(ext.jwksUrl)) keys.jwksUrl = ext.jwksUrl;
    else if (hmac) {
      keys.secret = { env: `${name.toUpperCase().replace(/[^A-Z0-9_]/g, "_")}_JWT_SECRET` };
      this.note(at, `set the Worker secret ${(keys.secret as Loose).env} for authorizer "${name}" (its HMAC secret was not exported)`);
    } else {
      keys.jwksUrl = `${FILL_IN_URL}/.well-known/jwks.json`;
      this.note(at, `fill in the keys of authorizer "${name}" (its ${str(ext.keySource) ?? "keys"} were not exported); until then it accepts no token`);
    }
    this.authorizers.set(name, {
      type: "jwt",
      issuer: str(ext.issuer) ?? `${FILL_IN_URL}/`,
      audience: ext.audience ?? FILL_IN,
      algorithms: algorithms.length ? algorithms : ["RS256"],
      ...keys,
      ...(JSON.stringify(source) !== JSON.stringify({ header: "authorization" }) ? { tokenSources: [source] } : {}),
    });
    return { kind: "jwt", authorizer: name };
  }

  /** `x-amazon-apigateway-authorizer`: JWT (HTTP APIs) and Cognito user pools map; Lambda authorizers do not. */
  private awsAuthorizer(name: string, aws: Loose, at: Path): SchemeMapping {
    const type = str(aws.type)?.toLowerCase();
    const tokenSources = identitySources(aws.identitySource);
    if (type === "jwt") {
      const config = isObject(aws.jwtConfiguration) ? aws.jwtConfiguration : {};
      const issuer = str(config.issuer)?.replace(/\/$/, "");
      const audience = strings(config.audience);
      for (const key of Object.keys(aws)) if (!["type", "jwtConfiguration", "identitySource"].includes(key)) this.note([...at, key], `${key} has no equivalent; not imported`);
      return this.skeletonAuthorizer(name, at, issuer
        ? `the JWKS URL was assumed from the issuer (${issuer}/.well-known/jwks.json)${audience.length ? "" : " and the audience is not given"}`
        : "the JWT authorizer names no issuer", {
        ...(issuer && originProblem(issuer) === undefined ? { issuer, jwksUrl: `${issuer}/.well-known/jwks.json` } : {}),
        ...(audience.length ? { audience } : {}),
        ...(tokenSources ? { tokenSources } : {}),
      });
    }
    if (type === "cognito_user_pools") {
      const arn = strings(aws.providerARNs)[0];
      const m = arn ? /^arn:aws[\w-]*:cognito-idp:([a-z0-9-]+):\d+:userpool\/([\w-]+)$/.exec(arn) : null;
      const issuer = m ? `https://cognito-idp.${m[1]}.amazonaws.com/${m[2]}` : undefined;
      return this.skeletonAuthorizer(name, at, issuer ? "a Cognito user pool names no audience (its app client id)" : "the Cognito user pool ARN does not give the issuer", {
        ...(issuer ? { issuer, jwksUrl: `${issuer}/.well-known/jwks.json` } : {}),
        ...(tokenSources ? { tokenSources } : {}),
      });
    }
    return { kind: "none", why: `the ${type ?? "?"} authorizer "${name}" (a Lambda authorizer) has no equivalent` };
  }

  /** The route's auth from the operation's security (or the document's), failing closed. */
  private auth(op: Loose, at: Path): Auth {
    const awsAuth = isObject(op[`${AWS}auth`]) ? str((op[`${AWS}auth`] as Loose).type)?.toLowerCase() : undefined;
    if (awsAuth === "aws_iam") {
      this.note([...at, `${AWS}auth`], "IAM (SigV4) authorization has no equivalent: the route requires a gateway API key instead; choose an authorizer");
      return this.apiKeyFallback();
    }
    const own = op.security !== undefined;
    const requirements = Array.isArray(own ? op.security : this.doc.security) ? (own ? op.security : this.doc.security) as unknown[] : [];
    const base: Path = own ? [...at, "security"] : ["security"];
    if (requirements.length === 0) return "none";
    const mapped: { auth: Auth; index: number }[] = [];
    const failures: string[] = [];
    let anonymous = false;
    requirements.forEach((requirement, i) => {
      if (!isObject(requirement)) return;
      const names = Object.keys(requirement);
      if (names.length === 0) { anonymous = true; return; }
      let authorizer: string | undefined, apiKey = false, scopes: string[] = [], keyScopes: string[] = [];
      const why: string[] = [];
      for (const name of names) {
        const m = this.scheme(name);
        if (m.kind === "none") why.push(m.why);
        else if (m.kind === "apiKey") {
          // OpenAPI 3.1 lets a non-OAuth requirement list roles: for the API key, the key's scopes.
          apiKey = true;
          const roles = strings(requirement[name]);
          const invalid = roles.filter((role) => !SCOPE_TOKEN.test(role));
          if (invalid.length) why.push(`API key roles ${invalid.map((r) => JSON.stringify(r)).join(", ")} are not scope tokens`);
          keyScopes = [...keyScopes, ...roles];
        }
        else if (authorizer !== undefined && authorizer !== m.authorizer) why.push(`two JWT authorizers ("${authorizer}", "${m.authorizer}") required together have no equivalent`);
        else { authorizer = m.authorizer; scopes = [...scopes, ...strings(requirement[name])]; }
      }
      if (why.length) { failures.push(`security[${i}]: ${why.join("; ")}`); return; }
      mapped.push({ auth: { ...(authorizer ? { authorizer } : {}), ...(scopes.length ? { scopes: [...new Set(scopes)] } : {}), ...(apiKey ? { apiKey: keyScopes.length ? { scopes: [...new Set(keyScopes)] } : true as const } : {}) }, index: i });
    });
    if (mapped.length === 0) {
      if (failures.length === 0) return "none"; // only `{}`: anonymous access
      this.note(base, `${failures.join("; ")}: the route requires a gateway API key instead; choose an authorizer`);
      return this.apiKeyFallback();
    }
    const chosen = mapped[0]!;
    const others = mapped.slice(1).filter((m) => JSON.stringify(m.auth) !== JSON.stringify(chosen.auth));
    for (const other of others) this.note([...base, other.index], "alternative security requirement not kept: a route has one way to authenticate (the first that maps)");
    for (const failure of failures) this.note(base, `${failure}; not kept (another requirement is)`);
    if (anonymous) this.note(base, "anonymous access (an empty requirement) not kept: the route requires the credential (fail closed)");
    return chosen.auth;
  }

  private apiKeyFallback(): Auth {
    this.apiKeyHeader ??= "x-api-key";
    return { apiKey: true };
  }

  // ---- operations ----------------------------------------------------------------------------

  private operation(rawPath: string, item: Loose, key: string, at: Path): void {
    const op = this.resolve(item[key], at);
    if (!op) { this.skip(at, "the operation is not an object"); return; }
    if (key === "trace") { this.skip(at, "TRACE is not a method the gateway routes"); return; }
    const anyMethod = key === ANY_METHOD || op[EXT.anyMethod] === true;
    const method = key === ANY_METHOD ? undefined : key.toUpperCase();

    const converted = str(op[EXT.path]) ?? this.gatewayPath(rawPath, item, op, at);
    if (converted === undefined) return;
    const host = str(op[EXT.host]);
    const exportedId = str(op[EXT.route]);

    // Operations this gateway exported from one route come back as that route.
    if (exportedId && method) {
      const existing = this.routes.find((r) => r.id === exportedId && r.path === converted && r.host === host);
      if (existing) {
        if (existing.methods !== undefined) {
          if (!this.claim(existing, host, converted, [method], at)) return;
          (existing.methods as string[]).push(method);
        }
        this.operations.push({ path: pointerText(at), route: exportedId });
        return;
      }
    }

    // An any-method operation answers the methods no explicit operation of its path claimed.
    let methods: string[] | undefined = method && !(anyMethod && exportedId) ? [method] : undefined;
    if (!method) {
      const taken = new Set(this.routes.filter((r) => r.path === converted && r.host === host).flatMap((r) => (r.methods as string[] | undefined) ?? []));
      if (taken.size > 0) methods = HTTP_METHODS.filter((m) => !taken.has(m));
      if (methods?.length === 0) { this.skip(at, "every method of this path has its own operation"); return; }
    }
    this.current = { rawPath, wildcard: this.wildcardName(rawPath, item, op, at) };

    const route: Loose = { id: this.routeId(exportedId ?? str(op.operationId), method ?? "any", converted) };
    if (methods) route.methods = methods;
    if (host) route.host = host;
    route.path = converted;

    const integration = this.integration(op, at);
    if (!this.forwarding(route, integration, item, op, at)) return;
    route.auth = this.auth(op, at);
    this.exportedFields(route, op, at);
    this.validation(route, item, op, at);
    for (const name of Object.keys(op)) {
      if (name.startsWith(AWS) && ![`${AWS}integration`, `${AWS}auth`, `${AWS}request-validator`].includes(name)) this.note([...at, name], `${name} has no equivalent; not imported`);
    }
    if (!this.claim(route, host, converted, methods, at)) return;
    this.routes.push(route);
    this.operations.push({ path: pointerText(at), route: route.id as string });
  }

  private skip(at: Path, why: string): void {
    this.note(at, `operation not imported: ${why}`);
    this.operations.push({ path: pointerText(at), skipped: why });
  }

  /** Refuses a second route for the same host, path shape and method (the check's rule). */
  private claim(route: Loose, host: string | undefined, path: string, methods: string[] | undefined, at: Path): boolean {
    const shape = `${(host ?? "").toLowerCase()} ${path.replace(/\/:[^/]+/g, "/:")}`;
    const list = methods ?? ["*"];
    for (const m of list) {
      for (const other of m === "*" ? ["*", ...HTTP_METHODS] : ["*", m]) {
        const owner = this.shapes.get(`${shape} ${other}`);
        if (owner !== undefined && owner !== route.id) {
          this.skip(at, `route "${owner}" already answers ${m === "*" ? "this path" : m} on the same path (paths that differ only in parameter names are one route)`);
          return false;
        }
      }
    }
    for (const m of list) this.shapes.set(`${shape} ${m}`, route.id as string);
    return true;
  }

  private routeId(operationId: string | undefined, method: string, path: string): string {
    let base = operationId?.replace(/[^A-Za-z0-9._:-]/g, "-").replace(/^[^A-Za-z0-9]+/, "").slice(0, 120);
    if (!base) base = `${method.toLowerCase()}${path === "/" ? ".root" : path.replace(/[/:]+/g, ".").replace(/\*/g, "rest").replace(/[^A-Za-z0-9._-]/g, "-")}`.slice(0, 120);
    let id = base, n = 2;
    while (this.routeIds.has(id) || !ROUTE_ID.test(id)) id = `${base}-${n++}`;
    this.routeIds.add(id);
    return id;
  }

  /** The name of the path's final greedy parameter (`{proxy+}`, or one this gateway exported as its `*`). */
  private wildcardName(raw: string, item: Loose, op: Loose, at: Path): string | undefined {
    const last = /\{([^{}]+)\}\/?$/.exec(raw)?.[1];
    if (!last) return undefined;
    if (last.endsWith("+")) return last.slice(0, -1);
    return this.parameters(item, op, at).some((p) => p.name === last && p.param[EXT.wildcard] === true) ? last : undefined;
  }

  /** `/pets/{petId}` -> `/pets/:petId`, `{proxy+}` (or an exported wildcard) -> `*`. */
  private gatewayPath(raw: string, item: Loose, op: Loose, at: Path): string | undefined {
    const wildcards = new Set(this.parameters(item, op, at).filter((p) => p.param[EXT.wildcard] === true).map((p) => p.name));
    let path = raw.split("?")[0]!.replace(/\/+$/, "") || "/";
    if (!path.startsWith("/")) path = "/" + path;
    if (path === "/") return path;
    const segments = path.slice(1).split("/");
    const out: string[] = [];
    for (const [i, segment] of segments.entries()) {
      const last = i === segments.length - 1;
      const whole = /^\{([^{}]+)\}$/.exec(segment);
      if (whole) {
        const name = whole[1]!;
        if (name.endsWith("+") || wildcards.has(name)) {
          if (!last) { this.skip(at, `the greedy parameter {${name}} is not the last segment`); return undefined; }
          out.push("*");
        } else out.push(`:${paramName(name)}`);
      } else if (segment.includes("{")) {
        const names = [...segment.matchAll(/\{([^{}+]+)\+?\}/g)].map((m) => m[1]!);
        this.note(at, `segment "${segment}" mixes text and parameters: matched as one parameter :${paramName(names[0] ?? "param")}, which accepts more than the document's pattern`);
        out.push(`:${paramName(names[0] ?? "param")}`);
      } else {
        out.push(canonicalSegment(segment));
      }
    }
    const result = "/" + out.join("/");
    const problems = pathPatternProblems(result);
    if (problems.length) { this.skip(at, `path ${JSON.stringify(raw)} cannot be a route: ${problems.join("; ")}`); return undefined; }
    return result;
  }

  private integration(op: Loose, at: Path): { value: Loose; at: Path } | undefined {
    const raw = op[`${AWS}integration`];
    if (raw === undefined) return undefined;
    const iat = [...at, `${AWS}integration`];
    const value = this.resolve(raw, iat);
    return value ? { value, at: iat } : undefined;
  }

  /** Where the route sends requests: an integration, a mock, the room, or the document's server. */
  private forwarding(route: Loose, integration: { value: Loose; at: Path } | undefined, item: Loose, op: Loose, at: Path): boolean {
    if (isObject(op[EXT.room]) && this.hasRooms) {
      route.room = { name: str((op[EXT.room] as Loose).name) ?? FILL_IN };
      return true;
    }
    if (op[EXT.websocket] === true) route.websocket = true;
    // Our own export of a static or redirect route: its answer, carried whole.
    for (const field of ["respond", "redirect"] as const) {
      if (!isObject(op[EXT[field]])) continue;
      if (this.routeFields.has(field)) { route[field] = op[EXT[field]]; return true; }
      this.note([...at, EXT[field]], `this gateway has no \`${field}\` route field; the route forwards to the document's server instead`);
    }
    if (!integration) {
      const servers = op.servers ?? item.servers;
      route.origin = Array.isArray(servers) && servers.length > 0 && !this.exported
        ? this.serverOrigin(servers, [...at, "servers"])
        : (this.defaultOrigin ??= this.serverOrigin(this.doc.servers, ["servers"]));
      return true;
    }
    const { value: config, at: iat } = integration;
    const type = str(config.type)?.toLowerCase();
    // payloadFormatVersion only tells API Gateway how to shape a Lambda's event; an HTTP origin gets the request itself.
    const handled = new Set(["type", "uri", "httpMethod", "requestParameters", "timeoutInMillis", "passthroughBehavior", "responses", "payloadFormatVersion"]);
    if (type === "mock") {
      if (!this.mock(route, config, iat, at)) return false;
      for (const key of Object.keys(config)) if (!["type", "requestTemplates", "responses", "passthroughBehavior"].includes(key)) this.note([...iat, key], `${key} has no equivalent for a static response; not imported`);
      return true;
    }
    const uri = str(config.uri);
    if (type === "http" || type === "http_proxy") {
      this.httpIntegration(route, config, uri, type, iat);
    } else if (type === "aws" || type === "aws_proxy") {
      const lambda = uri ? /:lambda:path\/[^/]+\/functions\/arn:aws[\w-]*:lambda:[\w-]+:\d+:function:([A-Za-z0-9_-]+)/.exec(uri) : null;
      if (lambda) {
        route.origin = this.origin(`lambda-${lambda[1]}`.slice(0, 64), undefined, [...iat, "uri"],
          `Lambda function ${lambda[1]} is not an HTTP origin (give it a function URL or an HTTP front and put that here)`);
        this.note([...iat, "uri"], `the Lambda function ${lambda[1]} is called through origin "${route.origin}"`);
        if (type === "aws") this.note([...iat, "type"], "a non-proxy Lambda integration reshapes requests and responses with mapping templates; the function now receives the HTTP request as sent");
      } else {
        const service = uri ? /^arn:aws[\w-]*:apigateway:[\w-]+:([a-z0-9-]+):/.exec(uri)?.[1] : undefined;
        route.origin = this.origin(`aws-${service ?? "service"}`, undefined, [...iat, "uri"],
          `AWS service integrations (${service ?? uri ?? "?"}) have no equivalent: put an HTTP service in front of it`);
        this.note([...iat, "uri"], `the AWS service integration ${JSON.stringify(uri)} has no equivalent: the route forwards to origin "${route.origin}"`);
      }
    } else {
      const servers = op.servers ?? item.servers;
      route.origin = this.defaultOrigin ??= this.serverOrigin(Array.isArray(servers) ? servers : this.doc.servers, ["servers"]);
      this.note([...iat, "type"], `integration type ${JSON.stringify(config.type)} has no equivalent; the route forwards to origin "${route.origin}"`);
    }
    const method = str(config.httpMethod)?.toUpperCase();
    if ((type === "http" || type === "http_proxy") && method && method !== "ANY" && route.methods && !(route.methods as string[]).includes(method)) {
      this.note([...iat, "httpMethod"], `the integration calls the origin with ${method}; the gateway forwards the client's method`);
    }
    if (type !== "http_proxy" && type !== "aws_proxy" && isObject(config.responses)) {
      this.note([...iat, "responses"], "integration response mappings (status codes, headers, templates) have no equivalent: the origin's response is passed through");
    }
    const timeout = config.timeoutInMillis;
    if (typeof timeout === "number" && Number.isInteger(timeout) && timeout > 0 && typeof route.origin === "string") {
      const origin = this.origins.get(route.origin)!;
      origin.timeoutMs = Math.max(origin.timeoutMs ?? 0, Math.min(timeout, 300_000));
    }
    for (const key of Object.keys(config)) {
      if (handled.has(key)) continue;
      const what: Record<string, string> = {
        requestTemplates: "mapping templates (VTL) have no equivalent: the request is forwarded as sent",
        credentials: "the integration's IAM role has no equivalent",
        cacheNamespace: "API Gateway caching has no equivalent",
        cacheKeyParameters: "API Gateway caching has no equivalent",
        connectionType: "a VPC link has no equivalent: the origin must be reachable from Cloudflare",
        connectionId: "a VPC link has no equivalent",
        contentHandling: "content handling (binary conversion) has no equivalent: bodies pass through unchanged",
        tlsConfig: "the integration's TLS settings have no equivalent",
      };
      this.note([...iat, key], what[key] ?? `${key} has no equivalent; not imported`);
    }
    if (isObject(config.requestParameters)) this.requestParameters(route, config.requestParameters, [...iat, "requestParameters"]);
    return true;
  }

  private httpIntegration(route: Loose, config: Loose, uri: string | undefined, type: string, iat: Path): void {
    let url: URL | undefined;
    try { url = uri && !uri.includes("${") ? new URL(uri.replace(/\{[^}]+\}/g, (m) => `__${encodeURIComponent(m.slice(1, -1))}__`)) : undefined; } catch { url = undefined; }
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:") || originProblem(`${url.protocol}//${url.host}`)) {
      route.origin = this.origin("backend", undefined, [...iat, "uri"], `the integration URI ${JSON.stringify(uri)} is not an http(s) URL the gateway can call`);
      return;
    }
    if (url.search) this.note([...iat, "uri"], "the integration URI's query string has no equivalent; not imported");
    const base = `${url.protocol}//${url.host}`;
    route.origin = this.origin(nameForUrl(base, "backend"), base, [...iat, "uri"]);
    // The integration's path, its {vars} filled from the route's parameters, becomes the rewrite.
    const mappings = isObject(config.requestParameters) ? config.requestParameters : {};
    const params = new Set((route.path as string).split("/").filter((s) => s.startsWith(":")).map((s) => s.slice(1)));
    const segments = url.pathname.split("/").slice(1);
    const out: string[] = [];
    for (const [i, segment] of segments.entries()) {
      const v = /^__(.+)__$/.exec(segment);
      if (!v) { if (segment !== "") out.push(canonicalSegment(segment)); continue; }
      const name = decodeURIComponent(v[1]!).replace(/\+$/, "");
      const source = str(mappings[`integration.request.path.${name}`]);
      const from = source ? /^method\.request\.path\.(.+)$/.exec(source)?.[1] : name;
      if (from !== undefined && from === this.current.wildcard && i === segments.length - 1) out.push("*");
      else if (from !== undefined && params.has(paramName(from))) out.push(`:${paramName(from)}`);
      else {
        route.origin = this.origin(`${route.origin as string}-fill-in`.slice(0, 64), undefined, [...iat, "uri"],
          `the integration's path parameter {${name}} has no source in the route's path, so its URL cannot be built`);
        return;
      }
    }
    const rewrite = "/" + out.join("/");
    if (rewrite !== route.path) route.rewrite = rewrite;
    if (type === "http") this.note([...iat, "type"], "a non-proxy HTTP integration: the gateway forwards every header and query parameter and the response as it is, where API Gateway passes only mapped ones");
  }

  /** `integration.request.header.X: 'literal'` becomes a request header; other mappings are noted. */
  private requestParameters(route: Loose, mappings: Loose, at: Path): void {
    for (const [target, source] of Object.entries(mappings)) {
      const header = /^integration\.request\.header\.(.+)$/.exec(target)?.[1];
      const literal = typeof source === "string" ? /^'(.*)'$/.exec(source)?.[1] : undefined;
      if (/^integration\.request\.path\./.test(target)) continue; // read into the rewrite
      const owned = header !== undefined && (GATEWAY_OWNED_REQUEST_HEADERS as readonly string[]).includes(header.toLowerCase());
      if (header && !owned && HEADER_NAME.test(header) && literal !== undefined && /^[\t\x20-\x7e]*$/.test(literal)) {
        const set = ((route.requestHeaders ??= {}) as Loose).set ??= {};
        (set as Loose)[header.toLowerCase()] = literal;
        continue;
      }
      this.note([...at, target], `request parameter mapping ${target} = ${JSON.stringify(source)} has no equivalent; not imported`);
    }
  }

  /** A mock integration as a static response, when this gateway has `respond`. */
  private mock(route: Loose, config: Loose, at: Path, operationAt: Path): boolean {
    if (!this.routeFields.has("respond")) {
      this.skip(operationAt, "a mock integration (static response) needs the `respond` route field, which this gateway does not have");
      return false;
    }
    const templates = isObject(config.requestTemplates) ? config.requestTemplates : {};
    const request = str(templates["application/json"]) ?? str(Object.values(templates)[0]);
    let integrationStatus = 200;
    try {
      const parsed = request ? JSON.parse(request) as unknown : undefined;
      if (isObject(parsed) && typeof parsed.statusCode === "number") integrationStatus = parsed.statusCode;
    } catch { this.note([...at, "requestTemplates"], "the request template is not plain JSON (VTL); status 200 assumed"); }
    const responses = isObject(config.responses) ? config.responses : {};
    const chosenKey = Object.keys(responses).find((k) => k !== "default" && safeRegex(k)?.test(String(integrationStatus))) ?? (responses.default !== undefined ? "default" : Object.keys(responses)[0]);
    const response = chosenKey !== undefined && isObject(responses[chosenKey]) ? responses[chosenKey] as Loose : {};
    const rat = [...at, "responses", chosenKey ?? "default"];
    const status = Number(str(response.statusCode) ?? response.statusCode ?? integrationStatus);
    const respond: Loose = { status: Number.isInteger(status) && status >= 200 && status <= 599 ? status : 200 };
    const headers: Loose = {};
    for (const [target, source] of Object.entries(isObject(response.responseParameters) ? response.responseParameters : {})) {
      const name = /^method\.response\.header\.(.+)$/.exec(target)?.[1];
      const literal = typeof source === "string" ? /^'(.*)'$/.exec(source)?.[1] : undefined;
      if (name && literal !== undefined) headers[name.toLowerCase()] = literal;
      else this.note([...rat, "responseParameters", target], `response parameter ${JSON.stringify(source)} is not a literal; not imported`);
    }
    if (Object.keys(headers).length) respond.headers = headers;
    const bodies = isObject(response.responseTemplates) ? response.responseTemplates : {};
    for (const [type, template] of Object.entries(bodies)) {
      if (typeof template !== "string" || template === "") continue;
      if (respond.json === undefined && respond.body === undefined && /json/i.test(type)) {
        try { respond.json = JSON.parse(template); continue; } catch { /* VTL: noted below */ }
      }
      if (respond.json === undefined && respond.body === undefined && !/[$#]/.test(template)) {
        respond.body = template;
        if (!headers["content-type"]) respond.headers = { ...headers, "content-type": type };
        continue;
      }
      this.note([...rat, "responseTemplates", type], "a response template (VTL, or a second content type) has no static equivalent; not imported");
    }
    for (const [key] of Object.entries(responses)) if (key !== chosenKey) this.note([...at, "responses", key], "a mock's other responses (selected by VTL) are not imported: the route always answers the chosen one");
    route.respond = respond;
    return true;
  }

  /** Rate limits, claims and the room from this gateway's own export. */
  private exportedFields(route: Loose, op: Loose, at: Path): void {
    const limit = isObject(op[EXT.rateLimit]) ? op[EXT.rateLimit] as Loose : undefined;
    if (limit && str(limit.plan) && str(limit.by)) {
      route.rateLimit = { plan: limit.plan, by: limit.by };
      if (typeof limit.cost === "number") route.cost = limit.cost;
    } else if (limit) this.note([...at, EXT.rateLimit], "a rate limit without plan and by; not imported");
    if (op[EXT.claims] !== undefined && isObject(route.auth) && route.auth.authorizer !== undefined) route.auth = { ...route.auth, claims: op[EXT.claims] };
  }

  // ---- request validation --------------------------------------------------------------------

  private parameters(item: Loose, op: Loose, at: Path): { name: string; in: string; param: Loose; at: Path }[] {
    const byKey = new Map<string, { name: string; in: string; param: Loose; at: Path }>();
    for (const [source, list] of [[[...at.slice(0, -1), "parameters"], item.parameters], [[...at, "parameters"], op.parameters]] as const) {
      if (!Array.isArray(list)) continue;
      list.forEach((raw, i) => {
        const param = this.resolve(raw, [...source, i]);
        const name = str(param?.name), where = str(param?.in);
        if (param && name && where) byKey.set(`${where} ${where === "header" ? name.toLowerCase() : name}`, { name, in: where, param, at: [...source, i] });
      });
    }
    return [...byKey.values()];
  }

  /** What an API Gateway request validator checks on this operation (both when there is none: plain OpenAPI). */
  private validatorFlags(op: Loose, at: Path): { body: boolean; params: boolean } {
    const name = str(op[`${AWS}request-validator`]) ?? str(this.doc[`${AWS}request-validator`]);
    if (name === undefined) return { body: true, params: true };
    const validators = isObject(this.doc[`${AWS}request-validators`]) ? this.doc[`${AWS}request-validators`] as Loose : {};
    const validator = validators[name];
    if (!isObject(validator)) {
      this.note([...at, `${AWS}request-validator`], `request validator "${name}" is not defined; everything is validated`);
      return { body: true, params: true };
    }
    return { body: validator.validateRequestBody === true, params: validator.validateRequestParameters === true };
  }

  private validation(route: Loose, item: Loose, op: Loose, at: Path): void {
    const params = this.parameters(item, op, at);
    const flags = this.validatorFlags(op, at);
    const validate: Loose = {};
    const parts: string[] = [];
    for (const [where, field] of [["query", "query"], ["header", "headers"], ["path", "params"]] as const) {
      if (!flags.params) break;
      const list = params.filter((p) => p.in === where && p.param[EXT.wildcard] !== true);
      const properties: Loose = {}, required: string[] = [];
      for (const p of list) {
        const name = where === "header" ? p.name.toLowerCase() : where === "path" ? paramName(p.name.replace(/\+$/, "")) : p.name;
        if (where === "path" && !(route.path as string).split("/").includes(`:${name}`)) continue;
        const schema = this.parameterSchema(p.param, p.at);
        if (where === "path" && isObject(schema) && Object.keys(schema).length === 1 && schema.type === "string") continue; // no constraint beyond the path's own
        properties[name] = schema;
        // A path parameter is always present once the path matched: `required` would say nothing.
        if (p.param.required === true && where !== "path") required.push(name);
      }
      if (!Object.keys(properties).length) continue;
      if (where === "path") {
        // The gateway checks a path parameter with a regular expression over its decoded value.
        const patterns: Record<string, string> = {};
        for (const [name, schema] of Object.entries(properties)) {
          const pattern = pathPattern(schema as Loose);
          if (pattern !== undefined) patterns[name] = pattern;
          else this.note([...at, "parameters"], `path parameter "${name}": its schema has no equivalent as a pattern; not validated`);
        }
        if (Object.keys(patterns).length) { validate.params = patterns; parts.push("path"); }
        continue;
      }
      validate[field] = { type: "object", properties, ...(required.length ? { required } : {}) };
      parts.push(where === "header" ? "headers" : where);
    }
    for (const p of params.filter((p) => p.in === "formData" || p.in === "cookie")) this.note(p.at, `${p.in} parameter "${p.name}" is not validated by the gateway; not imported`);
    const body = flags.body ? this.requestBody(op, at) : undefined;
    if (body) {
      // The gateway checks a body schema on JSON bodies only; other media types get the allow-list.
      const json = body.types.some((type) => /^application\/(?:[\w.-]+\+)?json$/i.test(type));
      if (json) validate.body = body.schema;
      else this.note([...at, "requestBody"], `the body schema of ${body.types.join(", ")} is not checked (the gateway validates JSON bodies); only the media types are`);
      if (body.types.length && !(body.types.length === 1 && body.types[0] === "application/json")) validate.contentTypes = body.types;
      parts.push("body");
    }
    if (!parts.length) return;
    if (this.routeFields.has("validate")) route.validate = validate;
    else this.note(at, `request validation not imported (${parts.join(", ")}): this gateway has no \`validate\` route field`);
  }

  private parameterSchema(param: Loose, at: Path): Loose {
    if (param.schema !== undefined) return this.schema(param.schema, [...at, "schema"]);
    // OpenAPI 2.0: the schema keywords sit on the parameter itself.
    const keys = ["type", "format", "items", "enum", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "pattern", "minItems", "maxItems", "uniqueItems", "multipleOf", "default"];
    const out: Loose = {};
    for (const key of keys) if (param[key] !== undefined) out[key] = param[key];
    if (out.type === "file") delete out.type;
    return this.schema(out, at);
  }

  private requestBody(op: Loose, at: Path): { schema: Loose; types: string[] } | undefined {
    if (this.version === "2.0") {
      const params = Array.isArray(op.parameters) ? op.parameters : [];
      const index = params.findIndex((p) => str(this.resolve(p, [...at, "parameters"])?.in) === "body");
      if (index < 0) return undefined;
      const param = this.resolve(params[index], [...at, "parameters", index])!;
      const consumes = strings(op.consumes).length ? strings(op.consumes) : strings(this.doc.consumes);
      return { schema: this.schema(param.schema, [...at, "parameters", index, "schema"]), types: consumes.length ? consumes : ["application/json"] };
    }
    const body = this.resolve(op.requestBody, [...at, "requestBody"]);
    if (!body || !isObject(body.content)) return undefined;
    const types = Object.keys(body.content);
    const first = types.map((t) => (body.content as Loose)[t]).find((m) => isObject(m) && m.schema !== undefined) as Loose | undefined;
    const schemas = new Set(types.map((t) => JSON.stringify(((body.content as Loose)[t] as Loose | undefined)?.schema ?? null)));
    if (schemas.size > 1) this.note([...at, "requestBody", "content"], "content types with different schemas: the first schema validates them all");
    return { schema: first ? this.schema(first.schema, [...at, "requestBody", "content", types[0]!, "schema"]) : {}, types };
  }

  // ---- CORS ----------------------------------------------------------------------------------

  private corsConfig: Loose | undefined;

  private cors(value: unknown, at: Path): void {
    if (!isObject(value)) return;
    if (!this.routeFields.has("cors") && !this.tableFields.has("cors") && !this.defaultsFields.has("cors")) {
      this.note(at, "CORS not imported: this gateway has no `cors` field");
      return;
    }
    const cors: Loose = {};
    const map = { allowOrigins: "allowOrigins", allowMethods: "allowMethods", allowHeaders: "allowHeaders", exposeHeaders: "exposeHeaders", allowCredentials: "allowCredentials", maxAge: "maxAgeSec" } as const;
    for (const [key, v] of Object.entries(value)) {
      const target = (map as Record<string, string>)[key];
      if (target) cors[target] = key === "allowMethods" && Array.isArray(v) ? v.map((m) => String(m).toUpperCase()) : v;
      else this.note([...at, key], `${key} has no equivalent in cors; not imported`);
    }
    this.corsConfig = cors;
  }

  // ---- the table -----------------------------------------------------------------------------

  private finish(): ImportResult {
    for (const route of this.routes) {
      if (Array.isArray(route.methods)) route.methods = HTTP_METHODS.filter((m) => (route.methods as string[]).includes(m));
    }
    const table: Loose = { origins: Object.fromEntries(this.origins), routes: this.routes };
    if (this.corsConfig) {
      // API Gateway's CORS applies to the whole API: the table-wide default where the gateway has one.
      if (this.defaultsFields.has("cors")) table.defaults = { ...(isObject(table.defaults) ? table.defaults : {}), cors: this.corsConfig };
      else if (this.tableFields.has("cors")) table.cors = this.corsConfig;
      else for (const route of this.routes) route.cors = this.corsConfig;
    }
    if (this.authorizers.size) table.authorizers = Object.fromEntries(this.authorizers);
    const plans: Loose = {};
    const mark = isObject(this.doc[EXPORT_MARK]) ? this.doc[EXPORT_MARK] as Loose : {};
    const exportedPlans = isObject(mark.plans) ? mark.plans : {};
    for (const route of this.routes) {
      const plan = isObject(route.rateLimit) ? str(route.rateLimit.plan) : undefined;
      if (plan && !(plan in plans)) {
        if (isObject(exportedPlans[plan])) plans[plan] = exportedPlans[plan];
        else { delete route.rateLimit; this.note([EXPORT_MARK, "plans"], `plan "${plan}" is not in the document; route "${route.id}" imported without its rate limit`); }
      }
    }
    const apiKeys = this.routes.some((r) => isObject(r.auth) && r.auth.apiKey === true);
    if (apiKeys) {
      table.apiKeys = { header: this.apiKeyHeader ?? "x-api-key" };
      if (!("default" in plans)) {
        plans.default = DEFAULT_PLAN;
        this.noteTable(["plans", "default"], `API keys are issued with a plan: plan "default" (${DEFAULT_PLAN.rate.limit} requests per ${DEFAULT_PLAN.rate.per}) was added; adjust it`);
      }
      const clash = this.routes.some((r) => (str(r.path) + "/").startsWith("/_gateway/"));
      table.admin = { ...(clash ? { pathPrefix: "/_edge-gateway" } : {}), token: { env: "ADMIN_TOKEN" } };
      this.noteTable(["admin"], "API keys are issued through the admin API: set the Worker secret ADMIN_TOKEN (wrangler secret put ADMIN_TOKEN)");
    }
    if (Object.keys(plans).length) table.plans = plans;
    return {
      table, notes: this.notes, operations: this.operations,
      unusedOrigins: [...this.givenOrigins.keys()].filter((name) => !this.usedGiven.has(name)),
    };
  }
}

// ---- helpers -----------------------------------------------------------------------------------

/** A server object's URL with its variables' defaults filled in and doubled slashes folded. */
function serverUrl(server: Loose): string | undefined {
  let url = str(server.url);
  if (url === undefined) return undefined;
  const variables = isObject(server.variables) ? server.variables : {};
  url = url.replace(/\{([^}]+)\}/g, (m, name: string) => {
    const variable = variables[name];
    return isObject(variable) && str(variable.default) !== undefined ? str(variable.default)! : m;
  });
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url)?.[0] ?? "";
  return scheme + url.slice(scheme.length).replace(/\/{2,}/g, "/").replace(/\/$/, "");
}

/** Why a URL cannot be an origin, or undefined when it can. */
function originProblem(url: string): string | undefined {
  if (url.includes("{")) return "has a variable without a default";
  let parsed: URL;
  try { parsed = new URL(url); } catch { return "is not an absolute URL"; }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return "is not http(s)";
  if (parsed.search || parsed.hash || parsed.username || parsed.password) return "has a query, fragment or credentials";
  return undefined;
}

/** An origin name from a URL's host: `petstore-demo-endpoint.execute-api.com` -> `petstore-demo-endpoint`. */
function nameForUrl(url: string, fallback: string): string {
  let host: string;
  try { host = new URL(url).hostname; } catch { return fallback; }
  const label = host.split(".")[0]!.replace(/[^A-Za-z0-9_-]/g, "-").replace(/^[^A-Za-z0-9]+/, "").slice(0, 64);
  return label && ORIGIN_NAME.test(label) && !/^\d+$/.test(label) ? label : fallback;
}

/** `{stream-name}` -> `stream_name`: a route parameter is letters, digits and _. */
function paramName(name: string): string {
  const clean = name.replace(/[^A-Za-z0-9_]/g, "_");
  return PARAM_NAME.test(clean) ? clean : `p_${clean}`;
}

/** A static segment as the canonicalizer writes it: unreserved characters plain, others %XX upper case. */
function canonicalSegment(segment: string): string {
  let decoded: string;
  try { decoded = decodeURIComponent(segment); } catch { decoded = segment; }
  return encodeURIComponent(decoded).replace(/[!'()*]/g, (c) => c === "*" ? "%2A" : c).replace(/%[0-9a-f]{2}/g, (m) => m.toUpperCase());
}

/** API Gateway identity sources (`$request.header.Authorization`) as token sources; undefined for the default. */
function identitySources(value: unknown): Loose[] | undefined {
  const list = Array.isArray(value) ? strings(value) : str(value)?.split(",").map((s) => s.trim()) ?? [];
  const sources = list.flatMap((s): Loose[] => {
    const header = /^\$?(?:request|method\.request)\.header\.(.+)$/.exec(s)?.[1];
    if (header) return [{ header: header.toLowerCase() }];
    const query = /^\$?(?:request|method\.request)\.querystring\.(.+)$/.exec(s)?.[1];
    return query ? [{ query }] : [];
  });
  if (sources.length === 0 || (sources.length === 1 && sources[0]!.header === "authorization")) return undefined;
  return sources;
}

function safeRegex(pattern: string): RegExp | undefined {
  try { return new RegExp(`^(?:${pattern})$`); } catch { return undefined; }
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** A path parameter's schema as the regular expression the gateway checks, or undefined when none says the same. */
function pathPattern(schema: Loose): string | undefined {
  if (typeof schema.pattern === "string") return schema.pattern.startsWith("^") ? schema.pattern : `^(?:${schema.pattern})$`;
  if (Array.isArray(schema.enum) && schema.enum.every((v) => typeof v === "string" || typeof v === "number"))
    return `^(?:${schema.enum.map((v) => escapeRegExp(String(v))).join("|")})$`;
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
  if (type === "integer") return "^-?[0-9]+$";
  if (type === "number") return "^-?[0-9]+(?:\\.[0-9]+)?(?:[eE][-+]?[0-9]+)?$";
  if (type === "boolean") return "^(?:true|false)$";
  if (schema.format === "uuid") return "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$";
  return undefined;
}
