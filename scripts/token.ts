/**
 * `npm run --silent token -- --sub alice --scope users:read [--claim name=value] [--expires 1h]
 *                              [--authorizer NAME] [--routes FILE]`
 *
 * Mints a test JWT for a local HS256 authorizer and prints only the token, so it can go straight
 * into a header: `curl -H "Authorization: Bearer $(npm run --silent token -- --sub alice)" ...`.
 * Issuer and audience come from the authorizer in the table (default routes.json, or
 * $GATEWAY_ROUTES), and the key from the Worker secret it names, read where `wrangler dev` reads it:
 * the environment, then `.dev.vars`. For local testing only: a production secret never belongs in
 * .dev.vars, and production tokens come from your identity provider.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseEnv } from "node:util";
import { SignJWT } from "jose";
import type { JwtAuthorizerConfig } from "../src/policies/jwt/schema.ts";
import { exitOnError, parseCommandLine, UsageError } from "../tools/cli.ts";
import { checkFile } from "./check.ts";

export interface TokenArgs {
  sub: string | undefined;
  scopes: string[];
  claims: Record<string, unknown>;
  expires: string;
  authorizer: string | undefined;
  routes: string;
}

export const TOKEN_USAGE = `Usage: npm run --silent token -- [options]
  --sub SUBJECT        the token's subject (sub)
  --scope "A B"        scopes, space-separated; repeatable
  --claim NAME=VALUE   another claim; VALUE is read as JSON when it parses, else as text; repeatable
  --expires TIME       lifetime, as jose reads it: 1h, 30m, 2d (default 1h)
  --authorizer NAME    the HS256/384/512 authorizer to mint for (needed when the table has several)
  --routes FILE        the route table (default $GATEWAY_ROUTES, then routes.json)`;

export function parseTokenArgs(argv: string[], env: Readonly<Record<string, string | undefined>> = process.env): TokenArgs {
  const { values } = parseCommandLine(TOKEN_USAGE, {
    args: argv,
    strict: true,
    options: {
      sub: { type: "string" },
      scope: { type: "string", multiple: true, default: [] },
      claim: { type: "string", multiple: true, default: [] },
      expires: { type: "string", default: "1h" },
      authorizer: { type: "string" },
      routes: { type: "string", default: env.GATEWAY_ROUTES ?? "routes.json" },
    },
  });
  const claims: Record<string, unknown> = {};
  for (const pair of values.claim) {
    const at = pair.indexOf("=");
    if (at <= 0) throw new UsageError(`--claim takes name=value, not ${JSON.stringify(pair)}`, TOKEN_USAGE);
    const text = pair.slice(at + 1);
    let claim: unknown = text;
    try { claim = JSON.parse(text); } catch { /* a plain string */ }
    claims[pair.slice(0, at)] = claim;
  }
  return {
    sub: values.sub,
    scopes: values.scope.flatMap((list) => list.split(" ").filter(Boolean)),
    claims,
    expires: values.expires,
    authorizer: values.authorizer,
    routes: values.routes,
  };
}

/** The secret's text: the environment first, then .dev.vars (what wrangler dev gives the Worker). */
function localSecret(name: string): string | undefined {
  if (process.env[name]) return process.env[name];
  if (!existsSync(".dev.vars")) return undefined;
  return parseEnv(readFileSync(".dev.vars", "utf8"))[name];
}

function keyBytes(text: string, encoding: "utf8" | "base64" | "base64url" | undefined): Uint8Array {
  if (encoding === "base64" || encoding === "base64url") return Uint8Array.from(Buffer.from(text.trim(), encoding));
  return new TextEncoder().encode(text);
}

export async function mintToken(args: TokenArgs): Promise<string> {
  const checked = checkFile(resolve(args.routes));
  if (!checked.ok) throw new Error(`${args.routes} is invalid:\n  ${checked.problems.join("\n  ")}`);
  const authorizers: Record<string, JwtAuthorizerConfig> = checked.table.authorizers;
  const hmac = Object.entries(authorizers).filter(([, a]) => a.secret !== undefined);
  const [name, authorizer] = args.authorizer !== undefined
    ? hmac.find(([n]) => n === args.authorizer) ?? (() => { throw new Error(`${args.routes} has no HS256/384/512 authorizer named "${args.authorizer}" (with a secret)`); })()
    : hmac.length === 1 ? hmac[0]! : (() => { throw new Error(hmac.length === 0 ? `${args.routes} has no authorizer with a secret (HS256/384/512) to mint for` : `${args.routes} has several HMAC authorizers: pick one with --authorizer (${hmac.map(([n]) => n).join(", ")})`); })();
  const secretName = authorizer.secret!.env;
  const secret = localSecret(secretName);
  if (!secret) throw new Error(`${secretName} (the secret of authorizer "${name}") is not in the environment or .dev.vars; see docs/local-development.md`);
  const alg = authorizer.algorithms[0]!;
  const claims: Record<string, unknown> = { ...args.claims };
  if (args.scopes.length > 0) claims.scope = args.scopes.join(" ");
  const jwt = new SignJWT(claims as never)
    .setProtectedHeader({ alg, typ: "JWT" })
    .setIssuer(authorizer.issuer)
    .setAudience(Array.isArray(authorizer.audience) ? authorizer.audience[0]! : authorizer.audience)
    .setIssuedAt()
    .setExpirationTime(args.expires);
  if (args.sub !== undefined) jwt.setSubject(args.sub);
  return jwt.sign(keyBytes(secret, authorizer.secretEncoding));
}

if (import.meta.main) {
  try {
    console.log(await mintToken(parseTokenArgs(process.argv.slice(2))));
  } catch (err) {
    exitOnError(err);
  }
}
