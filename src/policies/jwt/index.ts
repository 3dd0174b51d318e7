/** JWT authorizers (issue 3): the route policy, the verifier, and the helpers other capabilities use. */
export { jwtAuthorizer, jwtPolicies, verifyRequest, verifierFor, identityHeaderValue } from "./policy.ts";
export { JwtVerifier, MAX_TOKEN_LENGTH, type JwtClaims, type VerifyOptions } from "./verifier.ts";
export { JwtRejection, type JwtErrorCode, type JwtRejectReason } from "./errors.ts";
export { grantedScopes } from "./requirements.ts";
export { JwtAuthorizerSchema, TokenSource, ClaimRequirement, JWT_ALGORITHMS } from "./schema.ts";
