/** routes.json pieces owned by the JWT authorizer (issue 3). */
import { z } from "zod";
import { SecretRef } from "../../config/common.ts";

export const JWT_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519", "HS256", "HS384", "HS512"] as const;

export const TokenSource = z.union([
  z.strictObject({ header: z.string() }).describe("A header holding `Bearer <token>` (default: authorization)."),
  z.strictObject({ cookie: z.string() }).describe("A cookie holding the token."),
  z.strictObject({ query: z.string() }).describe("A query parameter (opt-in; meant for browser WebSocket upgrades)."),
  z.strictObject({ webSocketProtocol: z.string() }).describe("A Sec-WebSocket-Protocol entry `<prefix><token>` (opt-in)."),
]);

export const JwtAuthorizerSchema = z.strictObject({
  type: z.literal("jwt"),
  issuer: z.string().min(1).describe("Required `iss`."),
  audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).describe("Accepted `aud` values."),
  algorithms: z.array(z.enum(JWT_ALGORITHMS)).min(1).describe("Accepted `alg` values; required and explicit."),
  jwksUrl: z.url({ protocol: /^https?$/ }).optional().describe("Remote JWKS, cached and refetched on an unknown kid."),
  jwks: z.strictObject({ keys: z.array(z.record(z.string(), z.unknown())).min(1) }).optional().describe("Inline JWKS (public keys only)."),
  publicKey: z.string().optional().describe("Inline PEM public key (SPKI)."),
  secret: SecretRef.optional().describe("HMAC secret held in a Worker secret."),
  clockToleranceSec: z.number().int().min(0).max(300).default(30).describe("Leeway for exp/nbf/iat, seconds. Default 30."),
  tokenSources: z.array(TokenSource).min(1).optional().describe("Where to read the token, in order. Default: Authorization header."),
}).superRefine((a, ctx) => {
  const sources = [a.jwksUrl, a.jwks, a.publicKey, a.secret].filter((s) => s !== undefined).length;
  if (sources !== 1) ctx.addIssue({ code: "custom", message: "needs exactly one key source: jwksUrl, jwks, publicKey or secret" });
  const hmac = a.algorithms.filter((alg) => alg.startsWith("HS"));
  if (a.secret && hmac.length !== a.algorithms.length) ctx.addIssue({ code: "custom", path: ["algorithms"], message: "a secret verifies HS* algorithms only" });
  if (!a.secret && hmac.length > 0) ctx.addIssue({ code: "custom", path: ["algorithms"], message: "HS* algorithms need a secret (never a public key: algorithm confusion)" });
});
export type JwtAuthorizerConfig = z.output<typeof JwtAuthorizerSchema>;

const ClaimValue = z.union([z.string(), z.number(), z.boolean()]);
export const ClaimRequirement = z.union([
  ClaimValue.describe("The claim equals this value."),
  z.strictObject({ contains: ClaimValue }).describe("The claim is an array containing this value (or a space-separated string containing it)."),
  z.strictObject({ in: z.array(ClaimValue).min(1) }).describe("The claim equals one of these values."),
]);
