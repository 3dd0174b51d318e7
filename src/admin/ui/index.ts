/**
 * The console, served under the admin prefix:
 *
 *   GET <prefix>/ui              the page (a shell that loads the two assets below)
 *   GET <prefix>/ui/console.js   the browser code (src/admin/ui/client/, built by tools/console.ts)
 *   GET <prefix>/ui/console.css  its style sheet
 *   GET <prefix>/ui/favicon.svg  its icon
 *
 * These are public: the page is the sign-in form, and the assets hold no data. Everything the page
 * shows comes from the admin API, which it calls with the token as `Authorization: Bearer`. They are
 * mounted before the admin API's token check (src/admin/index.ts), and like the API they answer 404
 * while the admin token secret is unset.
 *
 * The assets are strings in the Worker bundle (the generated module `@edge-gateway/console`, which
 * the Worker entry imports and hands over, so Node tooling that loads the app never needs it):
 * nothing is fetched from anywhere else. The Content Security Policy admits only this origin's
 * script, style and API (no inline script or style, no framing), with Hono's secure headers.
 */
import { Hono, type Context } from "hono";
import { etag } from "hono/etag";
import { html } from "hono/html";
import { secureHeaders } from "hono/secure-headers";
import type { SecretRef } from "../../config/common.ts";
import type { GatewayEnv } from "../../context.ts";
import { coreErrors } from "../../errors.ts";

/** The page's policy: this origin only, nothing inline, never in a frame. */
export const CONSOLE_CSP = {
  defaultSrc: ["'none'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  connectSrc: ["'self'"],
  imgSrc: ["'self'"],
  fontSrc: ["'self'"],
  manifestSrc: ["'self'"],
  baseUri: ["'none'"],
  formAction: ["'none'"],
  frameAncestors: ["'none'"],
  objectSrc: ["'none'"],
};

/** The tab's icon; served here so the browser does not ask the gateway's routes for /favicon.ico. */
const FAVICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#24292f"/><path d="M4 4h8v2H6v1h5v2H6v1h6v2H4z" fill="#fff"/></svg>`;

/** The console's built assets (tools/console.ts): each with a content hash for its ETag. */
export interface ConsoleAssets {
  script: string;
  scriptHash: string;
  style: string;
  styleHash: string;
}

export function createConsoleUi(prefix: string, admin: { token: SecretRef }, assets: ConsoleAssets) {
  const { script, scriptHash, style, styleHash } = assets;
  const ui = new Hono<GatewayEnv>();
  const page = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="gateway-admin" content="${prefix}">
<meta name="referrer" content="no-referrer">
<title>Edge Gateway console</title>
<link rel="icon" href="${prefix}/ui/favicon.svg">
<link rel="stylesheet" href="${prefix}/ui/console.css?v=${styleHash}">
<script type="module" src="${prefix}/ui/console.js?v=${scriptHash}"></script>
</head>
<body>
<div id="console"><noscript>The console needs JavaScript.</noscript></div>
</body>
</html>
`.toString();

  ui.use(async function consoleEnabled(c, next) {
    const token = c.env?.[admin.token.env];
    if (typeof token !== "string" || token.length === 0) throw coreErrors.not_found("No route matches this request.");
    await next();
  });
  ui.use(secureHeaders({
    contentSecurityPolicy: CONSOLE_CSP,
    crossOriginResourcePolicy: "same-origin",
    crossOriginOpenerPolicy: "same-origin",
    referrerPolicy: "no-referrer",
    xFrameOptions: "DENY",
    permissionsPolicy: { camera: [], microphone: [], geolocation: [], payment: [], usb: [] },
  }));
  ui.use(etag());

  const asset = (body: string, type: string, hash: string) => (c: Context<GatewayEnv>) => c.body(body, 200, {
    "content-type": type,
    // Revalidated on each load (the ETag makes that a 304): a new deployment is picked up at once.
    "cache-control": "no-cache",
    etag: `"${hash}"`,
  });
  ui.get("/", async (c) => c.html(await page, 200, { "cache-control": "no-store" }));
  ui.get("/index.html", (c) => c.redirect(`${prefix}/ui`, 308));
  ui.get("/console.js", asset(script, "text/javascript; charset=utf-8", scriptHash));
  ui.get("/console.css", asset(style, "text/css; charset=utf-8", styleHash));
  ui.get("/favicon.svg", asset(FAVICON, "image/svg+xml", "favicon-1"));
  ui.all("*", () => { throw coreErrors.not_found("No console page here."); });
  return ui;
}
