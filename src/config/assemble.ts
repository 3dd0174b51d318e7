/**
 * Assembles the route-table schema from the core's fields (core.ts) and a list of policies: their
 * route, auth and table fragments, in list order, and their cross-field checks after the core's.
 * The list itself is applied in src/config/table.ts, so nothing here names a policy.
 */
import { z } from "zod";
import type { AnyPolicy, CheckContext } from "../policy.ts";
import {
  AdminSchema, coreRouteFields, HTTP_METHODS, isObject, LoggingSchema, ORIGIN_NAME, pathPatternProblems, ServerTimingSchema, str,
  type CoreRoute, type CoreTable, type Loose,
} from "./core.ts";
import { OriginSchema } from "./origins.ts";
import { objectFormProblems } from "./messages.ts";

/** The whole table schema: the core's fields and checks merged with every policy's, in list order. */
export function buildTableSchema(policies: readonly AnyPolicy[]): z.ZodType<Omit<CoreTable, "routes"> & { routes: (CoreRoute & Loose)[] } & Loose, unknown> {
  return tableSchema(policies) as unknown as z.ZodType<Omit<CoreTable, "routes"> & { routes: (CoreRoute & Loose)[] } & Loose, unknown>;
}

/**
 * One fragment kind of every policy merged into one shape. Two policies declaring the same member
 * would silently replace each other's schema (zod merges by key), so that is a startup TypeError.
 */
function mergeFragments(policies: readonly AnyPolicy[], kind: "routeFields" | "authFields" | "tableFields" | "defaultsFields", taken: Record<string, string> = {}): Record<string, z.ZodType> {
  const merged: Record<string, z.ZodType> = {};
  for (const policy of policies) {
    for (const [key, schema] of Object.entries((policy[kind] ?? {}) as Record<string, z.ZodType>)) {
      const owner = taken[key];
      if (owner !== undefined) throw new TypeError(`policies "${owner}" and "${policy.name}" both declare the ${kind} member "${key}"`);
      taken[key] = policy.name;
      merged[key] = schema;
    }
  }
  return merged;
}

function tableSchema(policies: readonly AnyPolicy[]) {
  const authFields = mergeFragments(policies, "authFields");
  const authenticators = policies.filter((p) => p.authenticates);
  const AuthObject = z.strictObject(authFields).refine(
    (auth) => authenticators.some((p) => p.authenticates!(auth as Loose)),
    `needs a way to authenticate: ${authenticators.map((p) => Object.keys(p.authFields ?? {})[0]).join(", ")} (or "none")`,
  );
  const RouteAuthSchema = z.union([z.literal("none"), AuthObject], {
    error: (issue) => issue.input === undefined
      ? `required: every route states its auth ("none" makes a public route explicit)`
      : objectFormProblems(issue) ?? `must be "none" or an object such as { "authorizer": NAME } or { "apiKey": true }`,
  }).describe(`How callers authenticate. "none" makes a public route explicit.`);

  const core = (shape: object) => Object.fromEntries(Object.keys(shape).map((key) => [key, "core"]));
  const RouteSchema = z.strictObject({
    ...coreRouteFields,
    auth: RouteAuthSchema,
    ...mergeFragments(policies, "routeFields", core({ ...coreRouteFields, auth: true })),
  });
  const defaultsFields = mergeFragments(policies, "defaultsFields");
  const defaults = Object.keys(defaultsFields).length === 0 ? {} : {
    defaults: z.strictObject(defaultsFields).default({})
      .describe(`Table-wide defaults of route fields (${Object.keys(defaultsFields).join(", ")}); a route's own value wins.`),
  };
  return z.strictObject({
    $schema: z.string().optional(),
    origins: z.record(z.string().regex(ORIGIN_NAME, "origin names are letters, digits, _ and -"), OriginSchema)
      .describe("Named origin backends."),
    routes: z.array(RouteSchema).describe("Routes, matched by host, method and path (see docs/routes.md)."),
    ...mergeFragments(policies, "tableFields", core({ $schema: true, origins: true, routes: true, admin: true, defaults: true })),
    ...defaults,
    admin: AdminSchema,
    serverTiming: ServerTimingSchema,
    logging: LoggingSchema,
    // `when` runs the cross-field checks even when a field failed, so one run lists every problem.
  }).check(z.superRefine((table, ctx) => checkTable(table, ctx, policies), { when: () => true }));
}

