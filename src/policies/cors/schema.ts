/**
 * The `cors` object (on a route, or table-wide as `defaults.cors`) and the rules for what an
 * allowed origin may look like. Everything a browser would silently ignore or treat literally is a
 * config error here, so a table that validates does what it says.
 */
import { z } from "zod";
import { HEADER_NAME } from "../../config/common.ts";
import { HTTP_METHODS } from "../../config/core.ts";

// A host name of letters, digits and hyphens in dot-separated labels (what browsers serialize).
const HOST = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;
const PORT = /^:\d{1,5}$/;

/** An allowed origin as compiled: an exact serialized origin, or a scheme + host suffix (+ port). */
export type OriginRule = { exact: string } | { scheme: string; suffix: string } | { any: true };

/**
 * Reads one `allowOrigins` entry: `*`, an exact origin (`https://app.example.com`, normalized to
 * what a browser sends: lower case, no default port), or a pattern `https://*.example.com[:port]`
 * that allows every subdomain of a host suffix of two labels or more (`suffix` keeps the port, so
 * an origin on another port does not match). Returns the problem as text for a config error.
 */
export function readOrigin(value: string): OriginRule | string {
  if (value === "*") return { any: true };
  if (value === "null")
    return `"null" cannot be allowed: sandboxed frames, data: and file: pages all send it, so any site can produce it`;
  const parts = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/.exec(value);
  if (!parts) return `must be an origin such as https://app.example.com (scheme://host[:port])`;
  const [, scheme, authority, rest] = parts as unknown as [string, string, string, string];
  if (rest !== "") return `an origin has no path, query or fragment (not even a trailing /): write ${scheme}://${authority}`;
  const lowerScheme = scheme.toLowerCase();
  if (lowerScheme !== "http" && lowerScheme !== "https") return "must use http or https";
  if (authority.includes("@")) return "an origin has no user name or password";
  if (authority.includes("*")) {
    const pattern = /^\*\.([^:]+)(:\d{1,5})?$/.exec(authority.toLowerCase());
    const suffix = pattern?.[1];
    if (!pattern || suffix === undefined || !HOST.test(suffix))
      return `a pattern allows the subdomains of one host suffix: scheme://*.example.com[:port] ("*." once, at the start of the host)`;
    if (!suffix.includes("."))
      return `the host suffix after "*." needs two labels or more (https://*.example.com), or the pattern would allow a whole top-level domain`;
    const port = pattern[2] ?? "";
    if (port !== "" && !PORT.test(port)) return "has an invalid port";
    return { scheme: lowerScheme, suffix: "." + suffix + defaultPortless(lowerScheme, port) };
  }
  let url: URL;
  try { url = new URL(value); } catch { return "must be an origin such as https://app.example.com"; }
  return { exact: url.origin };
}

/** `:443` on https and `:80` on http are never sent by browsers. */
function defaultPortless(scheme: string, port: string): string {
  return (scheme === "https" && port === ":443") || (scheme === "http" && port === ":80") ? "" : port;
}

const headerOrStar = z.string().refine((v) => v === "*" || HEADER_NAME.test(v), `must be an HTTP header name or "*"`)
  .transform((v) => v.toLowerCase());

export const CorsSchema = z.strictObject({
  allowOrigins: z.array(z.string()).min(1, "list at least one origin").superRefine((origins, ctx) => {
    origins.forEach((origin, i) => {
      const rule = readOrigin(origin);
      if (typeof rule === "string") ctx.addIssue({ code: "custom", path: [i], message: rule });
      else if ("any" in rule && origins.length > 1) ctx.addIssue({ code: "custom", path: [i], message: `"*" allows every origin; it must be the only entry` });
    });
  }).describe("Origins allowed to read responses: exact origins (https://app.example.com), patterns allowing every subdomain of a host (https://*.example.com), or \"*\" alone."),
  allowMethods: z.array(z.enum(HTTP_METHODS)).min(1).optional()
    .describe("Methods a preflight allows. Default: the route's methods (every method but OPTIONS when it lists none)."),
  allowHeaders: z.array(headerOrStar).optional()
    .describe("Request headers a preflight allows. Default: the headers the preflight asks for. \"*\" (without credentials) allows any but Authorization."),
  exposeHeaders: z.array(headerOrStar).optional()
    .describe("Response headers browser code may read beyond the CORS-safelisted ones. Default none."),
  allowCredentials: z.boolean().default(false)
    .describe("Let browsers send cookies and HTTP authentication and read the answer (Access-Control-Allow-Credentials). Default false."),
  maxAgeSec: z.number().int().min(0).max(86_400).optional()
    .describe("How long a browser may cache a preflight's answer, in seconds (Chromium caps it at 7200). Default: not sent (5 s in browsers)."),
}).superRefine((cors, ctx) => {
  if (!cors.allowCredentials) return;
  // With credentials the Fetch standard reads "*" literally, so it would silently allow nothing.
  if (cors.allowOrigins.includes("*"))
    ctx.addIssue({ code: "custom", path: ["allowOrigins"], message: `"*" cannot be used with allowCredentials: list the origins that may send credentials` });
  for (const key of ["allowHeaders", "exposeHeaders"] as const) {
    const i = cors[key]?.indexOf("*") ?? -1;
    if (i >= 0) ctx.addIssue({ code: "custom", path: [key, i], message: `"*" is read literally when allowCredentials is true: list the header names` });
  }
});
export type CorsConfig = z.output<typeof CorsSchema>;
