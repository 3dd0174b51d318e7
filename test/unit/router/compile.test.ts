/** A route's chain: policies in order around forwarding, Hono's onion model, errors as envelopes. */
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import type { GatewayEnv, GatewayMiddleware } from "../../../src/context.ts";
import { coreErrors } from "../../../src/errors.ts";
import { composeChain } from "../../../src/router/compile.ts";

function appWith(middleware: GatewayMiddleware[], terminal: () => Promise<Response>) {
  const run = composeChain(middleware, terminal);
  const app = new Hono<GatewayEnv>();
  app.use(async (c, next) => { c.set("requestId", "req-1"); await next(); });
  app.all("*", (c) => run(c));
  return app;
}

describe("a route's chain", () => {
  it("runs the policies in order around the terminal and lets each act on the response", async () => {
    const seen: string[] = [];
    const tag = (name: string): GatewayMiddleware => async (c, next) => {
      seen.push(`${name} in`);
      await next();
      seen.push(`${name} out ${c.res.status}`);
      c.res.headers.append("x-chain", name);
    };
    const response = await appWith([tag("a"), tag("b")], async () => { seen.push("origin"); return new Response("ok", { status: 201 }); }).request("/x");
    expect(seen).toEqual(["a in", "b in", "origin", "b out 201", "a out 201"]);
    expect(response.headers.get("x-chain")).toBe("b, a");
    expect(await response.text()).toBe("ok");
  });

  it("lets a policy answer without the origin", async () => {
    let reached = false;
    const response = await appWith([async () => new Response("answered", { status: 203 })], async () => { reached = true; return new Response("origin"); }).request("/x");
    expect([response.status, await response.text(), reached]).toEqual([203, "answered", false]);
  });

  it("turns a refusal deeper in into the envelope an outer policy sees, without the origin's headers", async () => {
    let outerSaw = 0;
    const outer: GatewayMiddleware = async (c, next) => { await next(); outerSaw = c.res.status; };
    const inner: GatewayMiddleware = async (c, next) => { await next(); throw coreErrors.bad_request("Refused after the origin answered."); };
    const response = await appWith([outer, inner], async () => new Response("secret", { headers: { "x-origin-only": "1" } })).request("/x");
    expect(outerSaw).toBe(400);
    expect(response.status).toBe(400);
    expect(response.headers.get("x-origin-only")).toBeNull();
    expect(await response.json()).toEqual({ error: { code: "bad_request", message: "Refused after the origin answered.", requestId: "req-1" } });
  });

  it("is the terminal itself when the route uses no policy (nothing added per request)", () => {
    const terminal = async () => new Response("ok");
    expect(composeChain([], terminal)).toBe(terminal);
  });
});