/**
 * Rules between fields. Runs even when some fields failed their own checks (the value may then be
 * partly raw input), so it reads every field defensively.
 */
function checkTable(table: unknown, ctx: z.RefinementCtx, policies: readonly AnyPolicy[]): void {
  if (!isObject(table) || !Array.isArray(table.routes)) return;
  const origins = isObject(table.origins) ? table.origins : {};
  const routes = table.routes as unknown[];
  // The fields that let a route go without an origin (a room, a static answer, a redirect).
  const answerFields = policies.filter((p) => p.answers).map((p) => Object.keys(p.routeFields ?? {})[0]).filter((f) => f !== undefined);
  const answering = answerFields.length === 0 ? "" : ` (or ${answerFields.length === 1 ? "a " : "one of: "}${answerFields.join(", ")})`;
  const ids = new Map<string, number>();
  const shapes = new Map<string, number>();
  routes.forEach((route, i) => {
    if (!isObject(route)) return;
    const at = (...path: (string | number)[]) => ["routes", i, ...path];
    const issue = (message: string, ...path: (string | number)[]) => ctx.addIssue({ code: "custom", path: at(...path), message });
    const id = str(route.id), origin = str(route.origin), path = str(route.path);
    const rewrite = str(route.rewrite), stripPrefix = str(route.stripPrefix);

    if (id !== undefined) {
      const first = ids.get(id);
      if (first !== undefined) issue(`duplicate route id "${id}" (also routes[${first}])`, "id");
      else ids.set(id, i);
    }
    if (origin !== undefined && !Object.hasOwn(origins, origin)) issue(`unknown origin "${origin}"`, "origin");
    const check: CheckContext = { table, route, index: i, issue };
    for (const policy of policies) policy.checkRoute?.(check);
    const answeredBy = policies.find((p) => p.answers?.(route));
    if (answeredBy === undefined && route.origin === undefined) issue(`required: the origin to forward to${answering}`, "origin");
    if (route.timeoutMs !== undefined && route.origin === undefined) issue("a route without an origin has no origin timeout to override", "timeoutMs");
    if (path === undefined || pathPatternProblems(path).length > 0) return;
    const adminPrefix = isObject(table.admin) ? (str(table.admin.pathPrefix) ?? "/_gateway") : undefined;
    if (adminPrefix && (path + "/").startsWith(adminPrefix + "/")) issue(`is under the admin prefix "${adminPrefix}"`, "path");

    if (rewrite !== undefined && stripPrefix !== undefined) issue("use rewrite or stripPrefix, not both", "stripPrefix");
    if (rewrite !== undefined) {
      const params = new Set(path.split("/").filter((s) => s.startsWith(":")));
      for (const segment of rewrite.split("/")) {
        if (segment.startsWith(":") && !params.has(segment)) issue(`parameter "${segment}" is not in the path`, "rewrite");
        if (segment === "*" && !path.endsWith("/*")) issue(`"*" needs a path that ends with *`, "rewrite");
      }
    }
    if (stripPrefix !== undefined) {
      if (pathPatternProblems(stripPrefix).length > 0 || stripPrefix === "/" || /[:*]/.test(stripPrefix))
        issue("must be a static path like /v1", "stripPrefix");
      else if (!(path + "/").startsWith(stripPrefix + "/"))
        issue(`path "${path}" does not start with "${stripPrefix}"`, "stripPrefix");
    }

    // Two routes that can match the same request on the same host pattern are ambiguous.
    const host = (str(route.host) ?? "").toLowerCase();
    const shape = path.replace(/\/:[^/]+/g, "/:");
    const methods = Array.isArray(route.methods) ? (route.methods as unknown[]).filter((m): m is string => typeof m === "string") : ["*"];
    for (const method of new Set(methods)) {
      for (const other of method === "*" ? ["*", ...HTTP_METHODS] : ["*", method]) {
        const first = shapes.get(`${host} ${shape} ${other}`);
        if (first !== undefined && first !== i) {
          issue(`duplicates routes[${first}] ("${str((routes[first] as Loose).id)}"): same host, path and method`, "path");
          return;
        }
      }
      shapes.set(`${host} ${shape} ${method}`, i);
    }
  });
}
