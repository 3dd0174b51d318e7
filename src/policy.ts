/**
 * What a policy is. A policy is one folder under src/policies/ that exports one definition:
 * - the config it owns: route fields, members of a route's `auth` object, table-wide fields and
 *   members of the table's `defaults` object (table-wide defaults of its route fields), each
 *   a zod fragment (src/config/table.ts merges them into the one route-table schema, from which the
 *   runtime validation, the types, routes.schema.json and the docs' option tables all come);
 * - its cross-field checks, which run over the raw table even when a field failed, so one run of
 *   `npm run check` lists every problem;
 * - its error codes (declared with `defineErrors`, which puts them in the one catalogue);
 * - a factory that validates its options once, at startup, and returns Hono middleware `(c, next)`
 *   for a route that uses it, or `undefined` for a route that does not (which then pays nothing).
 *
 * A middleware refuses by throwing a GatewayError, answers by returning a Response without calling
 * `next()`, and acts on the response after `await next()` (c.res is then the origin's answer or the
 * gateway's error envelope: `next()` never throws).
 *
 * src/policies/index.ts lists the definitions in pipeline order: the only place that names them all.
 */
import type { z } from "zod";
import type { ErrorFactories, ErrorSpec } from "./errors.ts";
import type { GatewayMiddleware } from "./context.ts";
import type { CoreRoute, CoreTable, Loose } from "./config/core.ts";

export type Shape = Record<string, z.ZodType>;
type Out<S extends Shape> = z.output<z.ZodObject<S>>;

/** A route as a policy sees it: the core fields, its own fields, and its own members of `auth`. */
export type PolicyRoute<R extends Shape, A extends Shape> = Omit<CoreRoute, "auth"> & Out<R> & {
  auth: "none" | (Out<A> & Record<string, unknown>);
};
/** The table as a policy sees it: the core fields, its own table-wide fields and its own members of `defaults`. */
export type PolicyTable<T extends Shape, D extends Shape = {}> = Omit<CoreTable, "routes"> & Out<T> & {
  routes: readonly (CoreRoute & Record<string, unknown>)[];
  /** Present when some policy declares `defaultsFields` (the schema then fills it with `{}`). */
  defaults?: Out<D> & Record<string, unknown>;
};

export type { Loose };

export interface CheckContext {
  /** The whole raw table. */
  table: Loose;
  /** The raw route, its index and id (when it has a string id). */
  route: Loose;
  index: number;
  /** Reports a problem at `routes[index].<path...>`. */
  issue(message: string, ...path: (string | number)[]): void;
}

/** A Worker secret the table makes a policy read, and what happens while it is not set. */
export interface RequiredSecret {
  /** The secret's name (`{ "env": NAME }` in the table). */
  name: string;
  /** What it is, to start the message: "JWT secret" gives "JWT secret NAME is not set: ...". */
  kind?: string;
  /** What does not work while it is not set: "routes a, b answer 503". */
  consequence: string;
}

export interface PolicyDefinition<R extends Shape = Shape, A extends Shape = Shape, T extends Shape = Shape, D extends Shape = Shape> {
  /** The policy's name (folder name), used in docs and the console's pipeline view. */
  name: string;
  /** One sentence for docs: what the policy does. */
  summary: string;
  /** Route fields this policy owns (`{ rateLimit: RateLimitSchema }`). */
  routeFields?: R;
  /** Members of a route's `auth` object this policy owns (`{ apiKey: z.boolean() }`). */
  authFields?: A;
  /** Table-wide fields this policy owns (`{ authorizers: ..., }`). */
  tableFields?: T;
  /**
   * Members of the table's one `defaults` object this policy owns: table-wide defaults of its route
   * fields (`{ cors: CorsSchema.optional() }` reads as `defaults.cors`). Several policies share the
   * object, each with its own members; a route's own field wins over the default.
   */
  defaultsFields?: D;
  /** True when the route's `auth` object names a way to authenticate that this policy provides. */
  authenticates?(auth: Loose): boolean;
  /** True when this policy answers the route's requests itself, so the route needs no origin. */
  answers?(route: Loose): boolean;
  /** Cross-field checks for one route (references to tables, fields that need each other). */
  checkRoute?(check: CheckContext): void;
  /**
   * The Server-Timing name this policy's own time is reported under (`auth`, `limit`) on routes
   * with `serverTiming` on; policies sharing a name add up. Without it the policy's time is only
   * part of `gw`. Costs nothing on routes without Server-Timing (src/router/compile.ts).
   */
  timing?: string;
  /** The error codes the middleware can throw (from defineErrors), for the docs. */
  errors?: ErrorFactories<Record<string, ErrorSpec>>;
  /**
   * Request headers this policy writes for the origin anywhere in the table (identity from a
   * verified token or key). They are gateway-owned on every route of the table: a client's copy is
   * always removed, on routes without this policy too.
   */
  originHeaders?(table: PolicyTable<T, D>): Iterable<string>;
  /**
   * Worker secrets this table makes the policy read, each with what breaks while it is not set. The
   * core checks them on an isolate's first request and reports each missing one once, by name.
   */
  secrets?(table: PolicyTable<T, D>): RequiredSecret[];
  /** Client credentials that never reach the origin on this route: header names and query parameters. */
  withheld?(route: PolicyRoute<R, A>, table: PolicyTable<T, D>): { headers?: string[]; query?: string[] };
  /** The route's middleware, or undefined when the route does not use this policy. Throws TypeError on bad options. */
  create(route: PolicyRoute<R, A>, table: PolicyTable<T, D>): GatewayMiddleware | undefined;
  /**
   * Table-wide middleware around routing, for every request of the gateway's routes (not the admin
   * API): it runs before the match, so it also sees the 400, 404 and 405 the core answers (CORS
   * headers on every error, a preflight answered before a 405). `routes` finds the route a request
   * would match with another method. Undefined when the table does not use it.
   */
  wrap?(table: PolicyTable<T, D>, routes: RouteLookup): GatewayMiddleware | undefined;
}

/** A compiled route as table-wide middleware sees it. */
export interface MatchedRoute {
  id: string;
  route: CoreRoute & Loose;
}

export interface RouteLookup {
  /** The route `url` matches for `method` (its path canonicalized as the gateway does), or undefined. */
  find(url: URL, method: string): MatchedRoute | undefined;
}

/** Identity helper that keeps a definition's fragments typed in its `create` and checks. */
export function definePolicy<R extends Shape = {}, A extends Shape = {}, T extends Shape = {}, D extends Shape = {}>(definition: PolicyDefinition<R, A, T, D>): PolicyDefinition<R, A, T, D> {
  return definition;
}

/** A definition of any policy, as the list holds them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyPolicy = PolicyDefinition<any, any, any, any>;
