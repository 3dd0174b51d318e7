/** routes.json pieces owned by the JWT authorizer (issue 3). */
import { z } from "zod";
import { SecretRef } from "../../config/common.ts";

export const JWT_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519", "HS256", "HS384", "HS512"] as const;
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

// A Sec-WebSocket-Protocol entry is an HTTP token; the prefix must be one too, so `<prefix><token>` is.
const PROTOCOL_PREFIX = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$/;
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,128}$/;

export const TokenSource = z.union([
  z.strictObject({ header: z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, "must be an HTTP header name").transform((s) => s.toLowerCase()) })
    .describe("A header holding `Bearer <token>` (default: authorization)."),
  z.strictObject({ cookie: z.string().regex(COOKIE_NAME, "must be a cookie name") }).describe("A cookie holding the token."),
  z.strictObject({ query: z.string().min(1).max(128) }).describe("A query parameter (opt-in; meant for browser WebSocket upgrades)."),
  z.strictObject({ webSocketProtocol: z.string().regex(PROTOCOL_PREFIX, "must be a token prefix such as \"bearer.\"") })
    .describe("A Sec-WebSocket-Protocol entry `<prefix><token>`, e.g. prefix \"bearer.\" (opt-in; browsers cannot set headers on WebSocket upgrades)."),
]);
export type TokenSource = z.output<typeof TokenSource>;

// JWK members that carry private or secret key material: never in routes.json.
const PRIVATE_JWK_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

export const JwtAuthorizerSchema = z.strictObject({
  type: z.literal("jwt"),
  issuer: z.string().min(1).describe("Required `iss`."),
  audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).describe("Accepted `aud` values (the token needs one of them)."),
  algorithms: z.array(z.enum(JWT_ALGORITHMS)).min(1).describe("Accepted `alg` values; required and explicit."),
  jwksUrl: z.url({ protocol: /^https?$/ }).optional().describe("Remote JWKS, cached (Cache-Control max-age, 60 s to 24 h, default 10 min) and refetched on an unknown kid at most once per 30 s."),
  jwks: z.strictObject({ keys: z.array(z.record(z.string(), z.unknown())).min(1) }).optional().describe("Inline JWKS (public keys only)."),
  publicKey: z.string().optional().describe("Inline PEM public key (SPKI, `-----BEGIN PUBLIC KEY-----`)."),
  secret: SecretRef.optional().describe("HMAC secret held in a Worker secret."),
  secretEncoding: z.enum(["utf8", "base64", "base64url"]).optional()
    .describe("How the Worker secret's text becomes key bytes. Default utf8 (the secret's characters are the key)."),
  clockToleranceSec: z.number().int().min(0).max(300).default(30).describe("Leeway for exp/nbf, seconds. Default 30."),
  tokenSources: z.array(TokenSource).min(1).optional().describe("Where to read the token, in order; the first source present is used. Default: Authorization header."),
}).superRefine((a, ctx) => {
  const sources = [a.jwksUrl, a.jwks, a.publicKey, a.secret].filter((s) => s !== undefined).length;
  if (sources !== 1) ctx.addIssue({ code: "custom", message: "needs exactly one key source: jwksUrl, jwks, publicKey or secret" });
  const hmac = a.algorithms.filter((alg) => alg.startsWith("HS"));
  if (a.secret && hmac.length !== a.algorithms.length) ctx.addIssue({ code: "custom", path: ["algorithms"], message: "a secret verifies HS* algorithms only" });
  if (!a.secret && hmac.length > 0) ctx.addIssue({ code: "custom", path: ["algorithms"], message: "HS* algorithms need a secret (never a public key: algorithm confusion)" });
  if (a.secretEncoding !== undefined && !a.secret) ctx.addIssue({ code: "custom", path: ["secretEncoding"], message: "only applies to a secret" });
  a.jwks?.keys.forEach((key, i) => {
    const secret = PRIVATE_JWK_MEMBERS.filter((m) => Object.hasOwn(key, m));
    if (secret.length > 0)
      ctx.addIssue({ code: "custom", path: ["jwks", "keys", i], message: `holds private or secret key material (${secret.join(", ")}): publish public keys only; HMAC secrets belong in a Worker secret` });
    if (typeof key.kty !== "string") ctx.addIssue({ code: "custom", path: ["jwks", "keys", i, "kty"], message: "required" });
  });
  if (a.publicKey !== undefined && !/^\s*-----BEGIN PUBLIC KEY-----[\s\S]+-----END PUBLIC KEY-----\s*$/.test(a.publicKey))
    ctx.addIssue({ code: "custom", path: ["publicKey"], message: "must be a PEM SPKI public key (-----BEGIN PUBLIC KEY-----)" });
});
export type JwtAuthorizerConfig = z.output<typeof JwtAuthorizerSchema>;

const ClaimValue = z.union([z.string(), z.number(), z.boolean()]);
export const ClaimRequirement = z.union([
  ClaimValue.describe("The claim equals this value."),
  z.strictObject({ contains: ClaimValue }).describe("The claim is an array containing this value (or a space-separated string containing it)."),
  z.strictObject({ in: z.array(ClaimValue).min(1) }).describe("The claim equals one of these values."),
]);
export type ClaimRequirement = z.output<typeof ClaimRequirement>;
