/**
 * Builds a gateway from a test's own route table and calls it inside workerd, the way the Worker
 * entry does. The table gets an `echo` origin: the real Node echo server from globalSetup.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { createGateway, type GatewayOptions } from "../../src/app.ts";
import { loadRouteTable } from "../../src/config/index.ts";
import type { Echo } from "./echo-types.ts";

type Table = { origins?: Record<string, unknown>; routes: Record<string, unknown>[]; [key: string]: unknown };

export interface CallInit extends RequestInit { host?: string; clientIp?: string }

export function gatewayFor(table: Table, options?: GatewayOptions) {
  const app = createGateway(loadRouteTable({ ...table, origins: { echo: { url: env.ECHO_ORIGIN }, ...table.origins } }), options);
  return async function call(path: string, init: CallInit = {}): Promise<Response> {
    const { host = "gateway.test", clientIp = "203.0.113.7", ...rest } = init;
    const request = new Request(`http://${host}${path}`, rest);
    if (clientIp) request.headers.set("cf-connecting-ip", clientIp);
    const ctx = createExecutionContext();
    const response = await app.fetch(request, env, ctx);
    await waitOnExecutionContext(ctx);
    return response;
  };
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
