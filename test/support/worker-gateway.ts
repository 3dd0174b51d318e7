/**
 * The one way tests build a gateway: from a test's own route table, called inside workerd the way
 * the Worker entry does. The table gets an `echo` origin (the real Node echo server from
 * globalSetup); the policies are the real list unless a test passes its own (stand-ins made with
 * `testPolicy`), and extra bindings (the admin token) can be given.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { createGateway, type GatewayOptions } from "../../src/app.ts";
import { loadRouteTable } from "../../src/config/index.ts";
import type { GatewayMiddleware } from "../../src/context.ts";
import type { RequestRecorder } from "../../src/observe.ts";
import { POLICIES } from "../../src/policies/index.ts";
import type { AnyPolicy } from "../../src/policy.ts";
import type { Echo } from "./echo-types.ts";

type Table = { origins?: Record<string, unknown>; routes: Record<string, unknown>[]; [key: string]: unknown };

export interface CallInit extends RequestInit { host?: string; clientIp?: string }

export interface GatewayForOptions {
  /** The policy list, in order. Default: the real one (src/policies/index.ts). */
  policies?: readonly AnyPolicy[];
  /** Extra bindings: Worker secrets such as the admin token, or a stand-in for a Cloudflare-only binding. */
  bindings?: Record<string, unknown>;
  /** A metrics recorder (src/metrics/), as the Worker entry passes one. Default: none. */
  recorder?: RequestRecorder;
  /** Serve the console (its built assets, `@edge-gateway/console`) as the Worker entry does. */
  console?: GatewayOptions["console"];
}

export function gatewayFor(table: Table, options: GatewayForOptions = {}) {
  const app = createGateway(loadRouteTable({ ...table, origins: { echo: { url: env.ECHO_ORIGIN }, ...table.origins } }), { policies: options.policies ?? POLICIES, recorder: options.recorder, console: options.console });
  const bindings = options.bindings ? { ...env, ...options.bindings } : env;
  return async function call(path: string, init: CallInit = {}): Promise<Response> {
    const { host = "gateway.test", clientIp = "203.0.113.7", ...rest } = init;
    const request = new Request(`http://${host}${path}`, rest);
    if (clientIp) request.headers.set("cf-connecting-ip", clientIp);
    const ctx = createExecutionContext();
    const response = await app.fetch(request, bindings, ctx);
    await waitOnExecutionContext(ctx);
    return response;
  };
}

/** A stand-in policy that runs `middleware` on every route (tests of the core and of neighbours). */
export function testPolicy(middleware: GatewayMiddleware, name = "test"): AnyPolicy {
  return { name, summary: "A test's stand-in.", create: () => middleware };
}

/** The real policies with `extra` placed before the first policy named `before` (default: at the end). */
export function policiesWith(extra: AnyPolicy, before?: string): AnyPolicy[] {
  const at = before === undefined ? -1 : POLICIES.findIndex((p) => p.name === before);
  if (at < 0) return [...POLICIES, extra];
  return [...POLICIES.slice(0, at), extra, ...POLICIES.slice(at)];
}

export const route = (id: string, path: string, extra: Record<string, unknown> = {}) =>
  ({ id, path, origin: "echo", auth: "none", ...extra });

export async function echoOf(response: Response): Promise<Echo> {
  if (response.status !== 200) throw new Error(`expected the origin's echo, got ${response.status}: ${await response.text()}`);
  return (await response.json()) as Echo;
}

export async function errorOf(response: Response): Promise<{ code: string; message: string; requestId: string }> {
  const body = (await response.json()) as { error: { code: string; message: string; requestId: string } };
  return body.error;
}

/** Headers of an admin API call with the test admin token (the ADMIN_TOKEN binding). */
export const ADMIN_HEADERS = { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" };

/** Issues a key through the real admin API of `call`'s gateway; the key is shown once, here. */
export async function createKey(call: (path: string, init?: CallInit) => Promise<Response>, body: { plan: string; name?: string; owner?: string; scopes?: string[]; expiresAt?: string | null }): Promise<{ id: string; key: string }> {
  const response = await call("/_gateway/keys", { method: "POST", headers: ADMIN_HEADERS, body: JSON.stringify({ name: "test key", owner: "tests", ...body }) });
  if (response.status !== 201) throw new Error(`creating a key answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as { id: string; key: string };
}
