import { z } from "zod";

/** scheme://authority of an absolute `to`; the rest is where :params may go. */
export const ABSOLUTE_HEAD = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/;
/** A `:name` token in `to`: a path parameter's value goes there. */
export const PARAM_TOKEN = /:([A-Za-z_][A-Za-z0-9_]*)/g;
const VISIBLE = /^[\x21-\x7e]*$/;

/** The problem with a redirect target, or undefined. */
export function targetProblem(to: string): string | undefined {
  if (!VISIBLE.test(to)) return "must be visible ASCII without spaces (percent-encode the rest)";
  if (to.startsWith("/")) {
    if (to.startsWith("//") || to.startsWith("/\\")) return "a path must not start with // (browsers read it as another host): write an absolute URL";
    return undefined;
  }
  const head = ABSOLUTE_HEAD.exec(to)?.[0];
  if (head === undefined) return "must be an absolute http(s) URL or a path starting with /";
  const authority = head.slice(head.indexOf("//") + 2);
  if (authority.includes("@")) return "must not carry credentials";
  if (/:[A-Za-z_]/.test(authority))
    return "parameters may only go in the path, query or fragment, never in the host";
  let url: URL;
  try { url = new URL(to); } catch { return "must be an absolute http(s) URL or a path starting with /"; }
  if (url.protocol !== "http:" && url.protocol !== "https:") return "must use http or https";
  if (url.username || url.password) return "must not carry credentials";
  return undefined;
}

export const RedirectSchema = z.strictObject({
  to: z.string().superRefine((to, ctx) => {
    const problem = targetProblem(to);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  }).describe("Where to: an absolute http(s) URL or a path starting with /. :name is replaced by the path parameter, percent-encoded."),
  status: z.union([z.literal(301), z.literal(302), z.literal(307), z.literal(308)], { error: "must be 301, 302, 307 or 308" }).default(302)
    .describe("301 or 308 (permanent), 302 or 307 (temporary); 307 and 308 keep the method and body. Default 302."),
  preserveQuery: z.boolean().default(false).describe("Append the request's query string to the target. Default false."),
});
export type RedirectConfig = z.output<typeof RedirectSchema>;
