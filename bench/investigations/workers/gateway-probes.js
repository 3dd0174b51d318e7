// Bench Worker for the pass-through cost breakdown (investigations/pass-through-breakdown.ts): the
// gateway's forwarding path rebuilt step by step from its own modules, one step per service
// (text binding PROBE), so the throughput lost at each step shows where the gateway's time goes.
// The real gateway (createGateway) runs beside these as its own bundle (tools/gateway.ts).
// Plain JS: it imports src/router/compile.ts and src/upstream, which tsconfig.node.json cannot
// type-check (see bench/lib/match-bench.ts); wrangler bundles it with the .ts it imports.
//
//   fetch          fetch(origin + path, { method, headers: request.headers, body }) (= minimal proxy)
//   fetch+timeout  + AbortController and setTimeout/clearTimeout, as src/upstream/forward.ts does
//   fetch+signal   + AbortSignal.timeout() instead (not a drop-in fix: it would also cut long bodies)
//   fetch+wait     + Promise.race with scheduler.wait(timeout) (a native timer; the fetch is not aborted,
//                  the request context cancels it; the pending wait ends with the context)
//   fetch+request  fetch(new Request(url, { headers: new Headers(request.headers), ... })): request copies
//   fetch+rewrap   fetch, then new Response(res.body, { status, headers: new Headers(res.headers) })
//   hono-proxy     hono/proxy (copies headers, rebuilds the Request and the Response), no timeout
//   forward        src/upstream forwardToOrigin (hono/proxy + timeout) with the request headers as-is
//   pieces         canonicalize + match + originRequestHeaders + forwardToOrigin + applyResponseEdits,
//                  the gateway handler's work without Hono
//   fetch+rewrap2  fetch, then new Response(res.body, res) (the other way to get mutable headers)
//   fetch+log      plain fetch + one JSON log line per request as src/log.ts writes it
//   hono+fetch     a bare Hono app (`app.all("*")`) around plain fetch: the framework alone
//   hono+requestId + hono/request-id middleware, whose c.header() makes Hono rebuild the handler's
//                  Response once more (Context `set res`)
//   lean           what the issue requires done directly: originRequestHeaders, fetch with a
//                  timeout, one Response rebuild to set x-request-id; no Hono, no hono/proxy
//
// Bindings: PROBE, ORIGIN ("http://127.0.0.1:PORT"), TABLE (JSON route table).
import { Hono } from "hono";
import { proxy } from "hono/proxy";
import { loadRouteTable } from "../../../src/config/index.ts";
import { canonicalizePath, compileRouteTable } from "../../../src/router/index.ts";
import { requestId } from "hono/request-id";
import { logRequest } from "../../../src/log.ts";
import { applyResponseEdits, forwardToOrigin, originRequestHeaders } from "../../../src/upstream/index.ts";

