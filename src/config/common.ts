import { z } from "zod";

/** A reference to a Worker secret. A literal secret value in routes.json is a config error. */
export const SecretRef = z.strictObject({
  env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, "must be the name of a Worker secret (upper case)"),
}, {
  error: (issue) => typeof issue.input === "string"
    ? `secrets live in Worker secrets, never in routes.json: write { "env": "SECRET_NAME" } and run \`wrangler secret put SECRET_NAME\``
    : undefined,
}).describe("The name of a Worker secret: { \"env\": \"NAME\" }.");
export type SecretRef = z.output<typeof SecretRef>;

export const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
export const headerName = z.string().regex(HEADER_NAME, "must be an HTTP header name").transform((s) => s.toLowerCase());

/** A JSON object of a config not yet validated: read with the guards below. */
export type Loose = Record<string, unknown>;
export const NAMES_OF = (v: unknown): Set<string> => new Set(isObject(v) ? Object.keys(v) : []);
export const isObject = (v: unknown): v is Loose => typeof v === "object" && v !== null && !Array.isArray(v);
export const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
