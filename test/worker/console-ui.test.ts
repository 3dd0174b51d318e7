/**
 * The console's page and assets under <admin prefix>/ui: public (the page is the sign-in form),
 * off with the admin API, served from the Worker bundle under a strict Content Security Policy.
 */
import * as consoleAssets from "@edge-gateway/console";
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createGateway } from "../../src/app.ts";
import { loadRouteTable } from "../../src/config/index.ts";
import { POLICIES } from "../../src/policies/index.ts";
import { gatewayFor, route } from "../support/worker-gateway.ts";

const table = { admin: { pathPrefix: "/_ops", token: { env: "ADMIN_TOKEN" } }, routes: [route("all", "/*")] };
const call = gatewayFor(table, { console: consoleAssets });

describe("the console page", () => {
  it("is served without the admin token, names the admin prefix and loads only its own assets", async () => {
    const response = await call("/_ops/ui");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const page = await response.text();
    expect(page).toContain(`<meta name="gateway-admin" content="/_ops">`);
    const sources = [...page.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(sources).toEqual(["/_ops/ui/favicon.svg", expect.stringMatching(/^\/_ops\/ui\/console\.css\?v=[\w-]+$/), expect.stringMatching(/^\/_ops\/ui\/console\.js\?v=[\w-]+$/)]);
    // No inline script or style: every <script> has a src, and there is no style attribute or element.
    expect(page.match(/<script\b[^>]*>/g)).toEqual([expect.stringContaining(" src=")]);
    expect(page).not.toMatch(/<style|\sstyle=|\son\w+=/i);
  });

  it("answers /ui/ and /ui/index.html with the page's one address", async () => {
    for (const path of ["/_ops/ui/", "/_ops/ui/index.html"]) {
      const response = await call(path, { redirect: "manual" });
      expect([path, response.status, response.headers.get("location")]).toEqual([path, 308, "/_ops/ui"]);
    }
  });

  it("carries a strict CSP and the usual secure headers", async () => {
    const response = await call("/_ops/ui");
    await response.body?.cancel();
    const csp = response.headers.get("content-security-policy") ?? "";
    const directives = Object.fromEntries(csp.split(";").map((d) => d.trim()).filter(Boolean).map((d) => [d.split(" ")[0], d.split(" ").slice(1).join(" ")]));
    expect(directives).toMatchObject({
      "default-src": "'none'", "script-src": "'self'", "style-src": "'self'", "connect-src": "'self'",
      "frame-ancestors": "'none'", "base-uri": "'none'", "form-action": "'none'", "object-src": "'none'",
    });
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*|https?:/);
    expect(response.headers.get("x-frame-options")).toBe("DENY");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("referrer-policy")).toBe("no-referrer");
    expect(response.headers.get("cross-origin-opener-policy")).toBe("same-origin");
    expect(response.headers.get("cross-origin-resource-policy")).toBe("same-origin");
    expect(response.headers.get("set-cookie")).toBeNull();
  });

  it("serves the script and style sheet from the bundle, revalidated by ETag", async () => {
    for (const [path, type] of [["/_ops/ui/console.js", "text/javascript"], ["/_ops/ui/console.css", "text/css"]] as const) {
      const response = await call(path);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toContain(type);
      expect(response.headers.get("cache-control")).toBe("no-cache");
      expect(response.headers.get("content-security-policy")).toContain("script-src 'self'");
      const etag = response.headers.get("etag")!;
      expect(etag).toMatch(/^"[\w-]+"$/);
      expect((await response.text()).length).toBeGreaterThan(500);
      const again = await call(path, { headers: { "if-none-match": etag } });
      expect(again.status).toBe(304);
    }
  });

  it("keeps everything else under the prefix behind the token, and unknown console paths are 404", async () => {
    expect((await call("/_ops/keys")).status).toBe(401);
    expect((await call("/_ops/plans")).status).toBe(401);
    expect((await call("/_ops/ui/../keys")).status).toBe(401); // the URL parser resolves it to /_ops/keys
    const unknown = await call("/_ops/ui/secrets.json");
    expect(unknown.status).toBe(404);
    await unknown.body?.cancel();
  });

  it("is absent from a gateway built without the console's assets", async () => {
    const bare = gatewayFor(table);
    const response = await bare("/_ops/ui");
    expect(response.status).toBe(401); // no console: the path is just another admin path, behind the token
    await response.body?.cancel();
  });

  it("is off, like the admin API, while the admin token secret is unset", async () => {
    const app = createGateway(loadRouteTable({ ...table, origins: { echo: { url: env.ECHO_ORIGIN } } }), { policies: POLICIES, console: consoleAssets });
    for (const path of ["/_ops/ui", "/_ops/ui/console.js"]) {
      const ctx = createExecutionContext();
      const response = await app.fetch(new Request(`http://gateway.test${path}`), { ...env, ADMIN_TOKEN: undefined }, ctx);
      await waitOnExecutionContext(ctx);
      expect(response.status, path).toBe(404);
      await response.body?.cancel();
    }
  });
});