function build(env) {
  const { matcher, routes } = compileRouteTable(loadRouteTable(env.TABLE));
  const target = (request) => {
    const url = new URL(request.url);
    return env.ORIGIN + url.pathname + url.search;
  };
  const init = (request) => ({ method: request.method, headers: request.headers, body: request.body, redirect: "manual" });
  switch (env.PROBE) {
    case "fetch":
      return (request) => fetch(target(request), init(request));
    case "fetch+timeout":
      return async (request) => {
        const controller = new AbortController();
        const timer = setTimeout(() => controller.abort(), 10_000);
        try {
          return await fetch(target(request), { ...init(request), signal: controller.signal });
        } finally {
          clearTimeout(timer);
        }
      };
    case "fetch+signal":
      return (request) => fetch(target(request), { ...init(request), signal: AbortSignal.timeout(10_000) });
    case "fetch+wait":
      return (request) => {
        const timeout = scheduler.wait(10_000).then(() => {
          throw new Error("origin timeout");
        });
        timeout.catch(() => {});
        return Promise.race([fetch(target(request), init(request)), timeout]);
      };
    case "fetch+request":
      return (request) => fetch(new Request(target(request), { ...init(request), headers: new Headers(request.headers) }));
    case "fetch+rewrap":
      return async (request) => {
        const res = await fetch(target(request), init(request));
        return new Response(res.body, { status: res.status, statusText: res.statusText, headers: new Headers(res.headers) });
      };
    case "fetch+rewrap2":
      return async (request) => {
        const res = await fetch(target(request), init(request));
        return new Response(res.body, res);
      };
    case "fetch+log":
      return async (request) => {
        const started = Date.now();
        const res = await fetch(target(request), init(request));
        logRequest({
          time: new Date(started).toISOString(), requestId: crypto.randomUUID(), routeId: "pass", method: request.method,
          path: new URL(request.url).pathname, status: res.status, origin: "origin", originMs: Date.now() - started, totalMs: Date.now() - started,
        });
        return res;
      };
    case "hono+requestId": {
      const app = new Hono();
      app.use(requestId());
      app.all("*", (c) => fetch(target(c.req.raw), init(c.req.raw)));
      return (request, e, ctx) => app.fetch(request, e, ctx);
    }
    case "lean":
      return async (request) => {
        const url = new URL(request.url);
        const canonical = canonicalizePath(url.pathname);
        if (!canonical.ok) return new Response("bad path", { status: 400 });
        const match = matcher.match(url.hostname, request.method, canonical.path);
        if (match.kind !== "match") return new Response("no route", { status: 404 });
        const route = match.value;
        const requestId = crypto.randomUUID();
        const headers = originRequestHeaders(request.headers, {
          clientIp: request.headers.get("cf-connecting-ip"), host: url.host, proto: "http", requestId,
        }, route.requestEdits);
        const controller = new AbortController();
        const timer = setTimeout(() => controller.abort(), route.origin.timeoutMs);
        let res;
        try {
          res = await fetch(route.origin.base + route.buildPath(canonical.path, match.params, match.rest) + url.search, {
            method: request.method, headers, body: request.body, redirect: "manual", signal: controller.signal,
          });
        } finally {
          clearTimeout(timer);
        }
        const response = new Response(res.body, res);
        applyResponseEdits(response.headers, route.responseEdits, requestId);
        return response;
      };
    case "hono-proxy":
      return (request) => proxy(target(request), init(request));
    case "forward":
      return (request) => {
        const url = new URL(request.url);
        return forwardToOrigin(request, routes[0].origin, url.pathname + url.search, new Headers(request.headers));
      };
    case "pieces":
      return async (request) => {
        const url = new URL(request.url);
        const canonical = canonicalizePath(url.pathname);
        if (!canonical.ok) return new Response("bad path", { status: 400 });
        const match = matcher.match(url.hostname, request.method, canonical.path);
        if (match.kind !== "match") return new Response("no route", { status: 404 });
        const route = match.value;
        const requestId = crypto.randomUUID();
        const headers = originRequestHeaders(request.headers, {
          clientIp: request.headers.get("cf-connecting-ip"), host: url.host, proto: "http", requestId,
        }, route.requestEdits);
        const response = await forwardToOrigin(request, route.origin, route.buildPath(canonical.path, match.params, match.rest) + url.search, headers);
        applyResponseEdits(response.headers, route.responseEdits, requestId);
        return response;
      };
    case "hono+fetch": {
      const app = new Hono();
      app.all("*", (c) => fetch(target(c.req.raw), init(c.req.raw)));
      return (request, e, ctx) => app.fetch(request, e, ctx);
    }
    default:
      throw new Error(`unknown PROBE ${env.PROBE}`);
  }
}

// Built once per isolate, at the first request (bindings are not visible at module load).
let handler;

export default {
  fetch(request, env, ctx) {
    handler ??= build(env);
    return handler(request, env, ctx);
  },
};
